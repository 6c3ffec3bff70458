package chisess

import (
	"context"
	"math/bits"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// This file holds what Config.Observer is told: the loads and commits of
// sessions, and every call a Manager makes to its backend, each with its
// duration and outcome. Nothing of it runs when Config.Observer is nil: the
// backend is then called directly, and a load or a commit checks one field.

// Observer is told about the work a [Manager] does: each load and commit of
// a session, and each call it makes to the backend inside them (or on its
// own, as [Manager.DestroyOwner] does), with how long it took and how it
// ended. It is the hook for tracing and metrics; the otelchisess module
// implements it for OpenTelemetry. Set it as Config.Observer.
//
// Start is called as an operation begins; the context it returns is the one
// the operation goes on with (a load's or commit's backend calls get it, so
// a span started there is their parent) and the one End gets. End is called
// once for every Start, with what the operation did. Event is called for
// every [Event], after Config.OnEvent, with the context of the load or
// commit it happened in; the event's Session and Previous hashes, which
// cost an HMAC each, are there only when Config.OnEvent is set too.
//
// An Observation carries no token, no storage key and no value: only
// sizes, counts, durations and outcomes. The methods run synchronously, on
// the goroutine doing the work, some while the session is locked; keep them
// fast and do not call the session from them. m is the manager doing the
// work, for its [Manager.Backend] and [Manager.CookieName].
type Observer interface {
	Start(ctx context.Context, m *Manager, op Op) context.Context
	End(ctx context.Context, m *Manager, o Observation)
	Event(ctx context.Context, m *Manager, e Event)
}

// Op names a piece of work an [Observer] is told about.
type Op uint8

const (
	// OpLoad: a session is loaded, by [Session.Load] or a middleware that
	// loads ([Autoload], [Require], ...), from its cookie and, with a
	// server-side backend, the backend's record.
	OpLoad Op = iota + 1
	// OpCommit: a session's changes are saved, before the response's
	// first byte or by [Session.Save]. A commit with nothing to store (a
	// request that only read the session) is not an operation.
	OpCommit
	// OpRead is a call to backend.Backend.Read.
	OpRead
	// OpWrite is a call to backend.Backend.Write.
	OpWrite
	// OpDelete is a call to backend.Backend.Delete.
	OpDelete
	// OpSwap is a call to backend.Swapper.Swap.
	OpSwap
	// OpIndex is a call to backend.Indexer.Index.
	OpIndex
	// OpUnindex is a call to backend.Indexer.Unindex.
	OpUnindex
	// OpOwned is a call to backend.Indexer.Owned.
	OpOwned
)

var opNames = [...]string{"", "load", "commit", "read", "write", "delete", "swap", "index", "unindex", "owned"}

func (op Op) String() string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return "unknown"
}

// Outcome says how a load or a commit ended.
type Outcome uint8

const (
	// OutcomeFailed: the operation failed; Observation.Err says why.
	OutcomeFailed Outcome = iota + 1
	// OutcomeNew: a load found no session to load (the request carried no
	// token, or came outside Config.Path): the session is new and empty.
	OutcomeNew
	// OutcomeLoaded: a load found a live session.
	OutcomeLoaded
	// OutcomeRejected: a load was given a token or cookie that leads to no
	// live session; Observation.Reason says why. The session is new.
	OutcomeRejected
	// OutcomeCreated: a commit stored a new session.
	OutcomeCreated
	// OutcomeSaved: a commit saved changes to a live session.
	OutcomeSaved
	// OutcomeRenewed: a commit moved the session to a new token.
	OutcomeRenewed
	// OutcomeDestroyed: a commit ended the session (Destroy, or emptied).
	OutcomeDestroyed
	// OutcomeTouched: a commit recorded the last use of an unchanged
	// session (IdleTimeout, Rolling).
	OutcomeTouched
)

var outcomeNames = [...]string{"", "failed", "new", "loaded", "rejected", "created", "saved", "renewed", "destroyed", "touched"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Observation is what an [Observer] learns when an operation ends.
type Observation struct {
	Op Op
	// Duration is how long the operation took, from Start until its work
	// was over: a load or commit's does not include the OnEvent hook its
	// events run before End.
	Duration time.Duration
	// Err is the error the operation returned, if any. For OpRead, a
	// missing record is an error wrapping backend.ErrNotFound: an answer,
	// not a failure of the backend.
	Err error

	// Outcome is how a load or a commit ended (OpLoad and OpCommit only).
	Outcome Outcome
	// Reason says why a load rejected the request's token, with
	// OutcomeRejected.
	Reason RejectReason
	// Bytes is the size of the session's record (its values and metadata,
	// encoded): for OpLoad, as loaded; for OpCommit, as saved (0 when it
	// ended). A server-side backend stores the record as is; the cookie
	// backend seals it, with the token, into a cookie value some 60 bytes
	// and a third larger. For OpRead, OpWrite and OpSwap it is the data
	// read or written.
	Bytes int
	// Keys is how many entries the session holds as loaded or saved (its
	// values, flash messages and owner), for OpLoad and OpCommit; for
	// OpOwned, how many keys the owner index listed.
	Keys int
	// Retries is how many times a commit read the session again and merged
	// its changes into what another request had saved meanwhile, after a
	// swap that did not take (OpCommit).
	Retries int
	// Swapped reports whether a swap took (OpSwap): false with a nil Err
	// means the record had changed, and the commit reads it again.
	Swapped bool
}

// watch is one load or commit that an Observer is told about.
type watch struct {
	o     Observer
	ctx   context.Context // the context Start returned
	start time.Time
	obs   Observation
}

// watch tells the Observer that op begins.
func (m *Manager) watch(ctx context.Context, op Op) watch {
	o := m.cfg.Observer
	return watch{o: o, ctx: o.Start(ctx, m, op), start: time.Now(), obs: Observation{Op: op}}
}

// done notes what the operation came to, and its duration, as soon as its
// work is over: before its events run the OnEvent hook, whose time is not
// the session's.
func (w *watch) done(o Observation) {
	o.Duration = time.Since(w.start)
	w.obs = o
}

// end tells the Observer that the operation is over, after its events.
func (w *watch) end(m *Manager) {
	w.o.End(w.ctx, m, w.obs)
}

// observeLoad is what a load tells the Observer, once s.load returned why
// and err.
func (s *Session) observeLoad(why RejectReason, err error) Observation {
	o := Observation{Op: OpLoad, Err: err, Reason: why}
	switch {
	case err != nil:
		o.Outcome = OutcomeFailed
	case s.src.origin >= originLoaded:
		o.Outcome, o.Bytes, o.Keys = OutcomeLoaded, s.rec.storedLen(), len(s.rec.entries)
	case why != 0:
		o.Outcome = OutcomeRejected
	default:
		o.Outcome = OutcomeNew
	}
	return o
}

// observeCommit is what a commit that carried out p tells the Observer.
func (s *Session) observeCommit(p plan, out outcome, err error) Observation {
	o := Observation{Op: OpCommit, Err: err, Retries: out.retries}
	switch {
	case err != nil:
		o.Outcome = OutcomeFailed
		return o
	case out.created:
		o.Outcome = OutcomeCreated
	case out.renewed:
		o.Outcome = OutcomeRenewed
	case out.ended:
		o.Outcome = OutcomeDestroyed
	case p.store == storeTouch, s.intent == intentKeep:
		o.Outcome = OutcomeTouched
	default:
		o.Outcome = OutcomeSaved
	}
	if out.kept || p.store == storeTouch {
		o.Bytes, o.Keys = s.rec.storedLen(), len(s.rec.entries)
	}
	return o
}

// storedLen is the length of r's stored form, exactly as appendTo writes
// it (encodedLen only bounds it).
func (r *record) storedLen() int {
	m := r.meta
	n := 1 + ulen(m.created) + ulen(m.seen) + ulen(m.gen) + ulen(m.flags) + ulen(m.renewed) + ulen(len(r.entries)) + r.size
	if m.flags&flagLifetime != 0 {
		n += ulen(m.lifetime) + ulen(m.since)
	}
	return n
}

// ulen is the length of v as a uvarint, negative numbers counted as
// appendTo writes them (as zero).
func ulen[T int | int64 | uint64](v T) int {
	return (bits.Len64(uint64(max(v, 0))|1) + 6) / 7
}

// observed is a backend whose calls an Observer is told about.
type observed struct {
	b  backend.Backend
	sw backend.Swapper
	ix backend.Indexer
	o  Observer
	m  *Manager
}

// observe returns b with every call told to o, with the optional powers
// (Swapper, Indexer) that b has, and no others.
func observe(b backend.Backend, o Observer, m *Manager) backend.Backend {
	ob := &observed{b: b, o: o, m: m}
	ob.sw, _ = b.(backend.Swapper)
	ob.ix, _ = b.(backend.Indexer)
	switch {
	case ob.sw != nil && ob.ix != nil:
		return struct {
			*observed
			observedSwap
			observedIndex
		}{ob, observedSwap{ob}, observedIndex{ob}}
	case ob.sw != nil:
		return struct {
			*observed
			observedSwap
		}{ob, observedSwap{ob}}
	case ob.ix != nil:
		return struct {
			*observed
			observedIndex
		}{ob, observedIndex{ob}}
	}
	return ob
}

func (b *observed) start(ctx context.Context, op Op) (context.Context, time.Time) {
	return b.o.Start(ctx, b.m, op), time.Now()
}

func (b *observed) end(ctx context.Context, start time.Time, o Observation) {
	o.Duration = time.Since(start)
	b.o.End(ctx, b.m, o)
}

func (b *observed) Read(ctx context.Context, key string) ([]byte, error) {
	ctx, start := b.start(ctx, OpRead)
	data, err := b.b.Read(ctx, key)
	b.end(ctx, start, Observation{Op: OpRead, Err: err, Bytes: len(data)})
	return data, err
}

func (b *observed) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	ctx, start := b.start(ctx, OpWrite)
	err := b.b.Write(ctx, key, data, ttl)
	b.end(ctx, start, Observation{Op: OpWrite, Err: err, Bytes: len(data)})
	return err
}

func (b *observed) Delete(ctx context.Context, key string) error {
	ctx, start := b.start(ctx, OpDelete)
	err := b.b.Delete(ctx, key)
	b.end(ctx, start, Observation{Op: OpDelete, Err: err})
	return err
}

type observedSwap struct{ b *observed }

func (s observedSwap) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	ctx, start := s.b.start(ctx, OpSwap)
	ok, err := s.b.sw.Swap(ctx, key, old, data, ttl)
	s.b.end(ctx, start, Observation{Op: OpSwap, Err: err, Bytes: len(data), Swapped: ok})
	return ok, err
}

type observedIndex struct{ b *observed }

func (x observedIndex) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	ctx, start := x.b.start(ctx, OpIndex)
	err := x.b.ix.Index(ctx, owner, key, ttl)
	x.b.end(ctx, start, Observation{Op: OpIndex, Err: err})
	return err
}

func (x observedIndex) Unindex(ctx context.Context, owner, key string) error {
	ctx, start := x.b.start(ctx, OpUnindex)
	err := x.b.ix.Unindex(ctx, owner, key)
	x.b.end(ctx, start, Observation{Op: OpUnindex, Err: err})
	return err
}

func (x observedIndex) Owned(ctx context.Context, owner string) ([]string, error) {
	ctx, start := x.b.start(ctx, OpOwned)
	keys, err := x.b.ix.Owned(ctx, owner)
	x.b.end(ctx, start, Observation{Op: OpOwned, Err: err, Keys: len(keys)})
	return keys, err
}
