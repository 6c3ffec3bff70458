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
// every backend can index (PostgreSQL stores it in a text column). Like
// every change, it returns an error after the response has started.
func (s *Session) SetOwner(owner string) error {
	if !utf8.ValidString(owner) || strings.IndexByte(owner, 0) >= 0 {
		return fmt.Errorf("chisess: owner %q is not valid UTF-8 without NUL bytes", owner)
	}
	if owner == "" {
		return s.mutate("SetOwner", func() error {
			s.remove(ownerKey)
			return nil
		})
	}
	return s.setReserved("SetOwner", ownerKey, owner)
}

// setReserved stores a string under one of chisess's own keys.
func (s *Session) setReserved(op, key, v string) error {
	val, _ := encodeValue(v, s.m.cfg.Codec) // a string always encodes
	return s.mutate(op, func() error { return s.put(key, val) })
}

// Owner returns the session's owner, or "".
func (s *Session) Owner() string {
	o, _ := Get[string](s, ownerKey)
	return o
}

// SetDescription attaches a short description to the session, such as
// "Firefox on Linux", shown by [Manager.Sessions].
func (s *Session) SetDescription(d string) error {
	return s.setReserved("SetDescription", descKey, d)
}

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
	key, _ := s.m.storageKey(s.token)
	return key
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

// indexOwner is the name the owner index files owner under for m: the
// manager's namespace and the owner, so that two managers sharing one
// store keep separate indexes even for the same user IDs. A namespace
// holds no space, so the two parts cannot run into each other.
func (m *Manager) indexOwner(owner string) string {
	return m.cfg.Namespace + " " + owner
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
	keys, err := ix.Owned(ctx, m.indexOwner(owner))
	if err != nil {
		return nil, fmt.Errorf("chisess: list sessions: %w", err)
	}
	now := m.now()
	var infos []SessionInfo
	for _, key := range keys {
		got, err := m.read(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("chisess: list sessions: %w", err)
		}
		if got.kind == storedNone {
			_ = ix.Unindex(ctx, m.indexOwner(owner), key) // stale: tidy up, best effort
		}
		if got.kind != storedSession {
			continue // a renewed session is listed under its new key
		}
		exp := m.expiresAt(got.rec.meta)
		if ownerOf(got.rec) != owner || !now.Before(exp) {
			continue
		}
		desc := ""
		if i := got.rec.find(descKey); i >= 0 {
			desc, _ = decodeValue[string](got.rec.entries[i].val, m.cfg.Codec)
		}
		infos = append(infos, SessionInfo{
			Handle:      key,
			Description: desc,
			CreatedAt:   got.rec.meta.createdAt(),
			LastUsed:    got.rec.meta.seenAt(),
			ExpiresAt:   exp,
			Remembered:  got.rec.meta.flags&flagRemember != 0,
		})
	}
	slices.SortFunc(infos, func(a, b SessionInfo) int { return b.LastUsed.Compare(a.LastUsed) })
	return infos, nil
}

// DestroySession ends one of the owner's sessions by its handle ("log out
// this device"). A handle that is not one of the owner's live sessions is
// not an error and changes nothing, so a forged handle cannot end another
// user's session. A request still holding the ended session fails with
// [ErrStaleSession] instead of bringing it back.
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
// returns how many it ended. A session whose token another request is
// renewing at the same moment is followed to its new token and ended
// there.
func (m *Manager) DestroyOwner(ctx context.Context, owner string, keep *Session) (int, error) {
	ix, err := m.indexer()
	if err != nil {
		return 0, err
	}
	lctx, cancel := m.backendCtx(ctx)
	keys, err := ix.Owned(lctx, m.indexOwner(owner))
	cancel()
	if err != nil {
		return 0, fmt.Errorf("chisess: destroy sessions: %w", err)
	}
	kept, err := m.keptKeys(ctx, keep)
	if err != nil {
		return 0, fmt.Errorf("chisess: destroy sessions: %w", err)
	}
	n := 0
	for _, key := range keys {
		if slices.Contains(kept, key) {
			continue
		}
		// A key kept does not lead on to the session either: an index
		// entry of keep's from before a renewal whose Unindex failed is
		// such a key, and ending what it leads to would log out the very
		// session "log out everywhere else" keeps.
		ended, err := m.destroyKeyOf(ctx, owner, key, kept)
		if err != nil {
			return n, err
		}
		if ended {
			n++
		}
	}
	return n, nil
}

// keptKeys returns every key keep's session has, or has had since it was
// loaded: its key now, the one it was loaded under, and the keys that
// renewals by other requests meanwhile moved it to (followed through
// forward records), so that "log out everywhere else" spares it under
// each.
func (m *Manager) keptKeys(ctx context.Context, keep *Session) ([]string, error) {
	if keep == nil {
		return nil, nil
	}
	keep.mu.Lock()
	loaded := keep.src.key
	keep.mu.Unlock()
	kept := []string{keep.Handle()}
	for key, hop := loaded, 0; key != "" && hop <= maxForwardHops; hop++ {
		kept = append(kept, key)
		got, err := m.read(ctx, key)
		if err != nil {
			return nil, err
		}
		key = ""
		if got.kind == storedForward {
			key = got.fwd.next
		}
	}
	return kept, nil
}

func (m *Manager) destroyKey(ctx context.Context, owner, key string) error {
	_, err := m.destroyKeyOf(ctx, owner, key, nil)
	return err
}

// destroyKeyOf ends the owner's session stored under key, or where forward
// records lead from key unless they lead to a key in spare, and reports
// whether there was one to end.
func (m *Manager) destroyKeyOf(ctx context.Context, owner, key string, spare []string) (bool, error) {
	ctx, cancel := m.commitCtx(ctx)
	defer cancel()
	e, err := m.endFrom(ctx, key, nil, owner, spare)
	if err != nil {
		return false, fmt.Errorf("chisess: destroy session: %w", err)
	}
	m.dropForwards(ctx, e.passed)
	ix, _ := m.indexer()
	if err := ix.Unindex(ctx, m.indexOwner(owner), key); err != nil {
		return false, fmt.Errorf("chisess: destroy session: %w", err)
	}
	if e.key != "" && e.key != key {
		if err := ix.Unindex(ctx, m.indexOwner(owner), e.key); err != nil {
			return false, fmt.Errorf("chisess: destroy session: %w", err)
		}
	}
	if e.key == "" {
		return false, nil
	}
	if m.events {
		m.tell(ctx, Event{Kind: EventDestroyed, Session: m.eventIDOfKey(e.key)})
	}
	return true, nil
}

// ownerOf returns the owner a record names, or "". SetOwner always stores
// the owner as a string value, so it is read here without the codec.
func ownerOf(r record) string {
	if i := r.find(ownerKey); i >= 0 {
		if v := r.entries[i].val; v[0] == tagString {
			return string(v[1:])
		}
	}
	return ""
}

// indexes reports whether the backend keeps an owner index.
func (m *Manager) indexes() bool {
	_, ok := m.backend.(backend.Indexer)
	return ok
}

// reindex keeps the owner index in step with what a commit stored: the new
// key under the current owner, then the old key out from under the owner
// it had. An entry lasts as long as the session can (see indexTTL), so no
// read-only request need refresh it.
//
// It runs after the record is written. When the new entry cannot be made,
// the session just stored is ended, with a Config.Timeout of its own (the
// index call may have failed by using up the commit's), and the request
// fails: a live session missing from its owner's index would escape "log
// out everywhere". An old
// entry that cannot be removed is only stale, which the index allows (a
// listing skips sessions of another owner), so that is logged.
func (s *Session) reindex(ctx context.Context, out outcome) error {
	ix := s.m.backend.(backend.Indexer)
	owner, key := "", ""
	if out.kept {
		owner, key = ownerOf(s.rec), out.key
	}
	// The new entry goes in before the old one goes out, so that "log out
	// everywhere" listing the owner's sessions meanwhile finds the session
	// under one key or the other (an old key leads on to the new one
	// through the renewal's forward record).
	if owner != "" && key != "" && (key != out.prevKey || owner != out.prevOwner || s.edits.flags || s.edits.lifetime) {
		if err := ix.Index(ctx, s.m.indexOwner(owner), key, s.indexTTL()); err != nil {
			// The index call may have failed by using up the commit's
			// time (a slow backend): the end gets time of its own.
			ectx, cancel := s.m.commitCtx(ctx)
			defer cancel()
			if _, endErr := s.m.endFrom(ectx, key, nil, "", nil); endErr != nil {
				s.m.warn(ctx, "chisess: could not end a session missing from the owner index", "err", endErr)
			}
			return fmt.Errorf("chisess: owner index: %w", err)
		}
	}
	if out.prevOwner != "" && out.prevKey != "" && (out.prevKey != key || owner != out.prevOwner) {
		if err := ix.Unindex(ctx, s.m.indexOwner(out.prevOwner), out.prevKey); err != nil {
			s.m.warn(ctx, "chisess: could not remove a stale owner index entry", "err", err)
		}
	}
	return nil
}

// indexTTL is how long an index entry must last: to the end of the
// session's lifetime, which only RememberMe and SetLifetime move (and a
// commit that calls either indexes again), or with Rolling, where every use
// moves it, to MaxLifetime after its creation, which nothing moves.
func (s *Session) indexTTL() time.Duration {
	end := s.m.lifetimeEnd(s.rec.meta)
	if s.m.cfg.Rolling {
		end = s.rec.meta.createdAt().Add(s.m.cfg.MaxLifetime)
	}
	return max(end.Sub(s.m.now()), time.Second)
}
