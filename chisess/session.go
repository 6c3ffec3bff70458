package chisess

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Session is one visitor's session within one request. [Load] attaches an
// unloaded Session to every request; get it with [From], load it with
// [Session.Load] (or mount [Autoload]), then read it with [Get] and change it
// with [Session.Set], [Session.Delete] and friends. Changes are saved once,
// just before the response's first byte.
//
// Every method that changes the session returns an error: after the
// response has started (one wrapping [ErrResponseStarted], unless the
// change is made in [Session.Save]), on a read-only
// session from [Manager.Inspect] ([ErrReadOnly]), on a request outside
// Config.Path ([ErrOutsidePath]), on a reserved key ([ErrReservedKey]) and
// past a size limit ([ErrTooLarge]). The error is
// returned, never also reported through Config.ErrorHandler, so it is
// handled once, by the caller.
//
// Reading or changing a Session before it is loaded is a programming error
// and panics with a message saying what to do. A Session is safe for use by
// the goroutines of one request.
type Session struct {
	mu     sync.Mutex
	saveMu sync.Mutex // one Save at a time
	m      *Manager
	st     *requestState // nil for a read-only session from Manager.Inspect

	loaded    bool
	committed bool  // the response has started: no more changes, but through Save
	readOnly  bool  // from Manager.Inspect
	outside   bool  // the request is outside the cookie's Path: no changes
	closed    bool  // the commit failed: nothing more can be saved
	saving    bool  // a fork a Save's change runs on: changes are allowed after the response started
	status    int16 // the status the response started with
	landed    landing

	src    source // what the request's token led to
	intent intent // what the request asked of the session so far
	token  string // the session's token now; "" for a new session until needed
	rec    record // the session as the request sees it
	edits  edits  // what the request changed, to replay on a newer record
	events []Event
}

// edits are the changes a request made, kept so that a commit can apply
// them to whatever is stored by then. The values it set are the entries
// marked dirty.
type edits struct {
	deleted  []string // keys deleted (and not set again)
	cleared  bool     // Clear was called; entries marked dirty came after it
	flags    bool     // RememberMe was called
	lifetime bool     // SetLifetime or ResetLifetime was called
}

const notLoadedMsg = "chisess: session not loaded: call s.Load(r.Context()) first, or mount chisess.Autoload (or Require, or RenewToken) on the route"

// mustLoaded panics when the session has not been loaded. Callers hold s.mu.
func (s *Session) mustLoaded() {
	if !s.loaded {
		panic(notLoadedMsg)
	}
}

// reservedPrefix starts the keys chisess keeps for itself (owner,
// description, flash messages). [Session.Keys] hides them, and the methods
// that take a key refuse them.
const reservedPrefix = "\x00"

func checkKey(key string) error {
	if strings.HasPrefix(key, reservedPrefix) {
		return fmt.Errorf("%w: %q", ErrReservedKey, key)
	}
	return nil
}

// Token returns the session's token: the secret that its cookie (or token
// header) carries. Treat it as a password: never log it, never put it in a
// URL or a page. A new session gets its token on the first call. The token
// changes on [Session.RenewToken] and [Session.Destroy]; to show or compare
// sessions, use [Session.Handle], which is safe to show.
func (s *Session) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.ensureToken()
}

// IsNew reports whether the request carried no live session, so this one
// was created for it.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.src.origin < originLoaded || s.intent == intentDestroy
}

// CreatedAt returns when the session was created.
func (s *Session) CreatedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.rec.meta.createdAt()
}

// LastUsed returns when the session was last recorded as used. With
// IdleTimeout or Rolling it is refreshed at most once per min(window/10,
// 1 minute), so it can lag the real last use by that much.
func (s *Session) LastUsed() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.rec.meta.seenAt()
}

// ExpiresAt returns when the session ends if it is not used again: the
// earliest of its lifetime, its idle timeout and Config.MaxLifetime.
func (s *Session) ExpiresAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	md := s.rec.meta
	if s.src.refreshDue || s.intent > intentKeep {
		md.seen = s.m.now().UnixMilli() // what the commit will record
	}
	return s.m.expiresAt(md)
}

// Has reports whether the session holds a value under key.
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.rec.find(key) >= 0
}

// Keys returns the keys the session holds, in the order they were first set.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	keys := make([]string, 0, len(s.rec.entries))
	for _, e := range s.rec.entries {
		if k := string(e.key); !strings.HasPrefix(k, reservedPrefix) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Len returns the number of keys the session holds.
func (s *Session) Len() int { return len(s.Keys()) }

// value returns the stored form of key. Callers must not modify it.
func (s *Session) value(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	if i := s.rec.find(key); i >= 0 {
		return s.rec.entries[i].val, true
	}
	return nil, false
}

// Set stores v under key. v is encoded at once, so a value the codec cannot
// encode (a channel, a func, a cyclic structure) is an error here, and the
// session is unchanged. So is a value that would take the session past
// Config.MaxKeys, MaxSize or MaxValueSize (or, with the cookie backend,
// past Config.MaxCookieSize): the error wraps [ErrTooLarge]. Keys starting
// with a NUL byte are reserved ([ErrReservedKey]). After the response has
// started, Set returns an error wrapping [ErrResponseStarted], unless it is
// made in [Session.Save], and on a request outside Config.Path one wrapping
// [ErrOutsidePath].
func (s *Session) Set(key string, v any) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("chisess: set: %w", err)
	}
	val, err := encodeValue(v, s.m.cfg.Codec)
	if err != nil {
		return fmt.Errorf("chisess: set %q: %w", key, err)
	}
	return s.mutate("Set", func() error { return s.put(key, val) })
}

// put stores an encoded value. Callers hold s.mu.
func (s *Session) put(key string, val []byte) error {
	i := s.rec.find(key)
	if err := s.m.fits(&s.rec, i, key, val); err != nil {
		return fmt.Errorf("chisess: set %q: %w", key, err)
	}
	s.rec.set(i, key, val)
	s.edits.deleted = deleteString(s.edits.deleted, key)
	s.intent = max(s.intent, intentModify)
	return nil
}

func deleteString(list []string, s string) []string {
	for i, v := range list {
		if v == s {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// mutate runs change under the lock if the session may still be changed.
// The error is returned, not reported: the caller handles it once.
func (s *Session) mutate(op string, change func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	switch {
	case s.readOnly:
		return fmt.Errorf("%w: %s on a session from Manager.Inspect", ErrReadOnly, op)
	case s.committed && !s.saving:
		return fmt.Errorf("%w: %s after the first byte of %s %s (make the change inside Session.Save, on the session its change is given)", ErrResponseStarted, op, s.st.r.Method, s.st.r.URL.Path)
	case s.outside:
		return fmt.Errorf("%w: %s on %s %s; Config.Path is %q", ErrOutsidePath, op, s.st.r.Method, s.st.r.URL.Path, s.m.cfg.Path)
	}
	return change()
}

// Delete removes key from the session. Deleting a missing key does nothing.
// It returns an error only when the session can no longer be changed, or
// for a reserved key.
func (s *Session) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("chisess: delete: %w", err)
	}
	return s.mutate("Delete", func() error {
		s.remove(key)
		return nil
	})
}

// remove deletes key, reserved or not. Callers hold s.mu.
func (s *Session) remove(key string) {
	if i := s.rec.find(key); i >= 0 {
		s.rec.remove(i)
		s.edits.deleted = append(s.edits.deleted, key)
		s.intent = max(s.intent, intentModify)
	}
}

// Clear removes every key, the owner and queued flash messages included.
// The session itself, and its token, stay; a session left empty at commit
// is deleted from the backend and its cookie expired. To end the session
// and drop its token, use [Session.Destroy].
func (s *Session) Clear() error {
	return s.mutate("Clear", func() error {
		if len(s.rec.entries) > 0 {
			s.rec.entries, s.rec.size = nil, 0
			s.edits.deleted = nil
			s.edits.cleared = true
			s.intent = max(s.intent, intentModify)
		}
		return nil
	})
}

// RenewToken gives the session a new token and keeps its data. At commit
// the data is stored under the new token and the old one stops working at
// once, so a token planted in the browser before login (session fixation)
// is worthless after it. Call it whenever the privilege level changes:
// login, logout, sudo. The [RenewToken] middleware calls it for a whole
// route; Config.RenewEvery renews tokens by age.
//
// A login handler must check its error: after the response has started it
// returns one wrapping [ErrResponseStarted], and the old token stays.
func (s *Session) RenewToken() error {
	return s.mutate("RenewToken", func() error {
		s.token = newToken()
		s.intent = max(s.intent, intentRenew)
		return nil
	})
}

// Destroy ends the session: at commit its record is deleted (wherever
// concurrent renewals have moved it) and its cookie expired. The handler may
// keep using the session afterwards; it is then a new, empty session with a
// new token (handy for a "you have been logged out" flash message).
//
// A logout handler must check its error: after the response has started it
// returns one wrapping [ErrResponseStarted], and the session lives on. If
// another request ended or renewed the session in a way Destroy cannot
// follow, the commit fails with [ErrStaleSession] rather than answer as if
// the logout had worked.
func (s *Session) Destroy() error {
	return s.mutate("Destroy", func() error {
		s.intent = intentDestroy
		s.token = ""
		s.rec = newRecord(s.m.now())
		s.edits = edits{}
		return nil
	})
}

// RememberMe makes this session's cookie persist for Config.RememberFor
// (true), or go back to the configured cookie (false): the "keep me signed
// in" box of a login form. A remembered session is not ended by
// IdleTimeout; its lifetime is RememberFor from its creation, within
// Config.MaxLifetime. Call it at login, together with [Session.RenewToken].
//
// A lifetime of the session's own ([Session.SetLifetime]) takes the place
// of RememberFor, so RememberMe(true) with SetLifetime(7 * 24 * time.Hour)
// remembers the session for a week; RememberMe alone is what exempts a
// session from IdleTimeout.
func (s *Session) RememberMe(remember bool) error {
	return s.mutate("RememberMe", func() error {
		if remember {
			s.rec.meta.flags |= flagRemember
		} else {
			s.rec.meta.flags &^= flagRemember
		}
		s.edits.flags = true
		s.intent = max(s.intent, intentModify)
		return nil
	})
}

// Remembered reports whether [Session.RememberMe] is on for the session.
func (s *Session) Remembered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	return s.rec.meta.flags&flagRemember != 0
}
