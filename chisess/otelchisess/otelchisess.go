// Package otelchisess instruments chisess sessions with OpenTelemetry: a
// span for each load and commit of a session, with a child span for each
// backend call made inside it, and metrics of sessions created, renewed,
// destroyed and rejected, of commits by outcome, of load, commit and backend
// call latency, and of backend errors.
//
// Make an [Observer] and set it as the chisess.Config.Observer of a
// Manager:
//
//	sessions, err := chisess.New(chisess.Config{
//		Backend:  store,
//		Observer: otelchisess.NewObserver(otelchisess.WithTracerProvider(tp), otelchisess.WithMeterProvider(mp)),
//	})
//
// With no providers given it uses the global ones (otel.GetTracerProvider,
// otel.GetMeterProvider). The instrumentation scope's name is [ScopeName],
// the package's import path, and its version is [Version].
//
// Nothing it records carries a session token, a storage key (a hash of the
// token) or a value: only the backend's kind, outcomes, reasons, sizes,
// counts and durations. docs/observability.md lists every span, attribute
// and metric.
//
// This package is its own module, so that an application that does not
// import it has no OpenTelemetry dependency through chisess.
package otelchisess

import (
	"context"
	"errors"
	"path"
	"reflect"
	"sync"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the name of the instrumentation scope of the spans and
// metrics: this package's import path.
const ScopeName = "github.com/chisess/kit/chisess/otelchisess"

// The attributes of the spans and metrics.
const (
	// BackendKey is where sessions are stored: "cookie", "memory",
	// "redis", "postgresql", "bolt", or another backend's package name
	// (see WithBackendName).
	BackendKey = attribute.Key("chisess.backend")
	// OutcomeKey is how a load or a commit ended: a chisess.Outcome,
	// "new", "loaded", "rejected", "created", "saved", "renewed",
	// "destroyed", "touched" or "failed".
	OutcomeKey = attribute.Key("chisess.outcome")
	// RejectReasonKey says why a session cookie was rejected: a
	// chisess.RejectReason, "malformed", "tampered", "expired", "unknown"
	// or "ambiguous".
	RejectReasonKey = attribute.Key("chisess.reject.reason")
	// SizeKey is the size of the session's record in bytes, as loaded or
	// saved.
	SizeKey = attribute.Key("chisess.session.size")
	// KeysKey is how many entries the session holds, as loaded or saved.
	KeysKey = attribute.Key("chisess.session.keys")
	// RetriesKey is how many times a commit merged into another request's
	// save and tried again.
	RetriesKey = attribute.Key("chisess.commit.retries")
	// OperationKey is the backend call: "read", "write", "delete", "swap",
	// "index", "unindex" or "owned".
	OperationKey = attribute.Key("chisess.backend.operation")
	// ResultKey is how a backend call ended: "ok", "not_found" (a read of
	// a missing record), "lost" (a swap that found the record changed) or
	// "error".
	ResultKey = attribute.Key("chisess.backend.result")
)

// CacheReporter is what a backend that answers reads from a cache of its
// own (server-assisted client-side caching) implements to have its hits and
// misses counted in chisess.backend.cache.hits and .misses. The counts are
// totals since the backend started. chisess/backend/rueidisbackend's Store
// implements it.
type CacheReporter interface {
	CacheStats() (hits, misses int64)
}

// Observer is a chisess.Observer that records spans and metrics through
// OpenTelemetry. Make one with [NewObserver]; it is safe for concurrent use,
// and may serve several Managers: each is told apart by its backend, and
// by the attributes of WithAttributes.
type Observer struct {
	cfg    config
	tracer trace.Tracer
	meter  metric.Meter

	loadDuration, commitDuration, callDuration metric.Float64Histogram
	size                                       metric.Int64Histogram
	commits, retries, backendErrors            metric.Int64Counter
	created, destroyed, renewed, rejected      metric.Int64Counter
	cacheHits, cacheMisses                     metric.Int64ObservableCounter

	managers sync.Map // *chisess.Manager → *managerAttrs
}

var _ chisess.Observer = (*Observer)(nil)

// durationBuckets suit session work: microseconds for the memory backend
// and the cookie, milliseconds for a network round trip, seconds for an
// outage running into the timeout.
var durationBuckets = []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// sizeBuckets reach past the browsers' 4096-byte cookie limit.
var sizeBuckets = []float64{64, 128, 256, 512, 1024, 2048, 3072, 4096, 8192, 16384, 65536, 262144, 1048576}

// NewObserver returns an Observer that records through the providers of
// opts, or the global ones. An instrument the MeterProvider fails to make
// is reported to otel.Handle and left out; the rest still work. An
// Observer keeps the attributes of each Manager it is told about, and the
// cache-hit callback of its backend, for as long as the Observer lives:
// give it Managers that live as long as it does, as an application's do,
// not one made per request or tenant.
func NewObserver(opts ...Option) *Observer {
	o := &Observer{cfg: newConfig(opts)}
	o.tracer = o.cfg.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version()))
	o.meter = o.cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version()))
	var errs []error
	hist := func(name, desc, unit string, buckets []float64) metric.Float64Histogram {
		h, err := o.meter.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit(unit), metric.WithExplicitBucketBoundaries(buckets...))
		errs = append(errs, err)
		return h
	}
	count := func(name, desc, unit string) metric.Int64Counter {
		c, err := o.meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = append(errs, err)
		return c
	}
	o.loadDuration = hist("chisess.session.load.duration", "How long loading a session took.", "s", durationBuckets)
	o.commitDuration = hist("chisess.session.commit.duration", "How long saving a session's changes took.", "s", durationBuckets)
	o.callDuration = hist("chisess.backend.operation.duration", "How long a call to the session backend took.", "s", durationBuckets)
	var err error
	o.size, err = o.meter.Int64Histogram("chisess.session.size", metric.WithDescription("The size of a session's record as saved."), metric.WithUnit("By"), metric.WithExplicitBucketBoundaries(sizeBuckets...))
	errs = append(errs, err)
	o.commits = count("chisess.session.commits", "Commits of session changes, by outcome.", "{commit}")
	o.retries = count("chisess.session.commit.retries", "Times a commit merged into another request's save and tried again.", "{retry}")
	o.backendErrors = count("chisess.backend.errors", "Calls to the session backend that failed.", "{error}")
	o.created = count("chisess.session.created", "Sessions created.", "{session}")
	o.destroyed = count("chisess.session.destroyed", "Sessions ended: destroyed, emptied, or logged out everywhere.", "{session}")
	o.renewed = count("chisess.session.renewed", "Sessions moved to a new token.", "{session}")
	o.rejected = count("chisess.session.rejected", "Session cookies or tokens that led to no live session, by reason.", "{session}")
	o.cacheHits, err = o.meter.Int64ObservableCounter("chisess.backend.cache.hits", metric.WithDescription("Backend reads answered from the backend's own cache."), metric.WithUnit("{read}"))
	errs = append(errs, err)
	o.cacheMisses, err = o.meter.Int64ObservableCounter("chisess.backend.cache.misses", metric.WithDescription("Backend reads the backend's own cache could not answer."), metric.WithUnit("{read}"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		otel.Handle(err)
	}
	return o
}

var spanNames = [...]string{
	chisess.OpLoad:    "chisess.session.load",
	chisess.OpCommit:  "chisess.session.commit",
	chisess.OpRead:    "chisess.backend.read",
	chisess.OpWrite:   "chisess.backend.write",
	chisess.OpDelete:  "chisess.backend.delete",
	chisess.OpSwap:    "chisess.backend.swap",
	chisess.OpIndex:   "chisess.backend.index",
	chisess.OpUnindex: "chisess.backend.unindex",
	chisess.OpOwned:   "chisess.backend.owned",
}

// spans reports whether op gets a span of its own.
func (o *Observer) spans(op chisess.Op) bool {
	if int(op) >= len(spanNames) || spanNames[op] == "" {
		return false
	}
	return op == chisess.OpLoad || op == chisess.OpCommit || o.cfg.backendCalls
}

// Start starts the span of a load, a commit or a backend call. It is
// called by chisess. A nil *Observer records nothing, so that a Config
// given one (an Observer left unset behind a flag) works as without.
func (o *Observer) Start(ctx context.Context, m *chisess.Manager, op chisess.Op) context.Context {
	if o == nil || !o.spans(op) {
		return ctx
	}
	a := o.attrs(m)
	opts := a.startWork
	if op != chisess.OpLoad && op != chisess.OpCommit {
		opts = a.startCall
	}
	ctx, _ = o.tracer.Start(ctx, spanNames[op], opts...)
	return ctx
}

// End records what the operation did, in its span and the metrics, and
// ends the span. It is called by chisess.
func (o *Observer) End(ctx context.Context, m *chisess.Manager, obs chisess.Observation) {
	if o == nil {
		return
	}
	a := o.attrs(m)
	secs := obs.Duration.Seconds()
	var span trace.Span
	if o.spans(obs.Op) {
		span = trace.SpanFromContext(ctx)
	}
	recording := span != nil && span.IsRecording()
	switch obs.Op {
	case chisess.OpLoad:
		o.loadDuration.Record(ctx, secs, a.outcome(obs.Outcome).rec...)
		if recording {
			span.SetAttributes(OutcomeKey.String(obs.Outcome.String()), SizeKey.Int(obs.Bytes), KeysKey.Int(obs.Keys))
			if obs.Reason != 0 {
				span.SetAttributes(RejectReasonKey.String(obs.Reason.String()))
			}
		}
	case chisess.OpCommit:
		o.commitDuration.Record(ctx, secs, a.outcome(obs.Outcome).rec...)
		o.commits.Add(ctx, 1, a.outcome(obs.Outcome).add...)
		if obs.Retries > 0 {
			o.retries.Add(ctx, int64(obs.Retries), a.plain.add...)
		}
		if obs.Bytes > 0 {
			o.size.Record(ctx, int64(obs.Bytes), a.plain.rec...)
		}
		if recording {
			span.SetAttributes(OutcomeKey.String(obs.Outcome.String()), SizeKey.Int(obs.Bytes), KeysKey.Int(obs.Keys), RetriesKey.Int(obs.Retries))
		}
	default:
		res := result(obs)
		o.callDuration.Record(ctx, secs, a.call(obs.Op, res).rec...)
		if res == resultError {
			o.backendErrors.Add(ctx, 1, metric.WithAttributes(append(a.metric[:len(a.metric):len(a.metric)], OperationKey.String(obs.Op.String()), semconv.ErrorTypeKey.String(errorType(obs.Err)))...))
		}
		if recording {
			span.SetAttributes(ResultKey.String(resultNames[res]))
		}
	}
	if !recording {
		if span != nil {
			span.End()
		}
		return
	}
	if obs.Err != nil && !errors.Is(obs.Err, backend.ErrNotFound) {
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(obs.Err)))
		span.RecordError(obs.Err)
		span.SetStatus(codes.Error, errorType(obs.Err))
	}
	span.End()
}

// Event counts the sessions created, renewed, destroyed and rejected, and
// adds each event to the span of the load or commit it happened in. It is
// called by chisess.
func (o *Observer) Event(ctx context.Context, m *chisess.Manager, e chisess.Event) {
	if o == nil {
		return
	}
	a := o.attrs(m)
	switch e.Kind {
	case chisess.EventCreated:
		o.created.Add(ctx, 1, a.plain.add...)
	case chisess.EventRenewed:
		o.renewed.Add(ctx, 1, a.plain.add...)
	case chisess.EventDestroyed:
		o.destroyed.Add(ctx, 1, a.plain.add...)
	case chisess.EventRejected:
		o.rejected.Add(ctx, 1, a.reason(e.Reason).add...)
	default:
		return // loads, commits and errors are spans and histograms already
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if e.Reason != 0 {
		span.AddEvent("chisess.session."+e.Kind.String(), trace.WithAttributes(RejectReasonKey.String(e.Reason.String())))
		return
	}
	span.AddEvent("chisess.session." + e.Kind.String())
}

// The results of a backend call.
const (
	resultOK = iota
	resultNotFound
	resultLost
	resultError
	resultCount
)

var resultNames = [resultCount]string{"ok", "not_found", "lost", "error"}

func result(obs chisess.Observation) int {
	switch {
	case errors.Is(obs.Err, backend.ErrNotFound):
		return resultNotFound
	case obs.Err != nil:
		return resultError
	case obs.Op == chisess.OpSwap && !obs.Swapped:
		return resultLost
	}
	return resultOK
}

// errorType is the error.type of a failure: a few kinds of low
// cardinality, never the error's text. (A Save that chisess refuses,
// ErrHeadersSent, stores nothing and is not observed.)
func errorType(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, chisess.ErrStaleSession):
		return "stale_session"
	case errors.Is(err, chisess.ErrTooLarge), errors.Is(err, chisess.ErrCookieTooLarge):
		return "too_large"
	}
	return semconv.ErrorTypeOther.Value.AsString()
}

// The sizes of the tables of attribute sets: chisess's Outcome, Reason and
// Op values are small numbers.
const (
	maxOutcome = 16
	maxReason  = 8
	maxOp      = 16
)

// managerAttrs are the attributes of one Manager's spans and measurements,
// made once, so that starting a span or recording a measurement allocates
// nothing for them.
type managerAttrs struct {
	metric []attribute.KeyValue // of every measurement
	// startWork and startCall start the span of a load or commit, and of
	// a backend call.
	startWork, startCall []trace.SpanStartOption
	plain                measure
	outcomes             [maxOutcome]measure
	reasons              [maxReason]measure
	calls                [maxOp][resultCount]measure
}

// measure is the options of a measurement with one set of attributes.
type measure struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

func (a *managerAttrs) outcome(v chisess.Outcome) measure {
	if int(v) < maxOutcome {
		return a.outcomes[v]
	}
	return a.plain
}

func (a *managerAttrs) reason(v chisess.RejectReason) measure {
	if int(v) < maxReason {
		return a.reasons[v]
	}
	return a.plain
}

func (a *managerAttrs) call(op chisess.Op, res int) measure {
	if int(op) < maxOp {
		return a.calls[op][res]
	}
	return a.plain
}

// attrs returns m's attributes, making them on first use.
func (o *Observer) attrs(m *chisess.Manager) *managerAttrs {
	if a, ok := o.managers.Load(m); ok {
		return a.(*managerAttrs)
	}
	a, loaded := o.managers.LoadOrStore(m, o.newAttrs(m))
	if !loaded {
		o.watchCache(m, a.(*managerAttrs))
	}
	return a.(*managerAttrs)
}

func (o *Observer) newAttrs(m *chisess.Manager) *managerAttrs {
	b := m.Backend()
	name := o.cfg.backendName
	if name == "" {
		name = backendName(b)
	}
	base := append([]attribute.KeyValue{BackendKey.String(name)}, o.cfg.attrs...)
	a := &managerAttrs{metric: base}
	a.startWork = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(base...)}
	a.startCall = a.startWork
	if _, inProcess := b.(*backend.Memory); b != nil && !inProcess {
		// A call over the network to a store, as a database client's.
		a.startCall = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(base...)}
	}
	with := func(kv ...attribute.KeyValue) measure {
		o := metric.WithAttributeSet(attribute.NewSet(append(base[:len(base):len(base)], kv...)...))
		return measure{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}}
	}
	a.plain = with()
	for v := range chisess.Outcome(maxOutcome) {
		a.outcomes[v] = with(OutcomeKey.String(v.String()))
	}
	for v := range chisess.RejectReason(maxReason) {
		a.reasons[v] = with(RejectReasonKey.String(v.String()))
	}
	for op := range chisess.Op(maxOp) {
		for res := range resultCount {
			a.calls[op][res] = with(OperationKey.String(op.String()), ResultKey.String(resultNames[res]))
		}
	}
	return a
}

// watchCache reports the cache hits and misses of m's backend, if it
// reports them.
func (o *Observer) watchCache(m *chisess.Manager, a *managerAttrs) {
	c, ok := m.Backend().(CacheReporter)
	if !ok {
		return
	}
	_, err := o.meter.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		hits, misses := c.CacheStats()
		opt := a.plain.add[0].(metric.ObserveOption)
		obs.ObserveInt64(o.cacheHits, hits, opt)
		obs.ObserveInt64(o.cacheMisses, misses, opt)
		return nil
	}, o.cacheHits, o.cacheMisses)
	if err != nil {
		otel.Handle(err)
	}
}

// backendName is the chisess.backend attribute of a backend.
func backendName(b backend.Backend) string {
	switch b.(type) {
	case nil:
		return "cookie"
	case *backend.Memory:
		return "memory"
	}
	t := reflect.TypeOf(b)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch pkg := path.Base(t.PkgPath()); pkg {
	case "redisbackend":
		return "redis"
	case "pgbackend":
		return "postgresql"
	case "boltbackend":
		return "bolt"
	case ".", "/", "":
		return "custom"
	default:
		return pkg
	}
}
