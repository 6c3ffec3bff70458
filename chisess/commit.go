package chisess

import (
	"context"
	"net/http"
	"time"
)

// This file holds the commit: once, just before the response starts, the
// session's intent and origin are turned into a plan (planCommit, a pure
// function), and the plan is carried out in one place (Session.apply for the
// store, Session.respond for the token the client holds, then the owner
// index and the events).

// intent is what the request asked of its session; a later, stronger intent
// wins (a Set after RenewToken still renews; a Destroy ends whatever came
// before it, and what is set after it goes into a new session).
type intent uint8

const (
	intentKeep    intent = iota // at most read
	intentModify                // values or flags changed
	intentRenew                 // a new token (RenewToken)
	intentDestroy               // end the loaded session (Destroy)
)

// storeOp is what a commit does to the store.
type storeOp uint8

const (
	storeNone    storeOp = iota
	storeTouch           // record the last use of an unchanged session
	storeCreate          // store a new session under a fresh token
	storeUpdate          // merge the request's changes into the stored session
	storeRenew           // move the stored session to a new token
	storeDestroy         // end the loaded session, then create the new one if it holds anything
	storeSeal            // cookie backend: seal the session into the cookie
)

// tokenOp is what a commit tells the client about its token.
type tokenOp uint8

const (
	tokenNone    tokenOp = iota
	tokenSend            // the session's token (or sealed cookie) if a session was kept, else drop the client's
	tokenRefresh         // the token again, if the touch found the session live (a sliding cookie)
	tokenDrop            // tell the client to drop its dead token
)

// plan is what one commit does.
type plan struct {
	store storeOp
	// periodic: a renewal by age (RenewEvery): the session gets a new token
	// now, and on a server-side backend the old one leads to it for
	// RenewGrace.
	periodic bool
	token    tokenOp
	// refused: a Save after the response started cannot do what the
	// commit would, as that needs the response's headers (ErrHeadersSent).
	refused bool
}

// planInput is everything planCommit decides from.
type planInput struct {
	intent     intent
	origin     origin
	refreshDue bool // the last use should be recorded (IdleTimeout, Rolling)
	renewDue   bool // the token is older than RenewEvery
	resealDue  bool // cookie backend: sealed with a previous secret
	sealed     bool // cookie backend
	empty      bool // the session holds nothing after the request's changes
	failed     bool // a 5xx response without KeepChangesOnServerError
	hijacked   bool // the connection is hijacked: the response carries no token
	sliding    bool // the cookie's Max-Age moves with each use (Rolling and persistent)
	// started: a Save after the response started, whose headers are gone.
	started bool
	flags   bool // RememberMe or SetLifetime was called: the cookie's lifetime changes
}

// planCommit decides what a commit does. It is the one place where the
// rules of docs/backends.md ("What each backend promises") meet.
func planCommit(in planInput) plan {
	if in.started {
		return planSave(in)
	}
	live := in.origin >= originLoaded
	switch {
	case in.failed:
		return plan{} // a failed request leaves the session as it was
	case live && in.renewDue && in.intent < intentRenew && !in.hijacked:
		// RenewEvery: a renewal by age, on whatever request comes first
		// that can hand the client its new token (not a hijacked one).
		// The old token leads to the new one for RenewGrace.
		p := planCommit(planInput{intent: intentRenew, origin: in.origin, sealed: in.sealed, empty: in.empty})
		p.periodic = true
		return p
	case in.intent == intentKeep:
		return planKeep(in, live)
	case !live && in.origin == originAmbiguous && in.intent == intentDestroy:
		// A logout on a request that carried several live sessions (a
		// cookie planted beside the client's own): it ends every one of
		// them, and the client drops its cookie. The sealed cookie has
		// nothing on the server to end.
		switch {
		case !in.sealed:
			return plan{store: storeDestroy, token: tokenSend}
		case in.empty:
			return plan{token: tokenDrop}
		}
		return plan{store: storeSeal, token: tokenSend}
	case !live:
		// Nothing was loaded, so there is nothing to change, renew or end:
		// a new session, stored if it holds anything.
		switch {
		case !in.empty && in.sealed:
			return plan{store: storeSeal, token: tokenSend}
		case !in.empty:
			return plan{store: storeCreate, token: tokenSend}
		case in.origin == originRejected:
			return plan{token: tokenDrop}
		}
		return plan{}
	case in.sealed:
		return plan{store: storeSeal, token: tokenSend}
	}
	return plan{store: [...]storeOp{intentModify: storeUpdate, intentRenew: storeRenew, intentDestroy: storeDestroy}[in.intent], token: tokenSend}
}

// planSave plans a Save after the response started: what the commit would
// do, less what needs the response's headers, which are gone. The client's
// token stays as it is: no token is sent or dropped, a renewal by age waits
// for a later request, and a save that would have to hand the client a new
// token or cookie (a new session, an explicit renewal, a cookie lifetime
// changed by RememberMe or SetLifetime, the cookie backend) is refused. A Destroy ends
// the session on the server; the client's cookie, now dead, is dropped by
// its next request.
func planSave(in planInput) plan {
	in.started, in.renewDue = false, false
	p := planCommit(in)
	switch p.store {
	case storeCreate, storeRenew, storeSeal:
		return plan{refused: true}
	case storeDestroy:
		if !in.empty {
			return plan{refused: true} // values set after Destroy: a new session
		}
	}
	if in.flags {
		return plan{refused: true}
	}
	p.token = tokenNone
	return p
}

// planKeep plans the commit of a session the request at most read.
func planKeep(in planInput, live bool) plan {
	switch {
	case in.origin == originRejected:
		// A dead, forged or expired token: have the client drop it, so it
		// is not sent (and rejected) again on every request.
		return plan{token: tokenDrop}
	case !live:
		return plan{}
	case in.sealed && (in.refreshDue || in.resealDue):
		// The cookie carries the last use (and must be sealed with the
		// current secret): seal it again.
		return plan{store: storeSeal, token: tokenSend}
	case in.sealed:
		return plan{}
	case in.origin == originForwarded:
		// The client still holds the old token: check that the session
		// lives, and hand it the new one.
		return plan{store: storeTouch, token: tokenRefresh}
	case in.refreshDue && in.sliding:
		return plan{store: storeTouch, token: tokenRefresh}
	case in.refreshDue:
		return plan{store: storeTouch}
	}
	return plan{}
}

// outcome is what carrying out a plan's store operation did.
type outcome struct {
	kept      bool   // a session holding values is stored (or sealed) under s.token
	key       string // its storage key, server-side
	created   bool   // it is a new session
	renewed   bool   // it is the loaded session under a new token
	ended     bool   // the loaded session was ended (destroyed, or emptied)
	prevKey   string // the key the loaded session had, after following renewals
	prevOwner string // its owner
	alive     bool   // storeTouch: the session is still live
	raw       []byte // what was stored under key, when known
	retries   int    // swaps that did not take, each followed by a merge
}

// commit saves the session just before the response starts with status. It
// sets the response headers (Set-Cookie, Vary, Cache-Control) in h and returns
// the error that must replace the response, if any. It runs once.
func (s *Session) commit(status int, h http.Header) error {
	var w watch // the Observer's, when the commit stores something
	s.mu.Lock()
	err := s.commitLocked(status, h, &w)
	if err != nil {
		s.closed = true
		s.emit(Event{Kind: EventError, Err: err})
	}
	queued := s.events != nil
	s.mu.Unlock()
	ctx := s.st.r.Context()
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

// commitLocked is commit, called with s.mu held. When Config.Observer is
// set and the commit stores something, it starts w, and fills in w.obs.
func (s *Session) commitLocked(status int, h http.Header, w *watch) error {
	if s.committed {
		return nil
	}
	s.committed, s.status = true, int16(status)
	if !s.loaded {
		return nil // never loaded: nothing read, nothing to save
	}
	h.Add("Vary", s.st.transportName())
	p := planCommit(s.planInput(status))
	if p == (plan{}) {
		return nil
	}
	now := s.m.now()
	ctx := s.st.r.Context()
	if s.m.cfg.Observer != nil && p.store != storeNone {
		*w = s.m.watch(ctx, OpCommit)
		ctx = w.ctx
	}
	out, err := s.apply(ctx, p, now)
	if err == nil {
		err = s.respond(h, p, out, now)
	}
	if w.o != nil {
		w.done(s.observeCommit(p, out, err))
	}
	if err != nil {
		return err
	}
	s.emitCommitted(p, out)
	s.landed = landingOf(p, out, now)
	return nil
}

func (s *Session) planInput(status int) planInput {
	m := s.m
	return planInput{
		intent:     s.intent,
		origin:     s.src.origin,
		refreshDue: s.src.refreshDue,
		renewDue:   s.src.renewDue,
		resealDue:  s.src.resealDue,
		sealed:     m.sealer != nil,
		empty:      len(s.rec.entries) == 0,
		failed:     status >= 500 && !m.cfg.KeepChangesOnServerError,
		hijacked:   status == http.StatusSwitchingProtocols,
		sliding:    m.cfg.Rolling && s.persistent(),
	}
}

// apply carries out the plan's store operation, then keeps the owner index
// in step with it. ctx is the request's (or Save's): its values are kept,
// its cancellation is not.
func (s *Session) apply(ctx context.Context, p plan, now time.Time) (outcome, error) {
	if p.store == storeNone {
		return outcome{}, nil
	}
	s.rec.meta.seen = now.UnixMilli()
	if p.periodic {
		s.token = newToken()
	}
	if s.intent == intentRenew || p.periodic {
		s.rec.meta.renewed = s.rec.meta.seen
	}
	if p.store == storeSeal {
		return s.sealed(), nil
	}
	ctx, cancel := s.m.commitCtx(ctx)
	defer cancel()
	out, err := s.store(ctx, p, now)
	if err == nil && p.store != storeTouch && s.m.indexes() {
		err = s.reindex(ctx, out)
	}
	return out, err
}

// sealed is the outcome of sealing the session into its cookie, which
// Session.respond does: the cookie backend has no store to ask.
func (s *Session) sealed() outcome {
	loaded := s.src.origin >= originLoaded
	kept := len(s.rec.entries) > 0
	return outcome{
		kept:    kept,
		created: kept && (!loaded || s.intent == intentDestroy),
		renewed: kept && loaded && s.intent != intentDestroy && s.token != s.src.token,
		ended:   loaded && (!kept || s.intent == intentDestroy),
	}
}

// store carries out a server-side store operation.
func (s *Session) store(ctx context.Context, p plan, now time.Time) (outcome, error) {
	switch p.store {
	case storeTouch:
		alive, wrote, err := s.touch(ctx)
		if err != nil {
			// A failed refresh of a read-only request costs at most some
			// idle time; failing the request for it would cost more.
			s.m.warn(ctx, "chisess: could not refresh the session's last use", "err", err)
		}
		return outcome{alive: alive, raw: wrote}, nil
	case storeCreate:
		return s.create(ctx)
	case storeUpdate:
		return s.update(ctx)
	case storeRenew:
		return s.renew(ctx, p.periodic, now)
	}
	end := s.end
	if s.src.origin == originAmbiguous {
		end = s.endPresented
	}
	out, err := end(ctx, now)
	if err != nil || len(s.rec.entries) == 0 {
		return out, err
	}
	created, err := s.create(ctx)
	created.ended, created.prevKey, created.prevOwner, created.retries = out.ended, out.prevKey, out.prevOwner, out.retries
	return created, err
}

// persistent reports whether the session's cookie gets a Max-Age.
func (s *Session) persistent() bool {
	lifetime, _ := s.m.lifetimeOf(s.rec.meta)
	return lifetime > 0
}

// emitCommitted queues the events of a commit that went through.
func (s *Session) emitCommitted(p plan, out outcome) {
	m := s.m
	if !m.events || s.intent == intentKeep && !out.renewed {
		return // a refresh is not a save
	}
	if out.ended {
		prev := m.eventID(s.src.token)
		if out.prevKey != "" {
			prev = m.eventIDOfKey(out.prevKey)
		}
		s.emit(Event{Kind: EventDestroyed, Session: prev})
	}
	if !out.kept {
		return
	}
	id := m.eventID(s.token)
	switch {
	case out.created:
		s.emit(Event{Kind: EventCreated, Session: id})
	case out.renewed:
		s.emit(Event{Kind: EventRenewed, Session: id, Previous: m.eventID(s.src.token)})
	}
	s.emit(Event{Kind: EventCommitted, Session: id})
}
