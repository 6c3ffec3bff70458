package chisess

import (
	"fmt"
	"time"
)

// SetLifetime gives the session a lifetime of its own, in place of
// Config.Lifetime: the session ends d from now, or, with Config.Rolling, d
// after its last use. The server enforces it, the backend's expiry (TTL)
// follows it, and the cookie's Max-Age matches it. Use it for a session that
// must live shorter or longer than the rest: a kiosk, a trusted device.
//
// A d of zero makes the cookie a browser-session cookie, dropped when the
// browser closes; the server then ends the session [DefaultSessionCap]
// after the call, or when it would have ended without it, whichever is
// sooner: it never makes the session live longer. A d longer than
// Config.MaxLifetime is cut to it, and MaxLifetime after its creation still
// ends the session whatever d is: a session's own lifetime never outlasts
// the absolute limit, as a context's deadline never outlasts its parent's.
// IdleTimeout still ends an unused session: only [Session.RememberMe] turns
// it off. The lifetime stays through token renewals and [Session.Clear];
// [Session.Destroy] drops it, and [Session.ResetLifetime] goes back to the
// configured one.
//
// A negative d is an error, and changes nothing (to end the session, call
// [Session.Destroy]). After the response has started, SetLifetime returns an
// error wrapping [ErrResponseStarted]. On a server-side backend, when
// concurrent requests change the lifetime, the last to commit wins, and a
// request that changes only values leaves it as it is; on the cookie
// backend the last response the browser receives wins, as for every value.
func (s *Session) SetLifetime(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("chisess: set lifetime: %v is negative", d)
	}
	return s.mutate("SetLifetime", func() error {
		d = min(d, s.m.cfg.MaxLifetime)
		md := &s.rec.meta
		md.flags |= flagLifetime
		md.lifetime = 0
		if d > 0 {
			md.lifetime = min(int64((d-1)/time.Millisecond)+1, maxLifetimeMillis) // rounded up: never shorter than asked
		}
		md.since = s.m.now().UnixMilli()
		s.edits.lifetime = true
		s.intent = max(s.intent, intentModify)
		return nil
	})
}

// ResetLifetime undoes [Session.SetLifetime]: the session goes back to the
// configured lifetime (Config.RememberFor if it is remembered, else
// Config.Lifetime), counted from its creation. It returns an error only when
// the session can no longer be changed.
func (s *Session) ResetLifetime() error {
	return s.mutate("ResetLifetime", func() error {
		md := &s.rec.meta
		md.flags &^= flagLifetime
		md.lifetime, md.since = 0, 0
		s.edits.lifetime = true
		s.intent = max(s.intent, intentModify)
		return nil
	})
}

// Lifetime returns the session's lifetime: its own, from
// [Session.SetLifetime]; else Config.RememberFor if it is remembered; else
// Config.Lifetime; never more than Config.MaxLifetime. Zero means a
// browser-session cookie. When the session ends is [Session.ExpiresAt].
func (s *Session) Lifetime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	lifetime, _ := s.m.lifetimeOf(s.rec.meta)
	return min(lifetime, s.m.cfg.MaxLifetime)
}
