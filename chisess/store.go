package chisess

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// This file holds what a commit does to a server-side backend: create a
// session, merge a request's changes into the stored one (update), move it
// to a new token (renew), end it (end), or record its last use (touch).
// Each reads the store again when another request changed it meanwhile
// (reload) and replays the request's changes on what it finds (rebase), so
// that nothing another request saved is lost and nothing another request
// ended comes back.

// maxSwapAttempts bounds the read-merge-swap loop of one commit. Every lost
// swap means another request's commit went through, so the loop only runs
// long under heavy contention on one session; the backend timeout bounds it
// in time as well.
const maxSwapAttempts = 1000

type storedKind uint8

const (
	storedNone    storedKind = iota // no live record under the key
	storedSession                   // a session record
	storedForward                   // a renewed session's forward record
	storedCorrupt                   // bytes that are neither
)

// stored is what a backend holds under one key.
type stored struct {
	kind storedKind
	raw  []byte
	rec  record
	fwd  forward
}

// read reads and decodes what the backend holds under key.
func (m *Manager) read(ctx context.Context, key string) (stored, error) {
	ctx, cancel := m.backendCtx(ctx)
	data, err := m.backend.Read(ctx, key)
	cancel()
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return stored{}, nil
	case err != nil:
		return stored{}, err
	case len(data) > 0 && data[0] == forwardVersion:
		if f, ok := decodeForward(data); ok {
			return stored{kind: storedForward, raw: data, fwd: f}, nil
		}
	default:
		if rec, err := decodeRecord(data); err == nil {
			return stored{kind: storedSession, raw: data, rec: rec}, nil
		}
	}
	return stored{kind: storedCorrupt, raw: data}, nil
}

// position is where a commit's merge stands: the record stored under key
// (the token's), as last read, and the request's changes replayed on it.
type position struct {
	key, token string
	raw        []byte // what the store held when last read, for Swap
	gen        uint64 // the generation of that record
	owner      string // its owner, for the owner index
	base       extent // what raw holds, for the limits
	rec        record // base with the request's changes applied
}

// loadedPosition is where a commit starts: the session as loaded, with the
// request's changes.
func (s *Session) loadedPosition() position {
	return position{key: s.src.key, token: s.src.token, raw: s.src.raw, gen: s.rec.meta.gen, owner: s.src.owner, base: s.src.extent, rec: s.rec}
}

// reload reads at's key again after another request changed it, and
// returns where the merge stands now. When the session was renewed by
// RenewEvery meanwhile, it follows the forward record to the new token
// (whose record has a generation of its own) if follow allows. It returns
// ErrStaleSession when the session is gone, or was renewed by RenewToken.
func (s *Session) reload(ctx context.Context, at position, follow bool) (position, error) {
	got, err := s.m.read(ctx, at.key)
	for hop := 0; err == nil && got.kind == storedForward; hop++ {
		next, ok := got.fwd.open(at.token, s.m.now())
		if !ok || !follow || hop == maxForwardHops {
			return at, ErrStaleSession
		}
		at = position{key: got.fwd.next, token: next}
		got, err = s.m.read(ctx, at.key)
		at.gen = got.rec.meta.gen
	}
	switch {
	case err != nil:
		return at, wrapBackend("reload session", err)
	case got.kind != storedSession || got.rec.meta.gen != at.gen:
		return at, ErrStaleSession
	}
	at.raw, at.owner, at.base = got.raw, ownerOf(got.rec), got.rec.extent()
	at.rec = s.rebase(got.rec)
	return at, nil
}

// rebase returns base with this request's changes applied: a Clear, then
// the keys it deleted, then the keys it set, and the settings it chose
// (RememberMe, the session's own lifetime), each replacing only its own. The
// flash messages it added go after those queued meanwhile, so the queue is
// in the order messages were saved. The last use recorded is the later of
// the two.
func (s *Session) rebase(base record) record {
	if s.edits.cleared {
		base.entries, base.size = nil, 0
	}
	for _, k := range s.edits.deleted {
		if i := base.find(k); i >= 0 {
			base.remove(i)
		}
	}
	last := lastFlash(base)
	for _, e := range s.rec.entries {
		if !e.dirty {
			continue
		}
		key := string(e.key)
		if at, ok := flashTime(e.key); ok {
			last = max(at, last+1)
			key = flashKey(last, e.key)
		}
		base.set(base.find(key), key, e.val)
	}
	base.meta.seen = max(base.meta.seen, s.rec.meta.seen)
	if s.edits.flags {
		base.meta.flags = base.meta.flags&^flagRemember | s.rec.meta.flags&flagRemember
	}
	if s.edits.lifetime {
		base.meta.flags = base.meta.flags&^flagLifetime | s.rec.meta.flags&flagLifetime
		base.meta.lifetime, base.meta.since = s.rec.meta.lifetime, s.rec.meta.since
	}
	return base
}

// encode is the stored form of r, nil when it is empty (a swap to nil
// deletes), or an error when merging took it past the limits, or further
// past them than base, the extent of the stored record it was merged onto
// (zero for a new session).
func (m *Manager) encode(r *record, base extent) ([]byte, error) {
	if len(r.entries) == 0 {
		return nil, nil
	}
	if err := m.withinLimits(r.extent(), base); err != nil {
		return nil, fmt.Errorf("chisess: save session: %w", err)
	}
	return r.appendTo(nil), nil
}

// create stores the session under its (fresh) token, if it holds anything.
func (s *Session) create(ctx context.Context) (outcome, error) {
	if len(s.rec.entries) == 0 {
		return outcome{}, nil
	}
	key, _ := s.m.storageKey(s.ensureToken()) // our own tokens always parse
	data, err := s.m.encode(&s.rec, extent{})
	if err == nil {
		err = wrapBackend("save session", s.m.backend.Write(ctx, key, data, s.m.ttl(s.rec.meta)))
	}
	return outcome{kept: err == nil, created: true, key: key, raw: data}, err
}

// update applies the request's changes to the session it loaded, merging
// them into whatever other requests stored meanwhile.
func (s *Session) update(ctx context.Context) (outcome, error) {
	at := s.loadedPosition()
	sw, atomic := s.m.backend.(backend.Swapper)
	retries := 0
	for range maxSwapAttempts {
		if !atomic {
			// Without Swap, read again just before writing: this keeps an
			// ended session dead and picks up other requests' keys, but
			// between this read and the write the last writer wins.
			var err error
			if at, err = s.reload(ctx, at, true); err != nil {
				return outcome{}, err
			}
		}
		data, err := s.m.encode(&at.rec, at.base)
		if err != nil {
			return outcome{}, err
		}
		ok := true
		switch {
		case atomic:
			ok, err = sw.Swap(ctx, at.key, at.raw, data, s.m.ttl(at.rec.meta))
		case data == nil:
			err = s.m.backend.Delete(ctx, at.key)
		default:
			err = s.m.backend.Write(ctx, at.key, data, s.m.ttl(at.rec.meta))
		}
		if err != nil {
			return outcome{}, wrapBackend("save session", err)
		}
		if ok {
			s.token = at.token // a renewal followed meanwhile: the client needs its token
			out := s.settled(at, at.key, data != nil)
			out.raw, out.retries = data, retries
			return out, nil
		}
		retries++
		if at, err = s.reload(ctx, at, true); err != nil {
			return outcome{}, err
		}
	}
	return outcome{}, fmt.Errorf("chisess: save session: gave up after %d concurrent changes", maxSwapAttempts)
}

// settled records where the session ends up after a merge that started
// from at: stored under key if kept, ended if not.
func (s *Session) settled(at position, key string, kept bool) outcome {
	s.rec = at.rec
	out := outcome{kept: kept, ended: !kept, prevKey: at.key, prevOwner: at.owner}
	if kept {
		out.key = key
	}
	return out
}

// renew moves the session to its new token s.token: write the new record,
// then replace the old one with a forward record (loadable for RenewGrace
// after a periodic renewal) only if no other request changed it
// meanwhile, else merge and try again, so that neither a concurrent change
// nor a concurrent logout is lost.
func (s *Session) renew(ctx context.Context, periodic bool, now time.Time) (outcome, error) {
	at := s.loadedPosition()
	sw, atomic := s.m.backend.(backend.Swapper)
	newKey, _ := s.m.storageKey(s.token)
	gen := newGen()   // a new token starts a generation of its own
	reload := !atomic // without Swap, read again before every write
	retries := 0
	for range maxSwapAttempts {
		if reload {
			var err error
			if at, err = s.reloadRenewal(ctx, at, periodic, newKey); err != nil {
				return outcome{}, err
			}
			if at.token != s.src.token && periodic {
				// Another request's periodic renewal won: save into it.
				s.token = at.token
				out, err := s.updateFrom(ctx, at)
				out.retries += retries
				return out, err
			}
		}
		reload = true
		next := at.rec
		next.meta.gen, next.meta.renewed = gen, now.UnixMilli()
		data, fwd, err := s.copyRenewed(ctx, at.token, &next, at.base, newKey, periodic, now)
		if err != nil {
			return outcome{}, err
		}
		ok, err := s.retire(ctx, sw, at, fwd)
		if err != nil {
			if !s.m.retired(ctx, at.key, fwd) {
				s.m.discard(ctx, newKey) // nobody holds its token
				return outcome{}, err
			}
			// The retire landed and only its answer was lost: the
			// renewal stands, and goes on as one that succeeded (its
			// owner index entry included).
			ok = true
		}
		if ok {
			at.rec = next
			out := s.settled(at, newKey, len(next.entries) > 0)
			out.renewed, out.raw, out.retries = out.kept, data, retries
			return out, nil
		}
		retries++
	}
	return outcome{}, fmt.Errorf("chisess: renew session: gave up after %d concurrent changes", maxSwapAttempts)
}

// copyRenewed writes next, the renewed session, under newKey, and returns
// what it wrote and the forward record that is to replace the old one under
// oldToken; both nil when the session is empty, and so only deleted (with
// any copy an earlier attempt wrote under newKey).
func (s *Session) copyRenewed(ctx context.Context, oldToken string, next *record, base extent, newKey string, periodic bool, now time.Time) (data, fwd []byte, err error) {
	data, err = s.m.encode(next, base)
	if err != nil {
		return nil, nil, err
	}
	if data == nil {
		return nil, nil, wrapBackend("save renewed session", s.m.backend.Delete(ctx, newKey))
	}
	if err := s.m.backend.Write(ctx, newKey, data, s.m.ttl(next.meta)); err != nil {
		return nil, nil, wrapBackend("save renewed session", err)
	}
	fwd, err = forwardRecord(oldToken, s.token, newKey, periodic, now, now.Add(s.m.cfg.RenewGrace))
	if err != nil {
		return nil, nil, fmt.Errorf("chisess: renew session: %w", err)
	}
	return data, fwd, nil
}

// retire replaces the old record of a renewed session with its forward
// record (or deletes it, when fwd is nil), if it is still what at read.
func (s *Session) retire(ctx context.Context, sw backend.Swapper, at position, fwd []byte) (bool, error) {
	var err error
	ok := true
	switch {
	case sw != nil:
		ok, err = sw.Swap(ctx, at.key, at.raw, fwd, s.m.cfg.RenewGrace)
	case fwd == nil:
		err = s.m.backend.Delete(ctx, at.key)
	default:
		err = s.m.backend.Write(ctx, at.key, fwd, s.m.cfg.RenewGrace)
	}
	if err != nil {
		return false, fmt.Errorf("chisess: retire the old token after renewing: %w", err)
	}
	return ok, nil
}

// reloadRenewal is reload for a renewal: an explicit renewal may follow a
// concurrent periodic one and renew from there; a periodic one gives way to
// it. When the session is gone, or the renewal gives way, the copy written
// under newKey (if any) must not outlive it.
func (s *Session) reloadRenewal(ctx context.Context, at position, periodic bool, newKey string) (position, error) {
	next, err := s.reload(ctx, at, true)
	if err != nil || next.token != at.token && periodic {
		s.m.discard(ctx, newKey)
	}
	return next, err
}

// retired reports whether the old key of a renewal whose retire call
// failed holds fwd after all: a write can land and still answer with an
// error (a reply that came after the deadline, a connection lost after the
// server ran it), and the forward record then leads a client holding the
// old token to the copy. It reads the old key with a Config.Timeout of its
// own. When it cannot tell, it answers false: the renewal fails and its
// copy is discarded, which at worst logs the user out, rather than leave a
// copy that a client could reach and that no owner index lists.
func (m *Manager) retired(ctx context.Context, oldKey string, fwd []byte) bool {
	if fwd == nil {
		return false // no forward record to lead anywhere
	}
	rctx, cancel := m.commitCtx(ctx)
	defer cancel()
	got, err := m.backend.Read(rctx, oldKey)
	return err == nil && bytes.Equal(got, fwd)
}

// discard deletes the copy a renewal wrote under key when the renewal
// cannot go on, best effort (nobody holds its token, and its TTL ends it
// anyway), with a Config.Timeout of its own: the renewal may have failed
// by using up ctx's.
func (m *Manager) discard(ctx context.Context, key string) {
	dctx, cancel := m.commitCtx(ctx)
	defer cancel()
	_ = m.backend.Delete(dctx, key)
}

// updateFrom is update starting from at instead of the loaded session.
func (s *Session) updateFrom(ctx context.Context, at position) (outcome, error) {
	s.src.key, s.src.token, s.src.raw, s.src.owner = at.key, at.token, at.raw, at.owner
	s.src.origin = originForwarded
	s.rec = at.rec
	return s.update(ctx)
}

// end ends the session the request loaded, wherever renewals made since
// have moved it. When the loaded record is simply gone, the session has
// ended already, unless the request loaded it so long ago that a renewal's
// forward record could have expired since: then it cannot tell, and fails
// with ErrStaleSession rather than answer as if the session were over.
func (s *Session) end(ctx context.Context, now time.Time) (outcome, error) {
	raw := s.src.raw
	if _, atomic := s.m.backend.(backend.Swapper); !atomic {
		raw = nil // read first: the key may hold a forward record by now
	}
	e, err := s.m.endFrom(ctx, s.src.key, raw, "", nil)
	if err != nil {
		return outcome{}, wrapBackend("delete session", err)
	}
	if e.key == "" && len(e.passed) == 0 && now.Sub(s.src.at) >= s.m.cfg.RenewGrace/2 {
		return outcome{}, ErrStaleSession
	}
	s.m.dropForwards(ctx, e.passed)
	if e.key == "" {
		return outcome{ended: true, prevKey: s.src.key, prevOwner: s.src.owner, retries: e.retries}, nil
	}
	return outcome{ended: true, prevKey: e.key, prevOwner: e.owner, retries: e.retries}, nil
}

// endPresented ends every live session the request's tokens lead to: the
// logout of a request whose cookies were ambiguous (several of the
// session's name, leading to different sessions, or more than are tried at
// load).
func (s *Session) endPresented(ctx context.Context, now time.Time) (outcome, error) {
	values, _ := s.st.presented(make([]string, 0, 64))
	out := outcome{ended: true}
	for _, v := range values {
		src, _, why, err := s.m.open(ctx, v, now)
		if err != nil {
			return outcome{}, err
		}
		if why != 0 || src.key == "" {
			continue
		}
		e, err := s.m.endFrom(ctx, src.key, nil, "", nil)
		if err != nil {
			return outcome{}, wrapBackend("delete session", err)
		}
		s.m.dropForwards(ctx, e.passed)
		out.prevKey, out.prevOwner = cmp.Or(out.prevKey, e.key), cmp.Or(out.prevOwner, e.owner)
		out.retries += e.retries
	}
	return out, nil
}

// ending is what endFrom found and ended.
type ending struct {
	key, owner string   // the live record it deleted, and its owner; "" for none
	passed     []string // the forward records that led there
	retries    int      // swaps that did not take, each followed by a read
}

// endFrom deletes the live session stored under key, or the one the forward
// records of renewals lead to from key. Each delete is a swap against what
// was read, so a renewal that moves the session meanwhile is followed too.
// raw, when not nil, is what the caller read under key, saving a read. With
// want set, a session owned by someone else is left alone, and so is one
// that the forward records lead to under a key in spare.
func (m *Manager) endFrom(ctx context.Context, key string, raw []byte, want string, spare []string) (ending, error) {
	sw, atomic := m.backend.(backend.Swapper)
	var e ending
	for range maxSwapAttempts {
		if raw != nil {
			ok := true
			var err error
			if atomic {
				ok, err = sw.Swap(ctx, key, raw, nil, 0)
			} else {
				err = m.backend.Delete(ctx, key)
			}
			if err != nil {
				return e, err
			}
			if ok {
				e.key = key
				return e, nil
			}
			e.retries++
		}
		got, err := m.read(ctx, key)
		switch {
		case err != nil:
			return e, err
		case got.kind == storedForward && slices.Contains(spare, got.fwd.next):
			// A key the session had before a renewal, which leads to a
			// session to spare: leave both, and the forward records.
			return ending{}, nil
		case got.kind == storedForward:
			e.passed, key, raw = append(e.passed, key), got.fwd.next, nil
		case got.kind != storedSession:
			return e, nil // ended already
		default:
			raw, e.owner = got.raw, ownerOf(got.rec)
			if want != "" && e.owner != want {
				// Someone else's now: leave it, and the forward records
				// that lead to it, which a logout of it may still follow.
				return ending{}, nil
			}
		}
	}
	return e, fmt.Errorf("gave up after %d concurrent changes", maxSwapAttempts)
}

// dropForwards deletes the forward records an ending session passed. They
// lead nowhere now, so a failure costs only their space until they expire.
func (m *Manager) dropForwards(ctx context.Context, keys []string) {
	for _, k := range keys {
		if err := m.backend.Delete(ctx, k); err != nil {
			m.warn(ctx, "chisess: could not delete a forward record", "err", err)
		}
	}
}

// touch records the last use of an unchanged session, for IdleTimeout and
// Rolling. It never re-creates a session that is gone, and gives way to any
// concurrent change (which recorded a use of its own). It reports whether
// the session is still live, and what it wrote, if anything.
func (s *Session) touch(ctx context.Context) (alive bool, wrote []byte, err error) {
	data := s.rec.appendTo(nil)
	ttl := s.m.ttl(s.rec.meta)
	if sw, ok := s.m.backend.(backend.Swapper); ok {
		switch ok, err := sw.Swap(ctx, s.src.key, s.src.raw, data, ttl); {
		case err != nil:
			return false, nil, err
		case ok:
			return true, data, nil
		}
	}
	got, err := s.m.read(ctx, s.src.key)
	switch {
	case err != nil:
		return false, nil, err
	case got.kind != storedSession || got.rec.meta.gen != s.rec.meta.gen:
		return false, nil, nil // gone or renewed: never bring it back
	case !bytes.Equal(got.raw, s.src.raw):
		// Changed meanwhile, and so used. The cookie this response sends
		// follows what is stored now (a lifetime another request set, a
		// RememberMe it turned off), not the copy this request loaded.
		s.rec = s.rebase(got.rec)
		s.src.raw, s.src.owner, s.src.extent = got.raw, ownerOf(got.rec), got.rec.extent()
		return true, nil, nil
	}
	if err := s.m.backend.Write(ctx, s.src.key, data, ttl); err != nil {
		return true, nil, err
	}
	return true, data, nil
}

// ttl is how long the backend must keep a session with metadata md, rounded
// up to the millisecond so that no backend drops it before it ends.
func (m *Manager) ttl(md meta) time.Duration {
	d := m.expiresAt(md).Sub(m.now())
	if r := d % time.Millisecond; r > 0 {
		d += time.Millisecond - r
	}
	return d
}

func wrapBackend(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("chisess: %s: %w", op, err)
}

// backendCtx gives one backend call its own deadline. Commits pass a context
// already detached from the request's cancellation.
func (m *Manager) backendCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if !m.timeouts {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.cfg.Timeout)
}

// commitCtx is the context of a commit's backend calls: detached from the
// request's cancellation, so a client that hangs up cannot stop a logout
// half-way, and bounded by Config.Timeout.
func (m *Manager) commitCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return m.backendCtx(context.WithoutCancel(ctx))
}
