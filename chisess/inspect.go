package chisess

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrNoSession is returned by [Manager.Inspect] when a cookie value does not
// lead to a live session: it is malformed, tampered, expired, or unknown to
// the backend.
var ErrNoSession = errors.New("chisess: no live session for this cookie")

// Issue creates a session holding values, stores it, and returns the cookie
// that carries it, outside of any request. Use it to sign a user in from a
// test (sessiontest builds on it), a command-line tool, or a one-time login
// link handler that must hand out a session before redirecting.
//
// Values are encoded as [Session.Set] encodes them; an unencodable value is
// an error and nothing is stored.
func (m *Manager) Issue(ctx context.Context, values map[string]any) (*http.Cookie, error) {
	s := m.detached()
	s.fresh(m.now())
	s.state = stateLoaded
	for k, v := range values {
		val, err := encodeValue(v, m.cfg.Codec)
		if err != nil {
			return nil, fmt.Errorf("chisess: issue: value for %q: %w", k, err)
		}
		s.entries = append(s.entries, entry{key: []byte(k), val: val})
	}
	now := m.now()
	expires := m.expiresAt(s.meta)
	var value string
	if m.sealer != nil {
		v, err := s.seal(nil, now, expires)
		if err != nil {
			return nil, err
		}
		value = string(v)
	} else {
		ctx, cancel := m.backendCtx(ctx)
		defer cancel()
		if err := s.create(ctx); err != nil {
			return nil, err
		}
		value = s.token
	}
	c := &http.Cookie{
		Name:     m.cfg.CookieName,
		Value:    value,
		Path:     m.cfg.Path,
		Domain:   m.cfg.Domain,
		Secure:   !m.cfg.Insecure,
		HttpOnly: true,
		SameSite: m.cfg.SameSite,
	}
	if s.persistent() {
		c.MaxAge = max(int(m.lifetimeEnd(s.meta).Sub(now).Round(time.Second)/time.Second), 1)
	}
	return c, nil
}

// Inspect loads the session that a cookie value refers to, outside of any
// request, and returns it read-only: [Get], [Session.Keys],
// [Session.ExpiresAt] and the other readers work, while changing it returns
// an error wrapping [ErrCommitted]. It returns an error wrapping
// [ErrNoSession] when the value leads to no live session, and the backend's
// error when the backend fails.
//
// Use it in tests to see what a response stored (sessiontest does), and in
// admin tools.
func (m *Manager) Inspect(ctx context.Context, cookieValue string) (*Session, error) {
	s := m.detached()
	now := m.now()
	var reason RejectReason
	if m.sealer != nil {
		reason = s.openCookie(ctx, cookieValue, now)
	} else {
		var err error
		if reason, err = s.readBackend(ctx, cookieValue, now); err != nil {
			return nil, err
		}
	}
	if reason != 0 {
		return nil, fmt.Errorf("%w (%s)", ErrNoSession, reason)
	}
	s.state = stateLoaded
	s.committed = true
	s.inspected = true
	return s, nil
}

// detached returns a session that belongs to no request.
func (m *Manager) detached() *Session {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	st := &requestState{m: m, r: r}
	st.w = writer{rw: discardWriter{h: http.Header{}}, st: st}
	return st.session()
}

// discardWriter is the ResponseWriter of a detached session: nothing it
// receives goes anywhere.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}
