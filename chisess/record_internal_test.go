package chisess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/matryer/is"
)

// Internal tests of the pure record functions: the stored form is not part
// of the API, so it is tested here rather than through requests.

// appendRecord is the stored form of a record with md and entries.
func appendRecord(dst []byte, md meta, entries []entry) []byte {
	r := record{meta: md, entries: entries}
	for _, e := range entries {
		r.size += e.size()
	}
	return r.appendTo(dst)
}

// split decodes a record into its metadata and entries.
func split(b []byte) (meta, []entry, error) {
	r, err := decodeRecord(b)
	return r.meta, r.entries, err
}

func manyEntries(n int) []entry {
	es := make([]entry, n)
	for i := range es {
		es[i] = entry{key: fmt.Appendf(nil, "key-%d", i), val: fmt.Appendf(nil, "s value %d", i)}
	}
	return es
}

var recordRoundTrips = []struct {
	name    string
	meta    meta
	entries []entry
}{
	{"no entries", meta{created: 1, seen: 2, gen: 3}, nil},
	{"zero meta", meta{}, nil},
	{"one entry", meta{created: 946684800000, seen: 946684800001, gen: 42}, []entry{{key: []byte("user"), val: []byte("salice")}}},
	{"empty key", meta{created: 1, seen: 1}, []entry{{key: []byte{}, val: []byte("b\x01")}}},
	{"binary keys", meta{created: 5, seen: 6, gen: 7, flags: flagRemember}, []entry{
		{key: []byte{0, 0xff, 0x80, '\n'}, val: []byte{'y', 0, 1, 2}},
		{key: []byte("\x00flash"), val: []byte("c[]")},
	}},
	{"large value", meta{created: 1, seen: 1}, []entry{{key: []byte("big"), val: bytes.Repeat([]byte{'y', 0xAA}, 10_000)}}},
	{"many entries", meta{created: 10, seen: 20, gen: 30}, manyEntries(300)},
	{"own lifetime", meta{created: 1700000000000, seen: 1700000600000, gen: 9, flags: flagLifetime, renewed: 1700000000000, lifetime: 15 * 60 * 1000, since: 1700000300000}, manyEntries(2)},
	{"own lifetime of zero, remembered", meta{created: 1, seen: 2, gen: 3, flags: flagLifetime | flagRemember, since: 2}, manyEntries(1)},
	{"extreme meta", meta{created: math.MaxInt64, seen: math.MaxInt64, gen: math.MaxUint64, flags: knownFlags, renewed: math.MaxInt64, lifetime: maxLifetimeMillis, since: math.MaxInt64}, manyEntries(2)},
}

func TestRecordRoundTrip(t *testing.T) {
	is := is.New(t)
	for _, tt := range recordRoundTrips {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b := appendRecord(nil, tt.meta, tt.entries)
			md, es, err := split(b)
			is.NoErr(err)                      // a record made by appendRecord decodes
			is.Equal(md, tt.meta)              // metadata survives the round trip
			is.Equal(len(es), len(tt.entries)) // every entry survives
			for i := range es {
				is.True(bytes.Equal(es[i].key, tt.entries[i].key)) // key i is unchanged
				is.True(bytes.Equal(es[i].val, tt.entries[i].val)) // value i is unchanged
			}
		})
	}
}

func TestAppendRecordKeepsPrefix(t *testing.T) {
	is := is.New(t)
	prefix := []byte("token-bytes")
	b := appendRecord(bytes.Clone(prefix), meta{created: 1, seen: 2}, manyEntries(3))
	is.True(bytes.HasPrefix(b, prefix)) // appendRecord appends after what dst already holds
	md, es, err := split(b[len(prefix):])
	is.NoErr(err)               // the appended part is a whole record
	is.Equal(md.seen, int64(2)) // with its metadata
	is.Equal(len(es), 3)        // and its entries
}

func TestDecodeRecordRejectsEveryTruncation(t *testing.T) {
	is := is.New(t)
	for _, tt := range recordRoundTrips {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b := appendRecord(nil, tt.meta, tt.entries)
			for n := range len(b) {
				_, _, err := split(b[:n])
				if !errors.Is(err, errBadRecord) {
					is.Fail() // every proper prefix of a record must be rejected as malformed
				}
			}
		})
	}
}

// rawRecord builds a record by hand, to make ones appendRecord never would.
func rawRecord(version byte, uvarints ...uint64) []byte {
	b := []byte{version}
	for _, v := range uvarints {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func TestDecodeRecordRejectsMalformed(t *testing.T) {
	is := is.New(t)
	valid := appendRecord(nil, meta{created: 1, seen: 2, gen: 3}, []entry{{key: []byte("k"), val: []byte("sv")}})
	overlong := append([]byte{recordVersion}, bytes.Repeat([]byte{0x80}, 10)...)
	overlong = append(overlong, 0x02) // an 11-byte uvarint overflows uint64
	tests := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"version 0", append([]byte{0}, valid[1:]...)},
		{"version 2", append([]byte{2}, valid[1:]...)},
		{"version 0xff", append([]byte{0xff}, valid[1:]...)},
		{"trailing byte", append(bytes.Clone(valid), 0)},
		{"trailing garbage", append(bytes.Clone(valid), "garbage"...)},
		{"count larger than data", rawRecord(recordVersion, 1, 2, 3, 0, 5, 1, 'k', 1)},
		{"count far larger than data", rawRecord(recordVersion, 1, 2, 3, 0, math.MaxUint64)},
		{"count above maxEntries", append(rawRecord(recordVersion, 1, 2, 3, 0, maxEntries+1), make([]byte, 2*(maxEntries+1))...)},
		{"empty value", rawRecord(recordVersion, 1, 2, 3, 0, 1, 1, 'k', 0)},
		{"key length past end", rawRecord(recordVersion, 1, 2, 3, 0, 1, 200, 'k')},
		{"value length past end", append(rawRecord(recordVersion, 1, 2, 3, 0, 1, 1, 'k', 9), 's')},
		{"key length overflows", rawRecord(recordVersion, 1, 2, 3, 0, 1, math.MaxUint64, 0)},
		{"overlong uvarint", overlong},
		{"negative created", rawRecord(recordVersion, 1<<63, 2, 3, 0, 0)},
		{"negative seen", rawRecord(recordVersion, 1, 1<<63, 3, 0, 0)},
		{"only the version", []byte{recordVersion}},
		{"unknown flag", rawRecord(recordVersion, 1, 2, 3, 1<<2, 5, 0)},
		{"highest flag", rawRecord(recordVersion, 1, 2, 3, 1<<63|flagRemember, 5, 0)},
		{"lifetime missing", rawRecord(recordVersion, 1, 2, 3, flagLifetime, 5)},
		{"since missing", rawRecord(recordVersion, 1, 2, 3, flagLifetime, 5, 1000)},
		{"count missing after the lifetime", rawRecord(recordVersion, 1, 2, 3, flagLifetime, 5, 1000, 2)},
		{"lifetime longer than a time.Duration", rawRecord(recordVersion, 1, 2, 3, flagLifetime, 5, uint64(maxLifetimeMillis)+1, 2, 0)},
		{"negative lifetime", rawRecord(recordVersion, 1, 2, 3, flagLifetime, 5, 1<<63, 2, 0)},
		{"negative since", rawRecord(recordVersion, 1, 2, 3, flagLifetime, 5, 1000, 1<<63, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			md, es, err := split(tt.b)
			is.True(errors.Is(err, errBadRecord)) // a malformed record is reported as errBadRecord
			is.Equal(es, nil)                     // and yields no entries
			_ = md
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, tt := range recordRoundTrips {
		b := appendRecord(nil, tt.meta, tt.entries)
		if len(b) > 1024 {
			continue // large seeds slow every mutation down
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{recordVersion})
	f.Add(rawRecord(recordVersion, 1, 2, 3, 0, 5, 1, 'k', 1))
	f.Add(v1Record)
	f.Add(rawRecord(recordVersion, 1, 2, 3, flagLifetime, 5, 1000, 2, 1, 1, 'k', 2, 's', 'v'))
	f.Add(rawRecord(recordVersion, 1, 2, 3, 1<<2, 5, 0))
	f.Add(rawRecord(recordVersion, 1, 2, 3, flagLifetime, 5, uint64(maxLifetimeMillis)+1, 2, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, es, err := split(b)
		if err != nil {
			if !errors.Is(err, errBadRecord) {
				t.Fatalf("decodeRecord error %v does not wrap errBadRecord", err)
			}
			return
		}
		// What decodes must re-encode to a record that decodes the same.
		again := appendRecord(nil, md, es)
		md2, es2, err := split(again)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if md2 != md {
			t.Fatalf("meta changed on re-encode: %+v, then %+v", md, md2)
		}
		if len(es2) != len(es) {
			t.Fatalf("entry count changed on re-encode: %d, then %d", len(es), len(es2))
		}
		for i := range es {
			if !bytes.Equal(es[i].key, es2[i].key) || !bytes.Equal(es[i].val, es2[i].val) {
				t.Fatalf("entry %d changed on re-encode", i)
			}
		}
	})
}

// v1Record is a session record as chisess stored it before sessions had a
// lifetime of their own (commit 563b66a wrote these very bytes): created
// 2023-11-14 22:13:20 UTC, last used ten minutes later, renewed five
// minutes after creation, remembered, holding user "ada" and visits 3.
var v1Record = []byte{
	0x01,                               // version 1
	0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31, // created 1700000000000
	0xc0, 0x9f, 0xba, 0xff, 0xbc, 0x31, // seen 1700000600000
	0xef, 0x9b, 0xaf, 0xcd, 0xf8, 0xac, 0xd1, 0x91, 0x01, // gen 0x0123456789abcdef
	0x01,                               // flags: remembered
	0xe0, 0xf7, 0xa7, 0xff, 0xbc, 0x31, // renewed 1700000300000
	0x02,                                               // two entries
	0x04, 'u', 's', 'e', 'r', 0x04, 's', 'a', 'd', 'a', // "user": the string "ada"
	0x06, 'v', 'i', 's', 'i', 't', 's', 0x02, 'i', 0x06, // "visits": the int 3
}

// A record stored before sessions had a lifetime of their own loads with
// the same metadata and entries, means the same expiry (a remembered
// session: RememberFor from its creation, no idle timeout), and is written
// back byte for byte as it was.
func TestRecordOfVersion1LoadsUnchanged(t *testing.T) {
	is := is.New(t)
	r, err := decodeRecord(v1Record)
	is.NoErr(err) // the stored record loads
	is.Equal(r.meta, meta{created: 1700000000000, seen: 1700000600000, gen: 0x0123456789abcdef, flags: flagRemember, renewed: 1700000300000})
	is.Equal(len(r.entries), 2)
	user, err := decodeValue[string](r.entries[0].val, JSONCodec)
	is.NoErr(err)
	is.Equal(string(r.entries[0].key)+"="+user, "user=ada")
	visits, err := decodeValue[int](r.entries[1].val, JSONCodec)
	is.NoErr(err)
	is.Equal(string(r.entries[1].key)+"="+fmt.Sprint(visits), "visits=3")
	is.True(bytes.Equal(r.appendTo(nil), v1Record)) // and is written back byte for byte

	m, err := New(Config{Secret: strings.Repeat("k", 32), IdleTimeout: time.Hour})
	is.NoErr(err)
	lifetime, base := m.lifetimeOf(r.meta)
	is.Equal(lifetime, DefaultRememberFor)                                    // a remembered session lives for RememberFor
	is.Equal(base, r.meta.created)                                            // from its creation
	is.Equal(m.expiresAt(r.meta), r.meta.createdAt().Add(DefaultRememberFor)) // with no idle timeout
}

// A v1 record is found where earlier releases put it, on a server-side
// backend and in a sealed cookie, and opens as the session it was.
func TestRecordOfVersion1OpensOnEveryBackend(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		t.Run(fmt.Sprint("sealed ", sealed), func(t *testing.T) {
			is := is.New(t)
			cfg := Config{Secret: strings.Repeat("k", 32)}
			store := backend.NewMemoryWithCleanup(0)
			if !sealed {
				cfg.Backend = store
			}
			m, err := New(cfg)
			is.NoErr(err)
			created := time.UnixMilli(1700000000000)
			m.now = func() time.Time { return created.Add(time.Hour) }
			token := newToken()
			value := token
			if sealed {
				raw, _ := parseToken(token)
				b, err := m.sealer.AppendSeal(nil, m.cfg.CookieName, append(raw[:], v1Record...), created, created.Add(DefaultRememberFor))
				is.NoErr(err)
				value = string(b)
			} else {
				key, _ := m.storageKey(token)
				is.NoErr(store.Write(t.Context(), key, v1Record, time.Hour))
			}
			s, err := m.Inspect(t.Context(), value)
			is.NoErr(err) // the session opens
			user, err := Get[string](s, "user")
			is.NoErr(err)
			is.Equal(user, "ada") // with its values
			is.True(s.Remembered())
			is.Equal(s.Lifetime(), DefaultRememberFor)
			is.Equal(s.ExpiresAt(), created.Add(DefaultRememberFor)) // and its expiry
		})
	}
}

// A release that ignored the flags (every release before flagLifetime)
// reads a record with a lifetime as if the flag were not there: it must
// refuse it as malformed, never take it for another session. Here that
// reader is decodeRecord with the flag masked out of the record.
func TestRecordWithLifetimeRefusedByEarlierReader(t *testing.T) {
	now := int64(1700000000000)
	for _, lifetime := range []int64{0, 1, 1000, maxEntries, 15 * 60 * 1000, 90 * 24 * 3600 * 1000, maxLifetimeMillis} {
		for _, entries := range []int{0, 1, 3000} {
			t.Run(fmt.Sprint(lifetime, "ms ", entries, " entries"), func(t *testing.T) {
				is := is.New(t)
				md := meta{created: now, seen: now, gen: math.MaxUint64, flags: flagLifetime, renewed: now, lifetime: lifetime, since: now}
				b := appendRecord(nil, md, manyEntries(entries))
				_, err := decodeRecord(b)
				is.NoErr(err) // this release reads it
				flags := 1 + uvarintLen(int(now))*2 + binary.MaxVarintLen64
				is.Equal(b[flags], byte(flagLifetime))
				b[flags] = 0
				_, err = decodeRecord(b)
				is.True(errors.Is(err, errBadRecord)) // an earlier one refuses it
			})
		}
	}
}
