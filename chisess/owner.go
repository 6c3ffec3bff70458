package chisess

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chisess/kit/chisess/backend"
)

// ErrNoOwnerIndex is returned by the owner methods of [Manager] when the
// backend cannot list sessions by owner: the cookie backend, or a backend
// without backend.Indexer.
var ErrNoOwnerIndex = errors.New("chisess: the backend has no owner index")

// Reserved entries: they merge per key like any value, and Keys hides them.
const (
	ownerKey = "\x00owner"
	descKey  = "\x00desc"
)

// SetOwner ties the session to an owner, usually the user ID at login, so
// that [Manager.Sessions] can list the owner's sessions ("your devices")
// and [Manager.DestroyOwner] can end them all ("log out everywhere"). An
// empty owner unties it. With the cookie backend the owner is stored but
// cannot be listed. An owner must be valid UTF-8 without NUL bytes, which
// every backend can index (PostgreSQL stores it in a text column).
func (s *Session) SetOwner(owner string) error {
	if !utf8.ValidString(owner) || strings.IndexByte(owner, 0) >= 0 {
		return fmt.Errorf("chisess: owner %q is not valid UTF-8 without NUL bytes", owner)
	}
	if owner == "" {
		s.Delete(ownerKey)
		return nil
	}
	return s.Set(ownerKey, owner)
}

// Owner returns the session's owner, or "".
func (s *Session) Owner() string {
	o, _ := Get[string](s, ownerKey)
	return o
}

// SetDescription attaches a short description to the session, such as
// "Firefox on Linux", shown by [Manager.Sessions].
func (s *Session) SetDescription(d string) error { return s.Set(descKey, d) }

// Description returns the description set with [Session.SetDescription],
// or "".
func (s *Session) Description() string {
	d, _ := Get[string](s, descKey)
	return d
}

// Handle returns an identifier of the session that is safe to show and to
// send back in a form (for "log out this device"): a hash of the token,
// never the token itself. It is "" for the cookie backend and for a new
// session that has no token yet.
func (s *Session) Handle() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	if s.m.sealer != nil || s.token == "" {
		return ""
	}
	return s.key()
}

// SessionInfo describes one of an owner's live sessions.
type SessionInfo struct {
	// Handle identifies the session for [Manager.DestroySession]; compare
	// it with [Session.Handle] to mark the current one.
	Handle      string
	Description string
	CreatedAt   time.Time
	LastUsed    time.Time
	ExpiresAt   time.Time
	Remembered  bool
}

func (m *Manager) indexer() (backend.Indexer, error) {
	ix, ok := m.backend.(backend.Indexer)
	if !ok {
		return nil, ErrNoOwnerIndex
	}
	return ix, nil
}

// Sessions lists the owner's live sessions, most recently used first. It
// asks the backend's owner index and never scans all sessions. Expired and
// ended sessions are left out (and dropped from the index).
func (m *Manager) Sessions(ctx context.Context, owner string) ([]SessionInfo, error) {
	ix, err := m.indexer()
	if err != nil {
		return nil, err
	}
	ctx, cancel := m.backendCtx(ctx)
	defer cancel()
	keys, err := ix.Owned(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("chisess: list sessions: %w", err)
	}
	now := m.now()
	var infos []SessionInfo
	for _, key := range keys {
		data, err := m.backend.Read(ctx, key)
		if errors.Is(err, backend.ErrNotFound) {
			_ = ix.Unindex(ctx, owner, key) // stale: tidy up, best effort
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("chisess: list sessions: %w", err)
		}
		s := &Session{m: m}
		if s.meta, s.entries, err = decodeRecord(data); err != nil {
			continue
		}
		s.state = stateLoaded
		exp := m.expiresAt(s.meta)
		if o, _ := Get[string](s, ownerKey); o != owner || !now.Before(exp) {
			continue
		}
		desc, _ := Get[string](s, descKey)
		infos = append(infos, SessionInfo{
			Handle:      key,
			Description: desc,
			CreatedAt:   s.meta.createdAt(),
			LastUsed:    s.meta.seenAt(),
			ExpiresAt:   exp,
			Remembered:  s.meta.flags&flagRemember != 0,
		})
	}
	slices.SortFunc(infos, func(a, b SessionInfo) int { return b.LastUsed.Compare(a.LastUsed) })
	return infos, nil
}

// DestroySession ends one of the owner's sessions by its handle ("log out
// this device"). A handle that is not one of the owner's live sessions is
// not an error and changes nothing, so a forged handle cannot end another
// user's session. A request still holding the ended session fails with
// [ErrSessionGone] instead of bringing it back.
func (m *Manager) DestroySession(ctx context.Context, owner, handle string) error {
	infos, err := m.Sessions(ctx, owner)
	if err != nil {
		return err
	}
	for _, in := range infos {
		if in.Handle == handle {
			return m.destroyKey(ctx, owner, handle)
		}
	}
	return nil
}

// DestroyOwner ends every live session of the owner except keep (pass nil
// to end them all): "log out everywhere" and "log out everywhere else". It
// returns how many it ended.
func (m *Manager) DestroyOwner(ctx context.Context, owner string, keep *Session) (int, error) {
	infos, err := m.Sessions(ctx, owner)
	if err != nil {
		return 0, err
	}
	keepHandle := ""
	if keep != nil {
		keepHandle = keep.Handle()
	}
	n := 0
	for _, in := range infos {
		if in.Handle == keepHandle {
			continue
		}
		if err := m.destroyKey(ctx, owner, in.Handle); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (m *Manager) destroyKey(ctx context.Context, owner, key string) error {
	ctx, cancel := m.backendCtx(ctx)
	defer cancel()
	if err := m.backend.Delete(ctx, key); err != nil {
		return fmt.Errorf("chisess: destroy session: %w", err)
	}
	ix, _ := m.indexer()
	if err := ix.Unindex(ctx, owner, key); err != nil {
		return fmt.Errorf("chisess: destroy session: %w", err)
	}
	if m.cfg.OnEvent != nil {
		m.cfg.OnEvent(ctx, Event{Kind: EventDestroyed, Session: m.eventIDOfKey(key)})
	}
	return nil
}

// indexAfterSave keeps the owner index in step with a saved session: the
// new key under the current owner, the old key out from under the owner it
// had when loaded. It runs after the record is written, and its failure
// fails the request: an unindexed session would escape "log out everywhere".
func (s *Session) indexAfterSave(ctx context.Context) error {
	ix, ok := s.m.backend.(backend.Indexer)
	if !ok {
		return nil
	}
	owner := ""
	if i := s.find(ownerKey); i >= 0 {
		owner, _ = decodeValue[string](s.entries[i].val, s.m.cfg.Codec)
	}
	if owner == "" && s.loadedOwner == "" {
		return nil // never owned: nothing indexed, nothing to index
	}
	newKey := ""
	if len(s.entries) > 0 {
		newKey = s.key()
	}
	if s.loadedOwner != "" && s.origKey != "" && (s.origKey != newKey || owner != s.loadedOwner) {
		if err := ix.Unindex(ctx, s.loadedOwner, s.origKey); err != nil {
			return fmt.Errorf("chisess: owner index: %w", err)
		}
	}
	if owner == "" || newKey == "" {
		return nil
	}
	if newKey == s.origKey && owner == s.loadedOwner && !s.m.cfg.Rolling && !s.flagsSet {
		return nil // already indexed for the session's whole life
	}
	if err := ix.Index(ctx, owner, newKey, s.indexTTL()); err != nil {
		return fmt.Errorf("chisess: owner index: %w", err)
	}
	return nil
}

// indexTTL is how long an index entry must last: to the session's absolute
// end, which only Rolling moves (and then every save indexes again).
func (s *Session) indexTTL() time.Duration {
	return max(s.m.lifetimeEnd(s.meta).Sub(s.m.now()), time.Second)
}
