package chisess_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// observerLog is an Observer that writes down what it is told, one line
// per End and per Event, each under the path of the operations it ran in
// (the contexts Start returned), so a test sees what nests in what.
type observerLog struct {
	mu    sync.Mutex
	lines []string
	obs   []chisess.Observation
}

type pathKey struct{}

func pathOf(ctx context.Context) string { p, _ := ctx.Value(pathKey{}).(string); return p }

func (l *observerLog) Start(ctx context.Context, m *chisess.Manager, op chisess.Op) context.Context {
	return context.WithValue(ctx, pathKey{}, pathOf(ctx)+"/"+op.String())
}

func (l *observerLog) End(ctx context.Context, m *chisess.Manager, o chisess.Observation) {
	line := pathOf(ctx)
	switch o.Op {
	case chisess.OpLoad, chisess.OpCommit:
		line += " " + o.Outcome.String()
		if o.Reason != 0 {
			line += ":" + o.Reason.String()
		}
		if o.Retries > 0 {
			line += fmt.Sprintf(" retries=%d", o.Retries)
		}
	case chisess.OpSwap:
		if !o.Swapped && o.Err == nil {
			line += " lost"
		}
	}
	switch {
	case errors.Is(o.Err, backend.ErrNotFound):
		line += " not-found"
	case o.Err != nil:
		line += " error"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	l.obs = append(l.obs, o)
}

func (l *observerLog) Event(ctx context.Context, m *chisess.Manager, e chisess.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, pathOf(ctx)+" event:"+e.Kind.String())
}

// take returns the lines written since the last take.
func (l *observerLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	l.lines, l.obs = nil, nil
	return lines
}

// observed returns the observations of op since the last take.
func (l *observerLog) observed(op chisess.Op) []chisess.Observation {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []chisess.Observation
	for _, o := range l.obs {
		if o.Op == op {
			out = append(out, o)
		}
	}
	return out
}

// The Observer is told every load and commit, with the backend calls made
// inside each under it, and the events in the context of the operation
// they happened in; a request that only reads commits nothing.
func TestObserverSeesLoadsCommitsAndBackendCalls(t *testing.T) {
	type step struct {
		method, path string
		cookie       string // a cookie to send instead of the client's
		want         []string
	}
	tests := []struct {
		mode  string
		steps []step
	}{
		{mode: "memory", steps: []step{
			{method: "GET", path: "/", want: []string{"/load new", "/commit/write", "/commit event:created", "/commit event:committed", "/commit created"}},
			{method: "GET", path: "/read", want: []string{"/load/read", "/load event:loaded", "/load loaded"}},
			{method: "GET", path: "/", want: []string{"/load/read", "/load event:loaded", "/load loaded", "/commit/swap", "/commit event:committed", "/commit saved"}},
			{method: "POST", path: "/renew", want: []string{"/load/read", "/load event:loaded", "/load loaded", "/commit/write", "/commit/swap", "/commit event:renewed", "/commit event:committed", "/commit renewed"}},
			{method: "POST", path: "/destroy", want: []string{"/load/read", "/load event:loaded", "/load loaded", "/commit/swap", "/commit event:destroyed", "/commit destroyed"}},
			{method: "GET", path: "/read", cookie: "forged", want: []string{"/load event:rejected", "/load rejected:malformed"}},
			{method: "GET", path: "/read", cookie: strings.Repeat("A", 43), want: []string{"/load/read not-found", "/load event:rejected", "/load rejected:unknown"}},
		}},
		{mode: "base-only", steps: []step{
			{method: "GET", path: "/", want: []string{"/load new", "/commit/write", "/commit event:created", "/commit event:committed", "/commit created"}},
			{method: "GET", path: "/", want: []string{"/load/read", "/load event:loaded", "/load loaded", "/commit/read", "/commit/write", "/commit event:committed", "/commit saved"}},
			{method: "POST", path: "/destroy", want: []string{"/load/read", "/load event:loaded", "/load loaded", "/commit/read", "/commit/delete", "/commit event:destroyed", "/commit destroyed"}},
		}},
		{mode: "cookie", steps: []step{
			{method: "GET", path: "/", want: []string{"/load new", "/commit event:created", "/commit event:committed", "/commit created"}},
			{method: "GET", path: "/read", want: []string{"/load event:loaded", "/load loaded"}},
			{method: "GET", path: "/", want: []string{"/load event:loaded", "/load loaded", "/commit event:committed", "/commit saved"}},
			{method: "POST", path: "/destroy", want: []string{"/load event:loaded", "/load loaded", "/commit event:destroyed", "/commit destroyed"}},
			{method: "GET", path: "/read", cookie: "forged", want: []string{"/load event:rejected", "/load rejected:malformed"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			is := is.New(t)
			tm := newMode(tt.mode)
			log := &observerLog{}
			cfg := tm.cfg
			cfg.Observer = log
			_, c := newApp(t, cfg)
			for _, st := range tt.steps {
				cl := c
				if st.cookie != "" {
					cl = c.withCookie(st.cookie)
				}
				rec := cl.do(st.method, st.path)
				is.True(rec.Code < 300)                        // the request went through
				is.Equal(log.take(), st.want)                  // what the Observer was told
				is.Equal(len(log.observed(chisess.OpLoad)), 0) // take empties the log
			}
			c.do("GET", "/untouched")
			is.Equal(log.take(), []string(nil)) // a route that never loads tells nothing
		})
	}
}

// An Observation carries sizes and counts of what was loaded and saved,
// and how long each step took.
func TestObservationSizes(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		log := &observerLog{}
		cfg := tm.cfg
		cfg.Observer = log
		m, c := newApp(t, cfg)
		c.do("GET", "/")
		commit := log.observed(chisess.OpCommit)
		is.Equal(len(commit), 1)
		is.Equal(commit[0].Keys, 1)   // "visits"
		is.True(commit[0].Bytes > 10) // the stored record, or sealed cookie
		if tm.b == nil {
			is.True(commit[0].Bytes < len(c.cookie)) // the record, sealed into the cookie
		} else {
			is.Equal(commit[0].Bytes, len(tm.b.Calls()[0].Data)) // the record written
		}
		log.take()

		c.do("GET", "/read")
		load := log.observed(chisess.OpLoad)
		is.Equal(len(load), 1)
		is.Equal(load[0].Keys, commit[0].Keys)   // what was saved is what is loaded
		is.Equal(load[0].Bytes, commit[0].Bytes) // byte for byte
		is.True(load[0].Duration > 0)
		is.Equal(m.Backend(), cfg.Backend) // the Manager hands out the backend it was given
	})
}

// A backend's failure reaches the Observer twice: on the call that failed
// and on the load or commit it failed.
func TestObserverSeesBackendErrors(t *testing.T) {
	tests := []struct {
		name string
		fail string // the op to fail
		path string
		want []string
	}{
		{name: "load", fail: "read", path: "/read", want: []string{"/load/read error", "/load event:error", "/load failed error"}},
		{name: "commit", fail: "swap", path: "/", want: []string{"/load/read", "/load event:loaded", "/load loaded", "/commit/swap error", "/commit event:error", "/commit failed error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b := sessiontest.NewBackend()
			log := &observerLog{}
			_, c := newApp(t, chisess.Config{Backend: b, Observer: log})
			c.do("GET", "/")
			log.take()
			b.FailNext(tt.fail, 1, errOutage)
			rec := c.do("GET", tt.path)
			is.True(rec.Code >= 500)
			is.Equal(log.take(), tt.want)
		})
	}
}

// A commit whose swap lost to another request's commit reads the session
// again, merges, and swaps again: the Observer sees the lost swap and the
// commit's retry.
func TestObserverSeesRetries(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	log := &observerLog{}
	m, c := newApp(t, chisess.Config{Backend: b, Observer: log})
	c.do("GET", "/")
	h := newRouter(t, m)
	slow := httptest.NewRequest("GET", "/", nil)
	slow.AddCookie(&http.Cookie{Name: m.CookieName(), Value: c.cookie})
	g := b.Hold("swap")
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), slow)
	}()
	<-g.Reached() // the slow request is about to save
	log.take()
	fast := httptest.NewRequest("GET", "/", nil)
	fast.AddCookie(&http.Cookie{Name: m.CookieName(), Value: c.cookie})
	h.ServeHTTP(httptest.NewRecorder(), fast)
	log.take()
	g.Release()
	<-done
	is.Equal(log.take(), []string{"/commit/swap lost", "/commit/read", "/commit/swap", "/commit event:committed", "/commit saved retries=1"})
	is.Equal(c.do("GET", "/read").Body.String(), "2") // both set visits to 2, from the 1 they loaded
}

// The wrapper that tells the Observer about backend calls has exactly the
// optional powers of the backend it wraps: chisess takes the same path
// with or without an Observer.
func TestObserverKeepsTheBackendsPowers(t *testing.T) {
	b := sessiontest.NewBackend()
	tests := []struct {
		name    string
		backend backend.Backend
		swaps   bool
		indexes bool
	}{
		{name: "swap and index", backend: b, swaps: true, indexes: true},
		{name: "swap only", backend: struct {
			backend.Backend
			backend.Swapper
		}{b, b}, swaps: true},
		{name: "index only", backend: struct {
			backend.Backend
			backend.Indexer
		}{b, b}, indexes: true},
		{name: "neither", backend: baseOnly{b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			log := &observerLog{}
			m, c := newApp(t, chisess.Config{Backend: tt.backend, Observer: log})
			c.do("GET", "/")
			log.take()
			c.do("GET", "/")
			lines := strings.Join(log.take(), " ")
			is.Equal(strings.Contains(lines, "/commit/swap"), tt.swaps) // a change is swapped only where the backend can
			_, err := m.Sessions(context.Background(), "nobody")
			is.Equal(err == nil, tt.indexes) // the owner index works only where the backend has one
		})
	}
}

// slowCalls is an Observer that logs the loads, commits and backend calls
// slower than a threshold: the shape of a tracing or metrics integration.
type slowCalls struct {
	threshold time.Duration
	logger    *slog.Logger
}

func (o slowCalls) Start(ctx context.Context, m *chisess.Manager, op chisess.Op) context.Context {
	return ctx // a tracer would start a span here, and return its context
}

func (o slowCalls) End(ctx context.Context, m *chisess.Manager, obs chisess.Observation) {
	if obs.Duration >= o.threshold || obs.Err != nil && !errors.Is(obs.Err, backend.ErrNotFound) {
		o.logger.WarnContext(ctx, "slow or failed session work", "op", obs.Op, "took", obs.Duration, "err", obs.Err)
	}
}

func (o slowCalls) Event(ctx context.Context, m *chisess.Manager, e chisess.Event) {}

// An Observer is told about each load, commit and backend call, with its
// duration and outcome: here every one is logged (a threshold of zero),
// without the time so the output is stable.
func ExampleObserver() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "took" {
				return slog.Attr{}
			}
			return a
		},
	}))
	sessions, _ := chisess.New(chisess.Config{
		Backend:  backend.NewMemory(),
		Observer: slowCalls{threshold: 0, logger: logger},
	})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("seen", true)
	})
	(&browser{h: r}).get("GET", "/")
	// Output:
	// level=WARN msg="slow or failed session work" op=load err=<nil>
	// level=WARN msg="slow or failed session work" op=write err=<nil>
	// level=WARN msg="slow or failed session work" op=commit err=<nil>
}

// eventHashes is an Observer that keeps the session hashes of the events
// it is told.
type eventHashes struct {
	observerLog
	hashes []string
}

func (h *eventHashes) Event(ctx context.Context, m *chisess.Manager, e chisess.Event) {
	h.hashes = append(h.hashes, e.Kind.String()+":"+e.Session)
}

// The Observer is told every event, after OnEvent. The session hashes cost
// an HMAC each: it gets them only when OnEvent is set, which wants them.
func TestObserverEvents(t *testing.T) {
	tests := []struct {
		name    string
		onEvent bool
		hashed  bool
	}{
		{name: "observer alone", onEvent: false, hashed: false},
		{name: "with OnEvent", onEvent: true, hashed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			obs := &eventHashes{}
			cfg := chisess.Config{Backend: sessiontest.NewBackend(), Observer: obs}
			log := &eventLog{}
			if tt.onEvent {
				cfg.OnEvent = log.hook
			}
			_, c := newApp(t, cfg)
			c.do("GET", "/")
			c.do("POST", "/destroy")
			var kinds []string
			for _, h := range obs.hashes {
				kind, hash, _ := strings.Cut(h, ":")
				kinds = append(kinds, kind)
				is.Equal(hash != "", tt.hashed) // a hash only with OnEvent
			}
			is.Equal(kinds, []string{"created", "committed", "loaded", "destroyed"}) // every event
			if tt.onEvent {
				is.Equal(len(log.all()), len(obs.hashes)) // OnEvent is told the same events
			}
		})
	}
}

// The Duration of a load or commit is chisess's and the backend's time,
// not that of the OnEvent hook the operation's events run: a slow audit
// hook does not show up as slow sessions. (The hook runs in the
// operation's context, so a tracer still sees its events in the span.)
func TestObservedDurationLeavesOutOnEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		m, log := slowHookManager(t)
		app := chisess.Load(m)(chisess.Autoload(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := chisess.From(r.Context()).Set("user", "ada"); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})))
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil)) // a new session: EventCreated
		is.Equal(rec.Code, http.StatusOK)
		commits := log.observed(chisess.OpCommit)
		is.Equal(len(commits), 1)
		is.Equal(commits[0].Duration, time.Duration(0)) // no time passes in the bubble but the hook's
	})
}

// The same holds for a load whose session was found (EventLoaded) and for
// a Save after the first byte (EventCommitted), whose events also run the
// hook before End.
func TestObservedDurationLeavesOutOnEventOfLoadAndSave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		m, log := slowHookManager(t)
		login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
		is.NoErr(err)
		var saveErr error
		app := chisess.Load(m)(chisess.Autoload(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "started")
			saveErr = chisess.From(r.Context()).Save(r.Context(), func(s *chisess.Session) error {
				return s.Set("room", "kitchen")
			})
		})))
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(login)
		app.ServeHTTP(httptest.NewRecorder(), req)
		is.NoErr(saveErr)
		loads, commits := log.observed(chisess.OpLoad), log.observed(chisess.OpCommit)
		is.Equal(len(loads), 1)
		is.Equal(loads[0].Outcome, chisess.OutcomeLoaded)
		is.Equal(loads[0].Duration, time.Duration(0)) // EventLoaded's hook left out
		is.Equal(len(commits), 1)                     // the Save's: the commit stored nothing
		is.Equal(commits[0].Duration, time.Duration(0))
	})
}

// slowHookManager returns a manager on the fake backend whose OnEvent hook
// takes a second, and the Observer it tells. Call it in a synctest bubble.
func slowHookManager(t *testing.T) (*chisess.Manager, *observerLog) {
	t.Helper()
	log := &observerLog{}
	m, err := chisess.New(chisess.Config{
		Backend:  sessiontest.NewBackend(),
		Observer: log,
		OnEvent:  func(context.Context, chisess.Event) { time.Sleep(time.Second) }, // a slow hook
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, log
}
