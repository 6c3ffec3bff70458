package chisess

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// This file holds Session.Save: a change after the response has started,
// saved at once through the commit's own plan and store operations
// (planCommit, Session.apply), from where the last commit or Save left the
// session.

// Save runs change on the session and saves what it changed at once, for a
// handler whose response has started: a server-sent events stream or a
// WebSocket that changes the session while it runs. It returns change's
// error, or the save's: the backend's error (wrapped), [ErrStaleSession]
// when another request ended or renewed the session meanwhile, [ErrTooLarge]
// past the limits after merging. Then nothing of the change is kept and the
// session is as it was before Save. After the response has started, change
// is given a session of its own, on which every method that changes the
// session works as before the response; make the changes on it. Outside
// change, a change after the response has started is still refused with
// [ErrResponseStarted], including one another goroutine makes while change
// runs, and so is a Save inside change on the session change is given. A
// Save on the request's session (chisess.From) inside change waits for
// change to end, for ever: Saves run one at a time, and it cannot be told
// from another goroutine's. Name change's session s, so that the outer one
// is out of reach, and pass it to helpers:
//
//	err := s.Save(r.Context(), func(s *chisess.Session) error {
//		return s.Set("last_event", id)
//	})
//
// The save merges with concurrent requests exactly as the commit before the
// first byte does, keeps the owner index in step (SetOwner), and runs
// detached from ctx's cancellation within Config.Timeout, so a client that
// hangs up cannot stop it half-way. Each Save writes only what changed since
// the commit or the last Save; a Save with a nil change records the
// session's last use when the IdleTimeout or Rolling refresh is due, which
// keeps a long-lived connection's session alive.
//
// The response's headers are gone, so the client's token cannot change: a
// Save that would need a new token or cookie returns an error wrapping
// [ErrHeadersSent] and saves nothing: with the cookie backend, always; on a
// server-side backend, for a new session (the request carried none, or set
// values after Destroy), [Session.RenewToken], [Session.RememberMe],
// [Session.SetLifetime] and [Session.ResetLifetime] (the cookie's Max-Age
// would have to follow). A
// renewal by Config.RenewEvery waits for a later request. [Session.Destroy]
// works: the session ends on the server, and the client's cookie, which
// leads nowhere now, is dropped by its next request.
//
// After a commit that failed, or a response with a 5xx status (without
// Config.KeepChangesOnServerError), whose changes are not kept, Save returns
// an error wrapping [ErrResponseStarted]. Before the response has started,
// Save only runs change, and on change's error drops what it did, as it
// does after: the commit before the first byte saves the change with the
// rest. A Save inside change then runs as any change does. Save is safe to call many times, one at a time. It panics when the
// session is not loaded.
func (s *Session) Save(ctx context.Context, change func(*Session) error) error {
	s.saveMu.Lock()
	before, started, err := s.beginSave()
	if err != nil || !started {
		// Nothing to save: the change runs as any change before the
		// response does, and may itself call Save.
		s.saveMu.Unlock()
	} else {
		defer s.saveMu.Unlock()
	}
	switch {
	case err != nil:
		return err
	case !started:
		if change == nil {
			return nil
		}
		if err = change(s); err != nil {
			s.mu.Lock()
			if !s.committed {
				// Not yet saved by the commit: drop what the change did.
				// (Had the response started meanwhile, the commit would
				// have saved it already.)
				s.restore(before)
			}
			s.mu.Unlock()
		}
		return err
	}
	if change != nil {
		f := s.fork()
		err = change(f)
		s.adopt(f, err == nil)
	}
	var w watch // the Observer's, when the save stores something
	s.mu.Lock()
	if err == nil {
		err = s.saveLocked(ctx, &w)
	}
	if err != nil {
		s.restore(before)
	}
	queued := s.events != nil
	s.mu.Unlock()
	if w.o != nil {
		ctx = w.ctx
	}
	if queued {
		s.fire(ctx)
	}
	if w.o != nil {
		w.end(s.m)
	}
	return err
}

// beginSave checks that a Save after the response started can save, and
// opens the session to its change. It reports whether the response has
// started, and returns the session as it was, for a failed Save (before
// the response as after) to return to.
func (s *Session) beginSave() (before snapshot, started bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustLoaded()
	switch {
	case s.readOnly:
		return before, false, fmt.Errorf("%w: Save on a session from Manager.Inspect", ErrReadOnly)
	case s.saving:
		return before, true, fmt.Errorf("%w: Save inside a Save's change (make the change on the session the change was given)", ErrResponseStarted)
	case !s.committed:
		return s.snapshot(), false, nil
	case s.closed:
		return before, true, fmt.Errorf("%w: Save after the session failed to save at the first byte of %s %s", ErrResponseStarted, s.st.r.Method, s.st.r.URL.Path)
	case s.status >= 500 && !s.m.cfg.KeepChangesOnServerError:
		return before, true, fmt.Errorf("%w: Save in a response with status %d, whose changes are not kept (Config.KeepChangesOnServerError)", ErrResponseStarted, s.status)
	case s.m.sealer != nil:
		return before, true, fmt.Errorf("chisess: save: %w: the session lives in the cookie (%w)", ErrHeadersSent, ErrResponseStarted)
	}
	s.rebaseline()
	return s.snapshot(), true, nil
}

// fork returns the session a Save's change gets after the response has
// started: s as it is now, open to changes, held by the change alone.
// Changes from elsewhere, another goroutine of a stream, still find s
// closed to them (ErrResponseStarted) while the change runs, and a failed
// change leaves s untouched.
func (s *Session) fork() *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.snapshot()
	return &Session{m: s.m, st: s.st, loaded: true, committed: true, saving: true, status: s.status,
		outside: s.outside, landed: s.landed, src: s.src, intent: b.intent, token: b.token, rec: b.rec, edits: b.edits}
}

// adopt closes f, the fork s gave a Save's change, to further changes,
// and when ok takes in what the change did to it.
func (s *Session) adopt(f *Session, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saving = false // what still holds f can change nothing now
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec, s.edits, s.intent, s.token = f.rec, f.edits, f.intent, f.token
	s.events = append(s.events, f.events...)
}

// saveLocked saves the session's changes since the last commit or Save.
// Callers hold s.mu. When Config.Observer is set and the save stores
// something, it starts w, and fills in w.obs.
func (s *Session) saveLocked(ctx context.Context, w *watch) error {
	m := s.m
	now := m.now()
	in := s.planInput(int(s.status))
	in.started, in.flags = true, s.edits.flags || s.edits.lifetime
	every := m.refreshInterval(s.rec.meta) // the session's own window, as at load
	in.refreshDue = every > 0 && now.Sub(s.rec.meta.seenAt()) >= every
	p := planCommit(in)
	switch {
	case p.refused:
		return fmt.Errorf("chisess: save: %w: a new session, a new token or a new cookie lifetime must reach the client (%w)", ErrHeadersSent, ErrResponseStarted)
	case p == (plan{}):
		return nil
	}
	if m.cfg.Observer != nil && p.store != storeNone {
		*w = m.watch(ctx, OpCommit)
		ctx = w.ctx
	}
	out, err := s.apply(ctx, p, now)
	if w.o != nil {
		w.done(s.observeCommit(p, out, err))
	}
	if err != nil {
		s.emit(Event{Kind: EventError, Err: err})
		return err
	}
	s.emitCommitted(p, out)
	s.landed = landingOf(p, out, now)
	return nil
}

// landing is what the last commit or Save stored, for the next Save to
// start from; the zero value when it stored nothing. It keeps only what
// rebaseline needs, as every Session carries one.
type landing struct {
	at   time.Time
	key  string // landKept: the storage key
	raw  []byte // landKept, landTouched: what is stored there, when known
	kind landKind
}

type landKind uint8

const (
	landNothing landKind = iota // nothing was stored
	landSaved                   // a save that leaves the session where it was
	landKept                    // the session is stored under s.token, at key
	landEnded                   // nothing is stored for the client's token
	landTouched                 // the last use was recorded: raw is stored
)

// landingOf is the landing of a commit or Save that carried out p with
// outcome out at at.
func landingOf(p plan, out outcome, at time.Time) landing {
	l := landing{at: at, kind: landSaved}
	switch {
	case p == (plan{}):
		return landing{}
	case out.kept:
		l.kind, l.key, l.raw = landKept, out.key, out.raw
	case out.ended, p.store == storeDestroy:
		l.kind = landEnded
	case out.raw != nil:
		l.kind, l.raw = landTouched, out.raw
	}
	return l
}

// rebaseline makes what the last commit or Save stored the start of the
// next Save: the session as stored, with no changes of its own. Callers
// hold s.mu.
func (s *Session) rebaseline() {
	l := s.landed
	if l.kind == landNothing {
		return
	}
	s.landed = landing{}
	for i := range s.rec.entries {
		s.rec.entries[i].dirty = false
	}
	s.edits, s.intent = edits{}, intentKeep
	s.src.at, s.src.refreshDue = l.at, false
	switch l.kind {
	case landKept:
		s.src = source{origin: originLoaded, token: s.token, key: l.key, raw: l.raw,
			extent: s.rec.extent(), owner: ownerOf(s.rec), at: l.at}
	case landEnded:
		s.src, s.token, s.rec = source{at: l.at}, "", newRecord(l.at)
	case landTouched:
		s.src.raw = l.raw
	}
}

// snapshot is what a Save's change and save may alter of a session.
type snapshot struct {
	rec    record
	edits  edits
	intent intent
	token  string
}

func (s *Session) snapshot() snapshot {
	rec := s.rec
	rec.entries = slices.Clone(rec.entries)
	e := s.edits
	e.deleted = slices.Clone(e.deleted)
	return snapshot{rec: rec, edits: e, intent: s.intent, token: s.token}
}

func (s *Session) restore(b snapshot) {
	s.rec, s.edits, s.intent, s.token = b.rec, b.edits, b.intent, b.token
}
