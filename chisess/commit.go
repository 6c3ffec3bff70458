package chisess

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// commit saves the session just before the response starts with status. It
// sets the response headers (Set-Cookie, Vary, Cache-Control) and returns
// the error that must replace the response, if any. It runs once.
func (s *Session) commit(status int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed {
		return nil
	}
	s.committed = true
	if s.state != stateLoaded {
		return nil // never loaded: nothing read, nothing to save
	}
	h := s.w.Header()
	h.Add("Vary", "Cookie")
	if !s.changed && !s.staleSeal && !s.refreshDue {
		return nil
	}
	if status >= 500 && !s.m.cfg.KeepChangesOnServerError {
		return nil // a failed request leaves the session as it was
	}
	ctx, cancel := s.m.backendCtx(context.WithoutCancel(s.r.Context()))
	defer cancel()
	now := time.Now()
	if s.changed || s.staleSeal {
		return s.save(ctx, h, now)
	}
	if err := s.refresh(ctx, h, now); err != nil {
		// A failed refresh of a read-only request costs at most some idle
		// time; failing the request for it would cost more.
		s.m.warn(ctx, "chisess: could not refresh the session's last use", "err", err)
	}
	return nil
}

// save writes a changed session, or deletes an emptied one.
func (s *Session) save(ctx context.Context, h http.Header, now time.Time) error {
	m := s.m
	if len(s.entries) == 0 {
		if s.origKey != "" {
			if err := m.backend.Delete(ctx, s.origKey); err != nil {
				return fmt.Errorf("chisess: delete session: %w", err)
			}
		}
		if s.hadCookie {
			h.Add("Set-Cookie", m.expireCookie)
			h.Set("Cache-Control", "no-store")
		}
		return nil
	}
	s.meta.seen = now.UnixMilli()
	value, expires, err := s.store(ctx, now)
	if err != nil {
		return err
	}
	if s.origKey != "" && (s.renewed || s.destroyed) {
		// Only after the new record is safe: an old token that outlived a
		// renewal would keep whatever privileges the new one gains.
		if err := m.backend.Delete(ctx, s.origKey); err != nil {
			return fmt.Errorf("chisess: delete the old session after renewing its ID: %w", err)
		}
	}
	h.Add("Set-Cookie", m.setCookie(value, expires, now))
	h.Set("Cache-Control", "no-store")
	return nil
}

// refresh records the last use of an unchanged session, for IdleTimeout and
// Rolling.
func (s *Session) refresh(ctx context.Context, h http.Header, now time.Time) error {
	m := s.m
	s.meta.seen = now.UnixMilli()
	value, expires, err := s.store(ctx, now)
	if err != nil {
		return err
	}
	if m.sealer != nil || m.cfg.Rolling && m.cfg.Lifetime > 0 {
		h.Add("Set-Cookie", m.setCookie(value, expires, now))
		h.Set("Cache-Control", "no-store")
	}
	return nil
}

// store writes the session to the backend, or seals it, and returns the
// cookie value and the session's expiry.
func (s *Session) store(ctx context.Context, now time.Time) (string, time.Time, error) {
	m := s.m
	expires := m.expiresAt(s.meta)
	token := s.ensureToken()
	if m.sealer != nil {
		payload := make([]byte, tokenBytes, 512)
		if _, err := tokenEncoding.Decode(payload, []byte(token)); err != nil {
			return "", expires, fmt.Errorf("chisess: bad session token: %w", err)
		}
		payload = appendRecord(payload, s.meta, s.entries)
		value, err := m.sealer.Seal(m.cfg.CookieName, payload, now, expires)
		if err != nil {
			return "", expires, fmt.Errorf("chisess: save session: %w", err)
		}
		return value, expires, nil
	}
	key := storageKey(token)
	data := appendRecord(nil, s.meta, s.entries)
	if err := m.backend.Write(ctx, key, data, expires.Sub(now)); err != nil {
		return "", expires, fmt.Errorf("chisess: save session: %w", err)
	}
	return token, expires, nil
}
