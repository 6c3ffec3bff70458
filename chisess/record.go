package chisess

import (
	"encoding/binary"
	"errors"
	"time"
)

// The stored form of a session, the same for every backend (for the cookie
// backend it is the sealed payload):
//
//	version   1 byte (recordVersion)
//	created   uvarint, Unix milliseconds
//	seen      uvarint, Unix milliseconds of the last recorded use
//	gen       uvarint, random generation marker of this session's life
//	flags     uvarint, reserved bits (remember-me and friends)
//	renewed   uvarint, Unix milliseconds of the last change of ID
//	count     uvarint, number of entries
//	entries   count × (uvarint key length, key, uvarint value length, value)
//
// Loading splits the entries without decoding any value: each value is
// decoded only when Get asks for it.

const recordVersion = 1

// maxEntries bounds the entry count a record may claim, so a hostile or
// corrupt record cannot make decodeRecord allocate without limit.
const maxEntries = 1 << 16

var errBadRecord = errors.New("chisess: stored session record is malformed")

// flagRemember marks a session the user asked to be remembered: its cookie
// persists for Config.RememberFor and IdleTimeout does not apply to it.
const flagRemember = 1 << 0

type meta struct {
	created int64 // Unix ms
	seen    int64 // Unix ms
	gen     uint64
	flags   uint64
	renewed int64 // Unix ms
}

func (m meta) createdAt() time.Time { return time.UnixMilli(m.created) }
func (m meta) seenAt() time.Time    { return time.UnixMilli(m.seen) }

type entry struct {
	key   []byte // may point into the loaded record
	val   []byte // tag byte + payload; may point into the loaded record
	dirty bool   // set by this request
}

func appendMeta(dst []byte, m meta) []byte {
	dst = append(dst, recordVersion)
	dst = binary.AppendUvarint(dst, uint64(max(m.created, 0)))
	dst = binary.AppendUvarint(dst, uint64(max(m.seen, 0)))
	dst = binary.AppendUvarint(dst, m.gen)
	dst = binary.AppendUvarint(dst, m.flags)
	dst = binary.AppendUvarint(dst, uint64(max(m.renewed, 0)))
	return dst
}

// appendRecord appends the stored form of a session to dst.
func appendRecord(dst []byte, m meta, entries []entry) []byte {
	size := 1 + 5*binary.MaxVarintLen64 + binary.MaxVarintLen32
	for _, e := range entries {
		size += 2*binary.MaxVarintLen32 + len(e.key) + len(e.val)
	}
	if cap(dst)-len(dst) < size {
		nd := make([]byte, len(dst), len(dst)+size)
		copy(nd, dst)
		dst = nd
	}
	dst = appendMeta(dst, m)
	dst = binary.AppendUvarint(dst, uint64(len(entries)))
	for _, e := range entries {
		dst = binary.AppendUvarint(dst, uint64(len(e.key)))
		dst = append(dst, e.key...)
		dst = binary.AppendUvarint(dst, uint64(len(e.val)))
		dst = append(dst, e.val...)
	}
	return dst
}

// decodeRecord splits a stored record into its metadata and entries. The
// entries point into b; no value is decoded.
func decodeRecord(b []byte) (meta, []entry, error) {
	var m meta
	if len(b) == 0 || b[0] != recordVersion {
		return m, nil, errBadRecord
	}
	r := reader{b: b[1:]}
	m.created = int64(r.uvarint())
	m.seen = int64(r.uvarint())
	m.gen = r.uvarint()
	m.flags = r.uvarint()
	m.renewed = int64(r.uvarint())
	n := r.uvarint()
	// Each entry takes at least two bytes, which bounds a lying count.
	if r.bad || n > maxEntries || n > uint64(len(r.b))/2 {
		return m, nil, errBadRecord
	}
	entries := make([]entry, 0, n)
	for range n {
		k := r.bytes()
		v := r.bytes()
		if r.bad || len(v) == 0 {
			return m, nil, errBadRecord
		}
		entries = append(entries, entry{key: k, val: v})
	}
	if r.bad || len(r.b) != 0 || m.created < 0 || m.seen < 0 || m.renewed < 0 {
		return m, nil, errBadRecord
	}
	return m, entries, nil
}

type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		r.b = nil
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}
