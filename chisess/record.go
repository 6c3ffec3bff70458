package chisess

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// This file holds how sessions are stored: tokens and the keys a
// server-side backend stores them under, the record of a session (the same
// for every backend; for the cookie backend it is the sealed payload), and
// the forward record that replaces a renewed session's old key for a while.
//
// A session record:
//
//	version   1 byte (recordVersion)
//	created   uvarint, Unix milliseconds
//	seen      uvarint, Unix milliseconds of the last recorded use
//	gen       uvarint, random generation marker of this session's life
//	flags     uvarint, flagRemember and flagLifetime; any other bit is refused
//	renewed   uvarint, Unix milliseconds of the last change of token
//	lifetime  uvarint, milliseconds, only with flagLifetime: the session's own
//	          lifetime (Session.SetLifetime)
//	since     uvarint, Unix milliseconds, only with flagLifetime: when it
//	          was set, which it counts from
//	count     uvarint, number of entries
//	entries   count × (uvarint key length, key, uvarint value length, value)
//
// Loading splits the entries without decoding any value: each value is
// decoded only when Get asks for it.
//
// A record without flagLifetime is byte for byte what earlier releases
// write and read, so sessions they stored load unchanged. A field added
// later comes with a flag bit of its own, which this release refuses: a
// record it cannot read in full is malformed to it, never misread. An
// earlier release, which ignored the flags, takes the lifetime for the
// entry count and the time after it for a key length far past the end of
// the record, and refuses a record with a lifetime as malformed too.

const recordVersion = 1

// maxEntries bounds the entry count a record may claim, so a hostile or
// corrupt record cannot make decodeRecord allocate without limit. New
// refuses a Config.MaxKeys above it, so every session a commit writes can be
// read back.
const maxEntries = 1 << 16

var errBadRecord = errors.New("chisess: stored session record is malformed")

// flagRemember marks a session the user asked to be remembered: its cookie
// persists for Config.RememberFor and IdleTimeout does not apply to it.
const flagRemember = 1 << 0

// flagLifetime marks a session with a lifetime of its own
// (Session.SetLifetime): the record carries it, and when it was set.
const flagLifetime = 1 << 1

// knownFlags are the flag bits this release reads.
const knownFlags = flagRemember | flagLifetime

// maxLifetimeMillis is the longest lifetime a record may carry, in
// milliseconds: the longest time.Duration.
const maxLifetimeMillis = int64(math.MaxInt64 / time.Millisecond)

type meta struct {
	created int64 // Unix ms
	seen    int64 // Unix ms
	gen     uint64
	flags   uint64
	renewed int64 // Unix ms
	// With flagLifetime: the session's own lifetime, in ms, and when it
	// was set, in Unix ms; zero without.
	lifetime int64
	since    int64
}

func (m meta) createdAt() time.Time { return time.UnixMilli(m.created) }
func (m meta) seenAt() time.Time    { return time.UnixMilli(m.seen) }

type entry struct {
	key   []byte // may point into the loaded record
	val   []byte // tag byte + payload; may point into the loaded record
	dirty bool   // set by this request
}

// size is what the entry adds to an encoded record.
func (e entry) size() int { return entrySize(len(e.key), len(e.val)) }

// entrySize is what an entry with a key and a value of these lengths adds
// to an encoded record.
func entrySize(key, val int) int { return uvarintLen(key) + key + uvarintLen(val) + val }

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// record is a session as stored: its metadata and its entries.
type record struct {
	meta    meta
	entries []entry
	size    int // the encoded size of the entries
}

// newRecord returns the record of a new, empty session created at now.
func newRecord(now time.Time) record {
	ms := now.UnixMilli()
	return record{meta: meta{created: ms, seen: ms, gen: newGen(), renewed: ms}}
}

func newGen() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// find returns the index of key in r.entries, or -1.
func (r *record) find(key string) int {
	for i := range r.entries {
		if string(r.entries[i].key) == key {
			return i
		}
	}
	return -1
}

// set stores val under key, at index i when the key is there already (as
// find reports it), marking the entry as changed by this request.
func (r *record) set(i int, key string, val []byte) {
	if i >= 0 {
		e := &r.entries[i]
		r.size += len(val) - len(e.val) + uvarintLen(len(val)) - uvarintLen(len(e.val))
		e.val, e.dirty = val, true
		return
	}
	e := entry{key: []byte(key), val: val, dirty: true}
	r.entries = append(r.entries, e)
	r.size += e.size()
}

// remove deletes the entry at index i.
func (r *record) remove(i int) {
	r.size -= r.entries[i].size()
	r.entries = append(r.entries[:i], r.entries[i+1:]...)
}

// extent is how much a session holds: its keys, and the bytes of its
// encoded entries, as the limits count them.
type extent struct{ keys, bytes int }

func (r *record) extent() extent { return extent{len(r.entries), r.size} }

// encodedLen bounds the length of r's stored form from above. Five
// uvarints of the longest kind bound the metadata, whose seven uvarints
// take 46 bytes at most while its times stay below 2^49 ms (the year
// 19,800): 10 for gen, 1 for the flags, and 7 for each of the four times
// and the lifetime, a time.Duration below 2^44 ms.
func (r *record) encodedLen() int {
	return 1 + 7*binary.MaxVarintLen64 + binary.MaxVarintLen32 + r.size
}

// appendTo appends the stored form of r to dst.
func (r *record) appendTo(dst []byte) []byte {
	if n := r.encodedLen(); cap(dst)-len(dst) < n {
		nd := make([]byte, len(dst), len(dst)+n)
		copy(nd, dst)
		dst = nd
	}
	m := r.meta
	dst = append(dst, recordVersion)
	dst = binary.AppendUvarint(dst, uint64(max(m.created, 0)))
	dst = binary.AppendUvarint(dst, uint64(max(m.seen, 0)))
	dst = binary.AppendUvarint(dst, m.gen)
	dst = binary.AppendUvarint(dst, m.flags)
	dst = binary.AppendUvarint(dst, uint64(max(m.renewed, 0)))
	if m.flags&flagLifetime != 0 {
		dst = binary.AppendUvarint(dst, uint64(max(m.lifetime, 0)))
		dst = binary.AppendUvarint(dst, uint64(max(m.since, 0)))
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.entries)))
	for _, e := range r.entries {
		dst = binary.AppendUvarint(dst, uint64(len(e.key)))
		dst = append(dst, e.key...)
		dst = binary.AppendUvarint(dst, uint64(len(e.val)))
		dst = append(dst, e.val...)
	}
	return dst
}

// decodeRecord splits a stored record into its metadata and entries. The
// entries point into b; no value is decoded.
func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) == 0 || b[0] != recordVersion {
		return r, errBadRecord
	}
	rd := reader{b: b[1:]}
	m := &r.meta
	m.created = int64(rd.uvarint())
	m.seen = int64(rd.uvarint())
	m.gen = rd.uvarint()
	m.flags = rd.uvarint()
	m.renewed = int64(rd.uvarint())
	if m.flags&flagLifetime != 0 {
		m.lifetime = int64(rd.uvarint())
		m.since = int64(rd.uvarint())
	}
	n := rd.uvarint()
	// Each entry takes at least two bytes, which bounds a lying count.
	if rd.bad || n > maxEntries || n > uint64(len(rd.b))/2 || m.flags&^knownFlags != 0 ||
		m.lifetime < 0 || m.lifetime > maxLifetimeMillis || m.since < 0 {
		return record{}, errBadRecord
	}
	r.size = len(rd.b)
	r.entries = make([]entry, 0, n)
	for range n {
		k := rd.bytes()
		v := rd.bytes()
		if rd.bad || len(v) == 0 {
			return record{}, errBadRecord
		}
		r.entries = append(r.entries, entry{key: k, val: v})
	}
	if rd.bad || len(rd.b) != 0 || m.created < 0 || m.seen < 0 || m.renewed < 0 {
		return record{}, errBadRecord
	}
	return r, nil
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

// A forward record replaces the record of a session whose token was
// renewed, for Config.RenewGrace. It names the storage key of the new
// token, so that a logout by a request that loaded the session under its
// old token (or "log out everywhere", which knows only keys) can follow the
// renewal and end the session where it lives now. After a periodic renewal
// (Config.RenewEvery) it is also loadable: it holds the new token sealed
// under a key derived from the old one, so only a client that holds the old
// token can follow it to the session, and a leaked store still yields no
// usable token. After RenewToken it is not loadable, so a token planted
// before login is dead at once.
//
//	version  1 byte (forwardVersion)
//	next     uvarint length, the storage key of the new token
//	sealed   the rest: the new token sealed under the old one; empty when
//	         the record is not loadable
const forwardVersion = 3

// forwardName is the authenticated name the new token is sealed under.
const forwardName = "chisess forward"

type forward struct {
	next   string // the storage key of the session's new token
	sealed []byte // the new token sealed under the old one; nil: not loadable
}

// forwardRecord returns the forward record from oldToken to newToken (whose
// key is next), loadable until expires when loadable is set.
func forwardRecord(oldToken, newToken, next string, loadable bool, now, expires time.Time) ([]byte, error) {
	b := append([]byte{forwardVersion}, byte(len(next)))
	b = append(b, next...)
	if !loadable {
		return b, nil
	}
	sealer, err := backend.NewSealer(oldToken)
	if err != nil {
		return nil, err
	}
	v, err := sealer.Seal(forwardName, []byte(newToken), now, expires)
	if err != nil {
		return nil, err
	}
	return append(b, v...), nil
}

func decodeForward(b []byte) (forward, bool) {
	if len(b) < 2 || b[0] != forwardVersion || int(b[1]) > len(b)-2 || b[1] == 0 {
		return forward{}, false
	}
	n := int(b[1])
	f := forward{next: string(b[2 : 2+n])}
	if rest := b[2+n:]; len(rest) > 0 {
		f.sealed = rest
	}
	return f, true
}

// open returns the new token a loadable forward record leads to, for a
// client that holds oldToken.
func (f forward) open(oldToken string, now time.Time) (string, bool) {
	if f.sealed == nil {
		return "", false
	}
	sealer, err := backend.NewSealer(oldToken)
	if err != nil {
		return "", false
	}
	newToken, _, err := sealer.Open(forwardName, string(f.sealed), now)
	if err != nil {
		return "", false
	}
	if _, ok := parseToken(string(newToken)); !ok {
		return "", false
	}
	return string(newToken), true
}

// tokenBytes is the size of a session token: 256 bits from crypto/rand.
const tokenBytes = 32

// tokenLen is the length of a token in unpadded base64url.
const tokenLen = 43

var tokenEncoding = base64.RawURLEncoding.Strict()

// newToken returns a fresh session token: 32 bytes from crypto/rand in
// unpadded base64url (43 characters).
func newToken() string {
	var b [tokenBytes]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	var s [tokenLen]byte
	base64.RawURLEncoding.Encode(s[:], b[:])
	return string(s[:])
}

// ensureToken returns the session's token, making one for a new session
// that has none yet.
func (s *Session) ensureToken() string {
	if s.token == "" {
		s.token = newToken()
	}
	return s.token
}

// parseToken decodes s if it has the exact form of a token made by
// newToken: 43 base64url characters that decode to 32 bytes with no stray
// bits. It looks at nothing longer than a token, so hostile input costs at
// most a length check.
func parseToken(s string) (raw [tokenBytes]byte, ok bool) {
	if len(s) != tokenLen {
		return raw, false
	}
	var src [tokenLen]byte
	copy(src[:], s) // a copy on the stack rather than a []byte conversion on the heap
	var dst [tokenBytes + 1]byte
	n, err := tokenEncoding.Decode(dst[:], src[:])
	if err != nil || n != tokenBytes {
		return raw, false
	}
	copy(raw[:], dst[:tokenBytes])
	return raw, true
}

// keyPrefix is what storageKey hashes before a token: it binds every key to
// the manager's namespace, so two managers sharing one store never find
// each other's sessions, whichever token a client sends to which.
func keyPrefix(namespace string) []byte {
	return append(append([]byte("chisess key\x00"), namespace...), 0)
}

// storageKey turns a token into the key a server-side backend stores the
// session under: the base64url SHA-256 of the manager's key prefix and the
// token's 32 bytes. A backend, or a leaked copy of it, never holds a usable
// token. It reports false for a string that is not a token.
func (m *Manager) storageKey(token string) (string, bool) {
	raw, ok := parseToken(token)
	if !ok {
		return "", false
	}
	var buf [128]byte
	sum := sha256.Sum256(append(append(buf[:0], m.keyPrefix...), raw[:]...))
	var key [tokenLen]byte
	base64.RawURLEncoding.Encode(key[:], sum[:])
	return string(key[:]), true
}

// fits reports whether storing val under key (at index i of r, -1 for a new
// key) keeps the session within the configured limits.
// A change is refused when it takes a session past a limit, or further past
// one: a session that is past a limit (the limit was lowered since it was
// stored) can still shrink, and be changed without growing.

func (m *Manager) fits(r *record, i int, key string, val []byte) error {
	old := 0
	if i >= 0 {
		old = len(r.entries[i].val)
	}
	if len(val) > m.cfg.MaxValueSize && len(val) > old {
		return fmt.Errorf("%w: the value takes %d bytes, Config.MaxValueSize is %d", ErrTooLarge, len(val), m.cfg.MaxValueSize)
	}
	now := r.extent()
	if i >= 0 {
		now.bytes -= r.entries[i].size()
	} else {
		now.keys++
	}
	now.bytes += entrySize(len(key), len(val))
	return m.withinLimits(now, r.extent())
}

// withinLimits checks a session of the extent now, which a change made from
// one of the extent was: at Set, and again at commit, where other
// requests' changes merged in may have added more. The sealed cookie must
// fit the browsers' limit whatever it was before.
func (m *Manager) withinLimits(now, was extent) error {
	switch {
	case now.keys > m.cfg.MaxKeys && now.keys > was.keys:
		return fmt.Errorf("%w: %d keys, Config.MaxKeys is %d", ErrTooLarge, now.keys, m.cfg.MaxKeys)
	case now.bytes > m.cfg.MaxSize && now.bytes > was.bytes:
		return fmt.Errorf("%w: %d bytes of keys and values, Config.MaxSize is %d", ErrTooLarge, now.bytes, m.cfg.MaxSize)
	case m.sealer != nil:
		r := record{size: now.bytes}
		if l := m.sealer.SealedLen(m.cfg.CookieName, tokenBytes+r.encodedLen()); l > m.cookieLimit {
			return m.cookieTooLarge(l)
		}
	}
	return nil
}

// cookieTooLarge is the error for a sealed cookie of l bytes, name and
// value, past Config.MaxCookieSize.
func (m *Manager) cookieTooLarge(l int) error {
	return fmt.Errorf("%w: the cookie would take %d bytes, Config.MaxCookieSize is %d: %w", ErrTooLarge, l, m.cookieLimit, ErrCookieTooLarge)
}

// expiresAt is when a session with metadata md ends under m's config: its
// lifetime (see lifetimeEnd), no later than IdleTimeout after the last use
// unless it is remembered, and never later than MaxLifetime after
// creation, whatever the activity.
func (m *Manager) expiresAt(md meta) time.Time {
	exp := m.lifetimeEnd(md)
	if m.cfg.IdleTimeout > 0 && md.flags&flagRemember == 0 {
		if idle := time.UnixMilli(md.seen).Add(m.cfg.IdleTimeout); idle.Before(exp) {
			exp = idle
		}
	}
	return exp
}

// lifetimeEnd is when the session ends by its lifetime alone, idle time
// aside: the end of a persistent cookie. The lifetime counts from its start
// (see lifetimeOf), or from the last use with Rolling, and a lifetime of
// zero (a browser-session cookie) lasts the session cap on the server. The
// idle timeout is enforced on the server only, so a cookie does not expire
// under a reader whose requests write nothing.
func (m *Manager) lifetimeEnd(md meta) time.Time {
	lifetime, base := m.lifetimeOf(md)
	if lifetime == 0 {
		lifetime = m.sessionCap(md)
	}
	if m.cfg.Rolling {
		base = md.seen
	}
	end := time.UnixMilli(base).Add(lifetime)
	if md.flags&flagLifetime != 0 && md.lifetime == 0 {
		// A browser-session cookie asked for by SetLifetime(0) never
		// makes the session live longer than it would without.
		md.flags &^= flagLifetime
		end = minTime(end, m.lifetimeEnd(md))
	}
	return minTime(end, time.UnixMilli(md.created).Add(m.cfg.MaxLifetime))
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// lifetimeOf is the lifetime of a session with metadata md, zero for a
// browser-session cookie, and the Unix millisecond it counts from: its own
// lifetime (Session.SetLifetime) from when it was set; else, from its
// creation, Config.RememberFor for a remembered session, or
// Config.Lifetime.
func (m *Manager) lifetimeOf(md meta) (time.Duration, int64) {
	switch {
	case md.flags&flagLifetime != 0:
		return time.Duration(md.lifetime) * time.Millisecond, md.since
	case md.flags&flagRemember != 0:
		return m.cfg.RememberFor, md.created
	}
	return m.cfg.Lifetime, md.created
}

// sessionCap is how long the server keeps a session with a browser-session
// cookie: DefaultSessionCap when the configured lifetime is zero; for a
// session given a lifetime of zero by SetLifetime, the configured lifetime
// or DefaultSessionCap, whichever is shorter (and lifetimeEnd ends it no
// later than it would have ended without), so that asking for a
// browser-session cookie never makes a session live longer.
func (m *Manager) sessionCap(md meta) time.Duration {
	if md.flags&flagLifetime != 0 {
		return min(m.lifetime, DefaultSessionCap)
	}
	return m.lifetime
}

// refreshInterval is how often the last use of a session with metadata md
// is recorded: min(window/10, 1 minute), where the window is IdleTimeout,
// or with Rolling the lifetime, or the shorter of the two when a session's
// own lifetime (which New could not check against IdleTimeout) is shorter.
// Zero: never.
func (m *Manager) refreshInterval(md meta) time.Duration {
	if md.flags&flagLifetime == 0 || !m.cfg.Rolling {
		return m.refreshEvery
	}
	window, _ := m.lifetimeOf(md)
	if window == 0 {
		window = m.sessionCap(md)
	}
	if m.cfg.IdleTimeout > 0 {
		window = min(window, m.cfg.IdleTimeout)
	}
	return min(window/10, time.Minute)
}
