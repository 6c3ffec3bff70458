package chisess

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// Session is one visitor's session within one request. [Load] attaches an
// unloaded Session to every request; get it with [From], load it with
// [Session.Load] (or mount [Autoload]), then read it with [Get] and change it
// with [Session.Set], [Session.Delete] and friends. Changes are saved once,
// just before the response's first byte.
//
// Reading or changing a Session before it is loaded is a programming error
// and panics with a message saying what to do. A Session is safe for use by
// the goroutines of one request.
type Session struct {
	mu    sync.Mutex
	m     *Manager
	r     *http.Request
	w     *writer
	state sessionState
	// committed is set once the response has started: later changes are
	// errors, but the session may still be loaded and read.
	committed bool
	// inspected marks a read-only session returned by Manager.Inspect.
	inspected bool

	isNew     bool
	token     string // the current token; "" for a new session until needed
	origToken string // the token of the loaded session, "" when none was loaded
	// loadedOwner is the owner of the loaded session, for the owner index.
	loadedOwner string
	origKey     string // storage key of the loaded record, "" when none was loaded
	curKey      string // storage key of keyOf, cached by key()
	keyOf       string
	meta        meta
	entries     []entry
	raw         []byte // the record as loaded from the backend, for Swap

	// What this request changed, key by key, so that a commit can apply
	// exactly these changes to whatever is stored by then.
	cleared  bool     // Clear was called; entries marked dirty came after it
	deleted  []string // keys this request deleted (and did not set again)
	flagsSet bool     // RememberMe was called

	events []Event // queued for Config.OnEvent, fired outside the lock

	changed    bool // any Set, Delete, Clear, RenewID or Destroy
	renewed    bool // the token changed in this request
	destroyed  bool
	hadToken   bool   // the request carried a session cookie or header, valid or not
	header     string // set by TokenHeader: the token travels in this header, not a cookie
	bearer     bool   // the header is Authorization, with the Bearer scheme
	refreshDue bool   // the last-use time should be refreshed at commit
	renewDue   bool   // the ID is older than Config.RenewEvery
	graceRenew bool   // this renewal leaves a forward record for RenewGrace
	forwarded  bool   // loaded through a forward record: the client needs the new token
	rejected   bool   // the request's token led to no session: tell the client to drop it
	// staleSeal is set in cookie mode when the cookie was opened with a
	// previous secret, so the next commit re-seals it with the current one.
	staleSeal bool
}

type sessionState uint8

const (
	stateUnloaded sessionState = iota
	stateLoaded
)

const flashKey = "\x00flash"

const notLoadedMsg = "chisess: session not loaded: call s.Load(r.Context()) first, or mount chisess.Autoload (or Require, or Rotate) on the route"

// mustLoaded panics when the session has not been loaded. Callers hold s.mu.
func (s *Session) mustLoaded() {
	if s.state == stateUnloaded {
		panic(notLoadedMsg)
	}
}

// Load reads the session from its store. It is idempotent: the first call
// does the work and later calls return at once. It returns an error only when
// the backend fails (wrapping the backend's error); a missing, expired,
// tampered or malformed cookie is not an error, it gives a new, empty
// session with a fresh token. If Load fails, it may be called again.
func (s *Session) Load(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateUnloaded {
		s.mu.Unlock()
		return nil
	}
	err := s.load(ctx)
	queued := s.events != nil
	s.mu.Unlock()
	if queued {
		s.fire(ctx)
	}
	return err
}

// Loaded reports whether the session has been loaded.
func (s *Session) Loaded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != stateUnloaded
}

func (s *Session) load(ctx context.Context) error {
	m := s.m
	value, hadToken := s.requestToken()
	s.hadToken = hadToken
	now := m.now()
	if value != "" {
		var (
			reason RejectReason
			err    error
		)
		if m.sealer != nil {
			reason = s.openCookie(ctx, value, now)
		} else {
			reason, err = s.readBackend(ctx, value, now)
		}
		if err != nil {
			s.emit(Event{Kind: EventError, Err: err})
			return err
		}
		if reason == 0 {
			s.state = stateLoaded
			s.origToken = s.token
			if i := s.find(ownerKey); i >= 0 {
				s.loadedOwner, _ = decodeValue[string](s.entries[i].val, m.cfg.Codec)
			}
			if m.refreshEvery > 0 && now.Sub(s.meta.seenAt()) >= m.refreshEvery {
				s.refreshDue = true
			}
			if m.cfg.RenewEvery > 0 && now.Sub(time.UnixMilli(s.meta.renewed)) >= m.cfg.RenewEvery {
				s.renewDue = true
			}
			if m.cfg.OnEvent != nil {
				s.emit(Event{Kind: EventLoaded, Session: m.eventID(s.token)})
			}
			return nil
		}
		s.rejected = true
		s.emit(Event{Kind: EventRejected, Reason: reason})
	}
	s.fresh(now)
	s.state = stateLoaded
	return nil
}

// fresh turns s into a new, empty session. The token is made when needed.
func (s *Session) fresh(now time.Time) {
	ms := now.UnixMilli()
	s.isNew = true
	s.token = ""
	s.entries = nil
	s.meta = meta{created: ms, seen: ms, gen: newGen(), renewed: ms}
}

func newGen() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// readBackend loads the record for token from the server-side backend. It
// returns why there is no session, or 0 when it loaded one.
func (s *Session) readBackend(ctx context.Context, token string, now time.Time) (RejectReason, error) {
	key, ok := storageKey(token)
	if !ok {
		return ReasonMalformed, nil
	}
	m := s.m
	readCtx, cancel := m.backendCtx(ctx)
	data, err := m.backend.Read(readCtx, key)
	cancel()
	if err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return ReasonUnknown, nil
		}
		return 0, fmt.Errorf("chisess: load session: %w", err)
	}
	if isForward(data) {
		// The ID was renewed moments ago by RenewEvery: follow it to the
		// session's new ID, and hand the client the new token.
		newToken, ok := openForward(token, data, now)
		if !ok {
			return ReasonUnknown, nil
		}
		if reason, err := s.readBackend(ctx, newToken, now); reason != 0 || err != nil {
			return reason, err
		}
		s.forwarded = true
		return 0, nil
	}
	md, entries, err := decodeRecord(data)
	if err != nil {
		m.warn(ctx, "chisess: stored session is corrupt; starting a new session", "err", err)
		return ReasonMalformed, nil
	}
	if !now.Before(m.expiresAt(md)) {
		return ReasonExpired, nil
	}
	s.token, s.origKey, s.meta, s.entries, s.raw = token, key, md, entries, data
	return 0, nil
}

// openCookie loads the session sealed in the cookie value. It returns why
// there is no session, or 0 when it loaded one.
func (s *Session) openCookie(ctx context.Context, value string, now time.Time) RejectReason {
	m := s.m
	payload, secret, err := m.sealer.Open(m.cfg.CookieName, value, now)
	switch {
	case errors.Is(err, backend.ErrCookieTampered):
		return ReasonTampered
	case errors.Is(err, backend.ErrCookieExpired):
		return ReasonExpired
	case err != nil || len(payload) < tokenBytes:
		return ReasonMalformed
	}
	md, entries, err := decodeRecord(payload[tokenBytes:])
	if err != nil {
		m.warn(ctx, "chisess: sealed session is corrupt; starting a new session", "err", err)
		return ReasonMalformed
	}
	if !now.Before(m.expiresAt(md)) {
		return ReasonExpired
	}
	var id [tokenLen]byte
	tokenEncoding.Encode(id[:], payload[:tokenBytes])
	s.token = string(id[:])
	s.meta, s.entries = md, entries
	s.staleSeal = secret > 0
	return 0
}

// ID returns the session's token: the value its cookie carries. A new
// session gets its token on first use. Treat it as a password: never log it
// or put it in a URL. It changes on [Session.RenewID] and [Session.Destroy].
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.ensureToken()
}

func (s *Session) ensureToken() string {
	if s.token == "" {
		s.token = newToken()
	}
	return s.token
}

// IsNew reports whether the request carried no live session, so this one
// was created for it.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.isNew
}

// CreatedAt returns when the session was created.
func (s *Session) CreatedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.meta.createdAt()
}

// LastUsed returns when the session was last recorded as used. With
// IdleTimeout or Rolling it is refreshed at most once per min(window/10,
// 1 minute), so it can lag the real last use by that much.
func (s *Session) LastUsed() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.meta.seenAt()
}

// ExpiresAt returns when the session ends if it is not used again: the
// earlier of its lifetime and its idle timeout.
func (s *Session) ExpiresAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	md := s.meta
	if s.refreshDue || s.changed {
		md.seen = s.m.now().UnixMilli() // what the commit will record
	}
	return s.m.expiresAt(md)
}

// find returns the index of key in s.entries, or -1.
func (s *Session) find(key string) int {
	for i := range s.entries {
		if string(s.entries[i].key) == key {
			return i
		}
	}
	return -1
}

// Has reports whether the session holds a value under key.
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.find(key) >= 0
}

// Keys returns the keys the session holds, in the order they were first set.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	keys := make([]string, 0, len(s.entries))
	for _, e := range s.entries {
		if k := string(e.key); !strings.HasPrefix(k, "\x00") {
			keys = append(keys, k)
		}
	}
	return keys
}

// Len returns the number of keys the session holds.
func (s *Session) Len() int { return len(s.Keys()) }

// Set stores v under key. v is encoded at once, so a value the codec cannot
// encode (a channel, a func, a cyclic structure) is an error here, and the
// session is unchanged. Setting a key after the response has started returns
// an error wrapping [ErrCommitted], which is also reported through
// Config.ErrorHandler.
func (s *Session) Set(key string, v any) error {
	val, err := encodeValue(v, s.m.cfg.Codec)
	if err != nil {
		return fmt.Errorf("chisess: set %q: %w", key, err)
	}
	return s.set(key, val)
}

func (s *Session) set(key string, val []byte) error {
	return s.mutate("Set", func() {
		if i := s.find(key); i >= 0 {
			s.entries[i].val = val
			s.entries[i].dirty = true
		} else {
			s.entries = append(s.entries, entry{key: []byte(key), val: val, dirty: true})
		}
		s.deleted = slices.DeleteFunc(s.deleted, func(k string) bool { return k == key })
		s.changed = true
	})
}

// mutate runs change under the lock if the session may still be changed,
// and reports a change that comes after the commit.
func (s *Session) mutate(op string, change func()) error {
	err := func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.changeable(op); err != nil {
			return err
		}
		change()
		return nil
	}()
	if err != nil && !s.inspected {
		s.reportLate(err) // outside the lock: the ErrorHandler may use the session
	}
	return err
}

// Delete removes key from the session. Deleting a missing key does nothing.
func (s *Session) Delete(key string) {
	s.mutate("Delete", func() { s.deleteLocked(key) })
}

func (s *Session) deleteLocked(key string) {
	if i := s.find(key); i >= 0 {
		s.entries = slices.Delete(s.entries, i, i+1)
		s.deleted = append(s.deleted, key)
		s.changed = true
	}
}

// Clear removes every key. The session itself, and its token, stay; a
// session left empty at commit is deleted from the backend and its cookie
// expired. To end the session and drop its token, use [Session.Destroy].
func (s *Session) Clear() {
	s.mutate("Clear", func() {
		if len(s.entries) > 0 {
			s.entries = nil
			s.deleted = nil
			s.cleared = true
			s.changed = true
		}
	})
}

// RenewID gives the session a new token and keeps its data. At commit the
// data is written under the new token and the old one is deleted, so a token
// planted in the browser before login (session fixation) is worthless after
// it. Call it whenever the privilege level changes: login, logout, sudo. The
// [Rotate] middleware calls it for a whole route.
func (s *Session) RenewID() {
	s.mutate("RenewID", func() {
		s.token = newToken()
		s.renewed = true
		s.changed = true
	})
}

// Destroy ends the session: its record is deleted at commit and its cookie
// expired. The handler may keep using the session afterwards; it is then a
// new, empty session with a new token (handy for a "you have been logged
// out" flash message).
func (s *Session) Destroy() {
	s.mutate("Destroy", func() {
		s.destroyed = true
		s.changed = true
		s.staleSeal = false
		s.refreshDue = false
		s.fresh(s.m.now())
	})
}

// RememberMe makes this session's cookie persist for Config.RememberFor
// (true), or go back to the configured cookie (false): the "keep me signed
// in" box of a login form. A remembered session is not ended by
// IdleTimeout; its lifetime is RememberFor. Call it at login, together with
// [Session.RenewID] (or under [Rotate]).
func (s *Session) RememberMe(remember bool) {
	s.mutate("RememberMe", func() {
		if remember {
			s.meta.flags |= flagRemember
		} else {
			s.meta.flags &^= flagRemember
		}
		s.flagsSet = true
		s.changed = true
	})
}

// Remembered reports whether [Session.RememberMe] is on for the session.
func (s *Session) Remembered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.meta.flags&flagRemember != 0
}

// changeable checks that the session may be changed. Callers hold s.mu.
func (s *Session) changeable(op string) error {
	s.mustLoaded()
	if s.inspected {
		return fmt.Errorf("%w: %s on a read-only session from Manager.Inspect", ErrCommitted, op)
	}
	if s.committed {
		return fmt.Errorf("%w: %s after the first byte of %s %s", ErrCommitted, op, s.r.Method, s.r.URL.Path)
	}
	return nil
}

// reportLate reports a change made after the commit.
func (s *Session) reportLate(err error) {
	s.m.fail(s.w, s.r, err)
}

// value returns the stored form of key. Callers must not modify it.
func (s *Session) value(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	if i := s.find(key); i >= 0 {
		return s.entries[i].val, true
	}
	return nil, false
}
