package chisess

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// maxSwapAttempts bounds the read-merge-swap loop of one commit. Every lost
// swap means another request's commit went through, so the loop only runs
// long under heavy contention on one session; the backend timeout bounds it
// in time as well.
const maxSwapAttempts = 1000

// commit saves the session just before the response starts with status. It
// sets the response headers (Set-Cookie, Vary, Cache-Control) and returns
// the error that must replace the response, if any. It runs once.
func (s *Session) commit(status int) error {
	s.mu.Lock()
	err := s.commitLocked(status)
	if err != nil {
		s.emit(Event{Kind: EventError, Err: err})
	}
	queued := s.events != nil
	s.mu.Unlock()
	if queued {
		s.fire(s.r.Context())
	}
	return err
}

// emitSaved queues the events of a successful save.
func (s *Session) emitSaved() {
	if s.m.cfg.OnEvent == nil {
		return
	}
	m := s.m
	if s.origToken != "" && (s.destroyed || len(s.entries) == 0) {
		s.emit(Event{Kind: EventDestroyed, Session: m.eventID(s.origToken)})
	}
	if len(s.entries) == 0 {
		return
	}
	id := m.eventID(s.token)
	if s.origToken == "" || s.destroyed {
		s.emit(Event{Kind: EventCreated, Session: id})
	} else if s.renewed {
		s.emit(Event{Kind: EventRenewed, Session: id, Previous: m.eventID(s.origToken)})
	}
	s.emit(Event{Kind: EventCommitted, Session: id})
}

func (s *Session) commitLocked(status int) error {
	if s.committed {
		return nil
	}
	s.committed = true
	if s.state != stateLoaded {
		return nil // never loaded: nothing read, nothing to save
	}
	h := s.w.Header()
	h.Add("Vary", s.transportName())
	if !s.changed && !s.staleSeal && !s.refreshDue && !s.renewDue && !s.forwarded && !s.rejected {
		return nil
	}
	if status >= 500 && !s.m.cfg.KeepChangesOnServerError {
		return nil // a failed request leaves the session as it was
	}
	if !s.changed && s.rejected {
		// A dead, forged or expired token: have the client drop it, so it
		// is not sent (and rejected) again on every request.
		s.dropToken(h)
		return nil
	}
	now := s.m.now()
	s.meta.seen = now.UnixMilli()
	if s.renewDue && !s.renewed && !s.destroyed {
		// Config.RenewEvery: a renewal like RenewID, but the old ID keeps
		// leading here for RenewGrace.
		s.token = newToken()
		s.renewed, s.graceRenew, s.changed = true, true, true
	}
	if s.renewed {
		s.meta.renewed = s.meta.seen
	}
	if s.m.sealer != nil {
		if err := s.saveCookie(h, now); err != nil {
			return err
		}
		if s.changed {
			s.emitSaved()
		}
		return nil
	}
	ctx, cancel := s.m.backendCtx(context.WithoutCancel(s.r.Context()))
	defer cancel()
	if !s.changed {
		if s.refreshDue {
			if err := s.touch(ctx); err != nil {
				// A failed refresh of a read-only request costs at most
				// some idle time; failing the request for it would cost
				// more.
				s.m.warn(ctx, "chisess: could not refresh the session's last use", "err", err)
				return nil
			}
			if s.m.cfg.Rolling && s.loadedOwner != "" {
				if err := s.indexAfterSave(ctx); err != nil {
					s.m.warn(ctx, "chisess: could not refresh the owner index", "err", err)
				}
			}
		}
		if s.forwarded || s.refreshDue && s.m.cfg.Rolling && s.persistent() {
			s.sendToken(h, s.token, now)
		}
		return nil
	}
	if err := s.saveServer(ctx); err != nil {
		return err
	}
	if err := s.indexAfterSave(ctx); err != nil {
		return err
	}
	s.emitSaved()
	if len(s.entries) == 0 {
		s.dropToken(h)
		return nil
	}
	s.sendToken(h, s.token, now)
	return nil
}

// persistent reports whether the session's cookie gets a Max-Age.
func (s *Session) persistent() bool {
	return s.m.cfg.Lifetime > 0 || s.meta.flags&flagRemember != 0
}

// sendToken hands the client the value that carries its session (the token,
// or the sealed session): a Set-Cookie, or the response header of
// [TokenHeader].
func (s *Session) sendToken(h http.Header, value string, now time.Time) {
	if s.header != "" {
		if s.m.sealer == nil && s.token == s.origToken && !s.forwarded {
			return // the client already holds this token
		}
		if s.bearer {
			value = "Bearer " + value
		}
		h.Set(s.header, value)
	} else {
		h.Add("Set-Cookie", s.m.setCookie(value, s.persistent(), s.m.lifetimeEnd(s.meta), now))
	}
	noStore(h)
}

// dropToken tells a client that sent a session token to forget it: an
// expired cookie, or an empty token header.
func (s *Session) dropToken(h http.Header) {
	if !s.hadToken {
		return
	}
	if s.header != "" {
		h.Set(s.header, "")
	} else {
		h.Add("Set-Cookie", s.m.expireCookie)
	}
	noStore(h)
}

// noStore marks a response that sets the session cookie as not cacheable:
// session identifiers must never be cached (OWASP).
func noStore(h http.Header) { h.Set("Cache-Control", "no-store") }

// saveCookie seals the session into its cookie, or expires the cookie of an
// emptied one. The cookie backend cannot see other requests, so between
// concurrent requests the last response the browser receives wins.
func (s *Session) saveCookie(h http.Header, now time.Time) error {
	m := s.m
	if len(s.entries) == 0 {
		s.dropToken(h)
		return nil
	}
	expires := m.expiresAt(s.meta)
	if s.header != "" {
		value, err := s.seal(nil, now, expires)
		if err != nil {
			return err
		}
		s.sendToken(h, string(value), now)
		return nil
	}
	// The Set-Cookie header is built in one buffer around the sealed value.
	bp := bufPool.Get().(*[]byte)
	b := append(append((*bp)[:0], m.cfg.CookieName...), '=')
	b, err := s.seal(b, now, expires)
	if err == nil {
		b = m.appendCookieAttrs(b, s.persistent(), m.lifetimeEnd(s.meta), now)
		h.Add("Set-Cookie", string(b))
		noStore(h)
	}
	*bp = b[:0]
	bufPool.Put(bp)
	return err
}

// seal appends the sealed session, for a cookie or token header, to dst.
func (s *Session) seal(dst []byte, now, expires time.Time) ([]byte, error) {
	m := s.m
	raw, ok := parseToken(s.ensureToken())
	if !ok {
		return dst, fmt.Errorf("chisess: bad session token")
	}
	bp := bufPool.Get().(*[]byte)
	payload := appendRecord(append((*bp)[:0], raw[:]...), s.meta, s.entries)
	dst, err := m.sealer.AppendSeal(dst, m.cfg.CookieName, payload, now, expires)
	clear(payload) // the session's data must not linger in the pool
	*bp = payload[:0]
	bufPool.Put(bp)
	if err != nil {
		return dst, fmt.Errorf("chisess: save session: %w", err)
	}
	return dst, nil
}

// bufPool recycles the scratch buffers of sealing and of Set-Cookie headers.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// saveServer writes a changed session to the backend. On return s.entries
// holds what is stored now (possibly with other requests' changes merged
// in); empty means the record was deleted.
func (s *Session) saveServer(ctx context.Context) error {
	switch {
	case s.origKey == "":
		// Nothing was loaded: a new session under a fresh token.
		return s.create(ctx)
	case s.destroyed:
		// Logout wins over anything concurrent: delete unconditionally.
		if err := s.m.backend.Delete(ctx, s.origKey); err != nil {
			return fmt.Errorf("chisess: delete session: %w", err)
		}
		return s.create(ctx)
	case s.renewed:
		return s.renew(ctx)
	default:
		return s.update(ctx)
	}
}

// create stores s under its (fresh) token, if it holds anything.
func (s *Session) create(ctx context.Context) error {
	if len(s.entries) == 0 {
		return nil
	}
	data := appendRecord(nil, s.meta, s.entries)
	if err := s.m.backend.Write(ctx, s.key(), data, s.ttl()); err != nil {
		return fmt.Errorf("chisess: save session: %w", err)
	}
	return nil
}

// key is the storage key of the session's current token.
func (s *Session) key() string {
	tok := s.ensureToken()
	if s.keyOf != tok {
		s.curKey, _ = storageKey(tok) // our own tokens always parse
		s.keyOf = tok
	}
	return s.curKey
}

func (s *Session) ttl() time.Duration {
	return s.m.expiresAt(s.meta).Sub(s.m.now())
}

// update applies this request's changes to the record it loaded, merging
// them into whatever other requests stored meanwhile.
func (s *Session) update(ctx context.Context) error {
	b := s.m.backend
	sw, atomic := b.(backend.Swapper)
	if !atomic {
		// Without Swap, read again just before writing: this keeps a
		// destroyed session dead and picks up other requests' keys, but
		// between this read and the write the last writer wins.
		if _, err := s.reload(ctx); err != nil {
			return err
		}
		if len(s.entries) == 0 {
			return wrapBackend("delete session", b.Delete(ctx, s.origKey))
		}
		return wrapBackend("save session", b.Write(ctx, s.origKey, appendRecord(nil, s.meta, s.entries), s.ttl()))
	}
	old := s.raw
	for range maxSwapAttempts {
		var data []byte // nil: the session is empty, delete it
		if len(s.entries) > 0 {
			data = appendRecord(nil, s.meta, s.entries)
		}
		ok, err := sw.Swap(ctx, s.origKey, old, data, s.ttl())
		if err != nil {
			return wrapBackend("save session", err)
		}
		if ok {
			s.raw = data
			return nil
		}
		if old, err = s.reload(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("chisess: save session: gave up after %d concurrent changes", maxSwapAttempts)
}

// reload reads the record under s.origKey again, checks that it is still
// this session's generation, and rebases this request's changes on it. It
// returns the record's bytes.
func (s *Session) reload(ctx context.Context) ([]byte, error) {
	data, err := s.m.backend.Read(ctx, s.origKey)
	if errors.Is(err, backend.ErrNotFound) {
		return nil, ErrSessionGone
	}
	if err != nil {
		return nil, wrapBackend("reload session", err)
	}
	if bytes.Equal(data, s.raw) {
		return data, nil
	}
	// Renewed by RenewEvery meanwhile: carry on under the new ID, whose
	// record starts a generation of its own.
	var newToken, newKey string
	if isForward(data) {
		var ok bool
		newToken, ok = openForward(s.origToken, data, s.m.now())
		if !ok || s.destroyed {
			return nil, ErrSessionGone
		}
		newKey, _ = storageKey(newToken)
		if data, err = s.m.backend.Read(ctx, newKey); err != nil {
			if errors.Is(err, backend.ErrNotFound) {
				return nil, ErrSessionGone
			}
			return nil, wrapBackend("reload session", err)
		}
	}
	md, entries, err := decodeRecord(data)
	if err != nil || (newToken == "" && md.gen != s.meta.gen) {
		return nil, ErrSessionGone
	}
	if newToken != "" {
		if s.graceRenew {
			// Our own periodic renewal lost the race to another one:
			// take the other's new ID instead.
			s.renewed, s.graceRenew = false, false
		}
		if !s.renewed {
			s.token = newToken
		}
		s.origToken, s.origKey, s.forwarded = newToken, newKey, true
	}
	s.entries = s.rebase(entries)
	mine := s.meta
	s.meta = md
	s.meta.seen = max(mine.seen, md.seen)
	if s.flagsSet {
		s.meta.flags = mine.flags
	}
	return data, nil
}

// rebase returns base with this request's changes applied: a Clear, then
// the keys it deleted, then the keys it set.
func (s *Session) rebase(base []entry) []entry {
	if s.cleared {
		base = base[:0]
	}
	for _, k := range s.deleted {
		for i := range base {
			if string(base[i].key) == k {
				base = append(base[:i], base[i+1:]...)
				break
			}
		}
	}
	for _, e := range s.entries {
		if !e.dirty {
			continue
		}
		found := false
		for i := range base {
			if bytes.Equal(base[i].key, e.key) {
				base[i] = e
				found = true
				break
			}
		}
		if !found {
			base = append(base, e)
		}
	}
	return base
}

// renew moves the session to its new token: write the new record, then
// delete the old one only if no other request changed it meanwhile (else
// merge and try again), so that neither a concurrent change nor a
// concurrent logout is lost.
func (s *Session) renew(ctx context.Context) error {
	b := s.m.backend
	sw, atomic := b.(backend.Swapper)
	old := s.raw
	if !atomic {
		var err error
		if old, err = s.reload(ctx); err != nil {
			return err
		}
		if !s.renewed {
			// reload gave up our periodic renewal for a concurrent one:
			// save into theirs.
			s.raw = old
			return s.update(ctx)
		}
	}
	newKey := s.key()
	gen := newGen() // a new ID ends the old generation
	// The old record is deleted, or, for a RenewEvery renewal, replaced by
	// a forward record that leads to the new ID for RenewGrace.
	var tomb []byte
	var tombTTL time.Duration
	if s.graceRenew {
		now := time.UnixMilli(s.meta.seen)
		var err error
		tombTTL = s.m.cfg.RenewGrace
		if tomb, err = forwardRecord(s.origToken, s.token, now, now.Add(tombTTL)); err != nil {
			return fmt.Errorf("chisess: renew session: %w", err)
		}
	}
	for range maxSwapAttempts {
		if len(s.entries) > 0 {
			md := s.meta
			md.gen = gen
			if err := b.Write(ctx, newKey, appendRecord(nil, md, s.entries), s.ttl()); err != nil {
				return wrapBackend("save renewed session", err)
			}
		}
		if !atomic {
			var err error
			if tomb != nil {
				err = b.Write(ctx, s.origKey, tomb, tombTTL)
			} else {
				err = b.Delete(ctx, s.origKey)
			}
			if err != nil {
				return fmt.Errorf("chisess: delete the old session after renewing its ID: %w", err)
			}
			s.meta.gen = gen
			return nil
		}
		ok, err := sw.Swap(ctx, s.origKey, old, tomb, tombTTL)
		if err != nil {
			return fmt.Errorf("chisess: delete the old session after renewing its ID: %w", err)
		}
		if ok {
			s.meta.gen = gen
			return nil
		}
		if old, err = s.reload(ctx); err != nil {
			if errors.Is(err, ErrSessionGone) {
				// Destroyed or renewed by another request meanwhile: the
				// copy under the new ID must not outlive it.
				_ = b.Delete(ctx, newKey)
			}
			return err
		}
		if !s.renewed {
			// reload gave up our periodic renewal for a concurrent one:
			// drop our copy and save into theirs.
			_ = b.Delete(ctx, newKey)
			s.raw = old
			return s.update(ctx)
		}
	}
	return fmt.Errorf("chisess: renew session: gave up after %d concurrent changes", maxSwapAttempts)
}

// touch records the last use of an unchanged session, for IdleTimeout and
// Rolling. It never re-creates a session that is gone, and gives way to any
// concurrent change (which recorded a use of its own).
func (s *Session) touch(ctx context.Context) error {
	b := s.m.backend
	data := appendRecord(nil, s.meta, s.entries)
	if sw, ok := b.(backend.Swapper); ok {
		_, err := sw.Swap(ctx, s.origKey, s.raw, data, s.ttl())
		return err
	}
	cur, err := b.Read(ctx, s.origKey)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return nil // gone: never bring it back
	case err != nil:
		return err
	case !bytes.Equal(cur, s.raw):
		return nil // changed meanwhile, and so used
	}
	return b.Write(ctx, s.origKey, data, s.ttl())
}

func wrapBackend(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("chisess: %s: %w", op, err)
}
