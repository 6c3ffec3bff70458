package chisess

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// This file holds reading a session: from the token (or tokens) a request
// carries to the record it leads to, following a renewal's forward record
// on the way.

// origin is what the request's token led to when its session was loaded.
type origin uint8

const (
	// originNone: the request carried no token; the session is new.
	originNone origin = iota
	// originRejected: the request's tokens lead to no live session; the
	// session is new, and the client should drop its dead token.
	originRejected
	// originAmbiguous: the request carried several tokens of this name
	// that lead to different live sessions (one may have been planted by
	// a sibling subdomain): none is used and none is dropped.
	originAmbiguous
	// originLoaded: the token led to a live session.
	originLoaded
	// originForwarded: the token led to a live session through the
	// forward record of a periodic renewal; the client needs the new token.
	originForwarded
)

// source is what a request's token led to when its session was loaded.
type source struct {
	token  string    // the token the session is stored under now
	key    string    // its storage key, for server-side backends
	raw    []byte    // the stored record as read, for Swap
	extent extent    // what it held, for the limits
	owner  string    // its owner when loaded, for the owner index
	at     time.Time // when it was loaded
	origin origin    // what the token led to; beside the flags below, with which it packs

	refreshDue bool // the last use should be recorded (IdleTimeout, Rolling)
	renewDue   bool // the token is older than Config.RenewEvery
	resealDue  bool // cookie backend: sealed with a previous secret
}

// maxPresented bounds how many cookies of the session's name a request may
// carry and have tried (each may cost a read of the store): a browser sends
// one per Path and Domain that matches, and a handful covers any honest
// setup; more are planted. A request with more is treated as ambiguous.
const maxPresented = 16

// maxForwardHops bounds how many renewals one load follows, so a chain of
// forward records (renewals within RenewGrace of each other) ends.
const maxForwardHops = 8

// Load reads the session from its store. It is idempotent: the first call
// does the work and later calls return at once. It returns an error only
// when the backend fails (wrapping the backend's error); a missing, expired,
// tampered or malformed cookie is not an error, it gives a new, empty
// session. If Load fails, it may be called again.
//
// Do not confuse it with the [Load] middleware, which attaches an unloaded
// session to every request: Session.Load is the call that reads it.
func (s *Session) Load(ctx context.Context) error {
	s.mu.Lock()
	if s.loaded {
		s.mu.Unlock()
		return nil
	}
	if s.m.cfg.Observer != nil {
		return s.loadObserved(ctx)
	}
	_, err := s.load(ctx)
	queued := s.events != nil
	s.mu.Unlock()
	if queued {
		s.fire(ctx)
	}
	return err
}

// loadObserved is Load, told to the Observer. Called with s.mu held, it
// releases it.
func (s *Session) loadObserved(ctx context.Context) error {
	w := s.m.watch(ctx, OpLoad)
	why, err := s.load(w.ctx)
	w.done(s.observeLoad(why, err))
	queued := s.events != nil
	s.mu.Unlock()
	if queued {
		s.fire(w.ctx)
	}
	w.end(s.m)
	return err
}

// Loaded reports whether the session has been loaded.
func (s *Session) Loaded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loaded
}

// load loads the session, and returns why the request's token was
// rejected, if it was.
func (s *Session) load(ctx context.Context) (RejectReason, error) {
	m := s.m
	now := m.now()
	if s.st.header == "" && !m.cookie.sentWith(s.st.r) {
		// Outside the cookie's Path: the browser holds a session it does
		// not send here, and what cookies of the name come are not the
		// ones the Path covers. None is used, dropped or set.
		s.loaded, s.outside = true, true
		s.src = source{at: now}
		s.rec = newRecord(now)
		return 0, nil
	}
	var buf [maxPresented]string
	values, more := s.st.presented(buf[:0])
	if more {
		// More cookies of the name than are tried: the one that would
		// lead to the client's own session may be among those left, so
		// none is used and none dropped (a sibling subdomain planting
		// cookies must not pick the session, nor log the user out).
		s.emit(Event{Kind: EventRejected, Reason: ReasonAmbiguous})
		s.loaded = true
		s.src = source{origin: originAmbiguous, at: now}
		s.rec = newRecord(now)
		return ReasonAmbiguous, nil
	}
	src, rec, reason, err := m.resolve(ctx, values, now)
	if err != nil {
		s.emit(Event{Kind: EventError, Err: err})
		return 0, err
	}
	s.loaded = true
	s.src, s.src.at = src, now
	if src.origin < originLoaded {
		if reason != 0 {
			s.emit(Event{Kind: EventRejected, Reason: reason})
		}
		s.rec = newRecord(now)
		return reason, nil
	}
	s.token, s.rec, s.src.owner = src.token, rec, ownerOf(rec)
	s.src.extent = rec.extent()
	every := m.refreshInterval(rec.meta)
	s.src.refreshDue = every > 0 && now.Sub(rec.meta.seenAt()) >= every
	s.src.renewDue = m.cfg.RenewEvery > 0 && now.Sub(time.UnixMilli(rec.meta.renewed)) >= m.cfg.RenewEvery
	if m.events {
		s.emit(Event{Kind: EventLoaded, Session: m.eventID(s.token)})
	}
	return 0, nil
}

// resolve finds the live session the request's tokens lead to. When there
// are several (cookies of one name set for different paths or domains), it
// takes the one that leads to a live session, and none when two lead to
// different ones. It returns the session found, or why there is none.
func (m *Manager) resolve(ctx context.Context, values []string, now time.Time) (source, record, RejectReason, error) {
	var best source
	var rec record
	var reason RejectReason
	for _, v := range values {
		src, r, why, err := m.open(ctx, v, now)
		switch {
		case err != nil:
			return source{}, record{}, 0, err
		case why != 0:
			reason = why
		case best.origin == originNone:
			best, rec = src, r
		case src.token != best.token:
			return source{origin: originAmbiguous}, record{}, ReasonAmbiguous, nil
		case src.origin < best.origin || r.meta.seen > rec.meta.seen:
			// The same session twice: take the direct way to it over a
			// forward record, and the newer of two sealed copies.
			best, rec = src, r
		}
	}
	switch {
	case best.origin != originNone:
		return best, rec, 0, nil
	case len(values) > 0:
		return source{origin: originRejected}, record{}, reason, nil
	}
	return source{}, record{}, 0, nil
}

// open finds the live session one token (or sealed cookie) leads to.
func (m *Manager) open(ctx context.Context, value string, now time.Time) (source, record, RejectReason, error) {
	if m.sealer != nil {
		src, rec, why := m.openCookie(ctx, value, now)
		return src, rec, why, nil
	}
	return m.readBackend(ctx, value, now)
}

// readBackend loads the record that token leads to from the server-side
// backend, following the forward records of periodic renewals.
func (m *Manager) readBackend(ctx context.Context, token string, now time.Time) (source, record, RejectReason, error) {
	key, ok := m.storageKey(token)
	if !ok {
		return source{}, record{}, ReasonMalformed, nil
	}
	src := source{origin: originLoaded}
	for hop := 0; ; hop++ {
		got, err := m.read(ctx, key)
		if err != nil {
			return source{}, record{}, 0, fmt.Errorf("chisess: load session: %w", err)
		}
		switch got.kind {
		case storedNone:
			return source{}, record{}, ReasonUnknown, nil
		case storedCorrupt:
			m.warn(ctx, "chisess: stored session is corrupt; starting a new session", "err", errBadRecord)
			return source{}, record{}, ReasonMalformed, nil
		case storedForward:
			// The token was renewed moments ago by RenewEvery: follow it
			// to the session's new token, and hand the client that token.
			next, ok := got.fwd.open(token, now)
			if !ok || hop == maxForwardHops {
				return source{}, record{}, ReasonUnknown, nil
			}
			if key, ok = m.storageKey(next); !ok || key != got.fwd.next {
				return source{}, record{}, ReasonUnknown, nil
			}
			token, src.origin = next, originForwarded
			continue
		}
		if !now.Before(m.expiresAt(got.rec.meta)) {
			return source{}, record{}, ReasonExpired, nil
		}
		src.token, src.key, src.raw = token, key, got.raw
		return src, got.rec, 0, nil
	}
}

// openCookie opens the session sealed in a cookie value.
func (m *Manager) openCookie(ctx context.Context, value string, now time.Time) (source, record, RejectReason) {
	if len(m.cfg.CookieName)+1+len(value) > m.cookieLimit {
		return source{}, record{}, ReasonMalformed // past the limit: not one chisess would seal
	}
	payload, secret, err := m.sealer.Open(m.cfg.CookieName, value, now)
	switch {
	case errors.Is(err, backend.ErrCookieTampered):
		return source{}, record{}, ReasonTampered
	case errors.Is(err, backend.ErrCookieExpired):
		return source{}, record{}, ReasonExpired
	case err != nil || len(payload) < tokenBytes:
		return source{}, record{}, ReasonMalformed
	}
	rec, err := decodeRecord(payload[tokenBytes:])
	if err != nil {
		m.warn(ctx, "chisess: sealed session is corrupt; starting a new session", "err", err)
		return source{}, record{}, ReasonMalformed
	}
	if !now.Before(m.expiresAt(rec.meta)) {
		return source{}, record{}, ReasonExpired
	}
	var id [tokenLen]byte
	tokenEncoding.Encode(id[:], payload[:tokenBytes])
	return source{origin: originLoaded, token: string(id[:]), resealDue: secret > 0}, rec, 0
}
