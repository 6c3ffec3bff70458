package chisess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"

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
	{"binary keys", meta{created: 5, seen: 6, gen: 7, flags: 8}, []entry{
		{key: []byte{0, 0xff, 0x80, '\n'}, val: []byte{'y', 0, 1, 2}},
		{key: []byte("\x00flash"), val: []byte("c[]")},
	}},
	{"large value", meta{created: 1, seen: 1}, []entry{{key: []byte("big"), val: bytes.Repeat([]byte{'y', 0xAA}, 10_000)}}},
	{"many entries", meta{created: 10, seen: 20, gen: 30}, manyEntries(300)},
	{"extreme meta", meta{created: math.MaxInt64, seen: math.MaxInt64, gen: math.MaxUint64, flags: math.MaxUint64}, manyEntries(2)},
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
