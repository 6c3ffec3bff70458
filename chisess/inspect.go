package chisess

import (
	"context"
	"fmt"
	"net/http"
)

// Issue creates a session holding values, stores it, and returns the cookie
// that carries it, outside of any request. Use it to sign a user in from a
// test (sessiontest builds on it), a command-line tool, or a one-time login
// link handler that must hand out a session before redirecting.
//
// Values are encoded as [Session.Set] encodes them and must fit the same
// limits; an unencodable value is an error and nothing is stored. A
// session with values is reported as an EventCreated, as one a request
// creates; with no values nothing is stored, and nothing reported.
func (m *Manager) Issue(ctx context.Context, values map[string]any) (*http.Cookie, error) {
	now := m.now()
	rec := newRecord(now)
	for k, v := range values {
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("chisess: issue: %w", err)
		}
		val, err := encodeValue(v, m.cfg.Codec)
		if err == nil {
			err = m.fits(&rec, -1, k, val)
		}
		if err != nil {
			return nil, fmt.Errorf("chisess: issue: %w", &ValueError{Key: k, Err: err})
		}
		rec.set(-1, k, val)
	}
	token := newToken()
	value := token
	if m.sealer != nil {
		v, err := m.seal(nil, token, &rec, now)
		if err != nil {
			return nil, err
		}
		value = string(v)
	} else if len(rec.entries) > 0 {
		key, _ := m.storageKey(token)
		data, err := m.encode(&rec, extent{})
		if err == nil {
			ctx, cancel := m.backendCtx(ctx)
			err = m.backend.Write(ctx, key, data, m.ttl(rec.meta))
			cancel()
		}
		if err != nil {
			return nil, wrapBackend("issue session", err)
		}
	}
	if m.events && len(rec.entries) > 0 {
		m.tell(ctx, Event{Kind: EventCreated, Session: m.eventID(token)})
	}
	persist := m.cfg.Lifetime > 0
	return m.cookie.httpCookie(value, lifeUntil(persist, m.lifetimeEnd(rec.meta), now)), nil
}

// Inspect loads the session that a cookie value (or token) refers to,
// outside of any request, and returns it read-only: [Get],
// [Session.Keys], [Session.ExpiresAt] and the other readers work, while
// changing it returns an error wrapping [ErrReadOnly]. It returns an error
// wrapping [ErrUnknownSession] when the value leads to no live session, and
// the backend's error when the backend fails. The ErrUnknownSession error
// also wraps the [RejectReason], which errors.As finds: ReasonTampered for
// a sealed cookie that a secret given in Config did not seal, ReasonExpired,
// ReasonUnknown or ReasonMalformed.
//
// Use it in tests to see what a response stored (sessiontest does), and in
// admin tools.
func (m *Manager) Inspect(ctx context.Context, cookieValue string) (*Session, error) {
	src, rec, reason, err := m.open(ctx, cookieValue, m.now())
	if err != nil {
		return nil, err
	}
	if reason != 0 {
		return nil, fmt.Errorf("%w (%w)", ErrUnknownSession, reason)
	}
	return &Session{m: m, loaded: true, readOnly: true, src: src, token: src.token, rec: rec}, nil
}
