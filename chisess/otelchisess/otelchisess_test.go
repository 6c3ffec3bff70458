package otelchisess_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/otelchisess"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/matryer/is"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const testSecret = "test-secret-0123456789-abcdefghijklmnop"

// secretValue is what the app stores: it must never reach a span or a
// metric.
const secretValue = "alice-secret-value"

var errOutage = errors.New("backend is down")

// telemetry is an Observer on the SDK's in-memory exporters.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	obs    *otelchisess.Observer
	shown  int // how many ended spans took has returned so far
}

func newTelemetry(t *testing.T, opts ...otelchisess.Option) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	tel.obs = otelchisess.NewObserver(append([]otelchisess.Option{otelchisess.WithTracerProvider(tp), otelchisess.WithMeterProvider(mp)}, opts...)...)
	return tel
}

// took returns the spans ended since the last call, in the order they
// ended (a child before its parent), each as
// "name(attributes) < parent", with the attributes that tell outcomes
// apart: outcome, reason, retries, result, error.type, and the events.
func (tel *telemetry) took() []string {
	ended := tel.spans.Ended()
	byID := map[string]string{}
	for _, s := range ended {
		byID[s.SpanContext().SpanID().String()] = s.Name()
	}
	var out []string
	for _, s := range ended[tel.shown:] {
		var attrs []string
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case otelchisess.OutcomeKey, otelchisess.RejectReasonKey, otelchisess.ResultKey, "error.type":
				attrs = append(attrs, kv.Value.String())
			case otelchisess.RetriesKey:
				if kv.Value.AsInt64() > 0 {
					attrs = append(attrs, "retries="+kv.Value.String())
				}
			}
		}
		for _, e := range s.Events() {
			if e.Name != "exception" {
				attrs = append(attrs, strings.TrimPrefix(e.Name, "chisess.session."))
			}
		}
		if s.Status().Code == codes.Error {
			attrs = append(attrs, "ERROR")
		}
		line := strings.TrimPrefix(s.Name(), "chisess.") + "(" + strings.Join(attrs, " ") + ")"
		if p := byID[s.Parent().SpanID().String()]; p != "" {
			line += " < " + strings.TrimPrefix(p, "chisess.")
		}
		out = append(out, line)
	}
	tel.shown = len(ended)
	return out
}

// metrics collects the metrics, as name{attribute values} → value: a
// counter's sum, a histogram's count of measurements.
func (tel *telemetry) metrics(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelchisess.ScopeName || sm.Scope.Version != otelchisess.Version() {
			t.Fatalf("scope %s %s", sm.Scope.Name, sm.Scope.Version)
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name+labels(p.Attributes)] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name+labels(p.Attributes)] = int64(p.Count)
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					out[m.Name+labels(p.Attributes)] = int64(p.Count)
				}
			}
		}
	}
	return out
}

func labels(set attribute.Set) string {
	var vals []string
	for _, kv := range set.ToSlice() {
		vals = append(vals, string(kv.Key)+"="+kv.Value.String())
	}
	return "{" + strings.Join(vals, ",") + "}"
}

// newApp serves /set (counts the visit, sets a value), /read, /logout on a manager with the
// Observer, on the standard library's mux.
func newApp(t *testing.T, cfg chisess.Config) (*chisess.Manager, http.Handler) {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := chisess.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	load := func(f func(s *chisess.Session)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			if err := s.Load(r.Context()); err != nil {
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
			f(s)
		}
	}
	mux.Handle("GET /set", load(func(s *chisess.Session) {
		n, _ := chisess.Get[int](s, "visits") // a change on every request, so two never write the same record
		s.Set("visits", n+1)
		s.Set("user", secretValue)
	}))
	mux.Handle("GET /read", load(func(s *chisess.Session) { chisess.Get[string](s, "user") }))
	mux.Handle("POST /logout", load(func(s *chisess.Session) { s.Destroy() }))
	return m, chisess.Load(m)(mux)
}

// browser keeps one session cookie, as a browser does.
type browser struct {
	h      http.Handler
	name   string
	cookie string
	seen   []string // every cookie value it was sent
}

func (b *browser) do(method, target string) int {
	req := httptest.NewRequest(method, target, nil)
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: b.name, Value: b.cookie})
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == b.name {
			b.cookie = c.Value
			b.seen = append(b.seen, c.Value)
			if c.MaxAge < 0 {
				b.cookie = ""
			}
		}
	}
	return rec.Code
}

// forged returns a cookie value the server never issued, for the mode.
func forged(mode, valid string) string {
	if mode == "cookie" {
		return valid[:len(valid)-4] + "AAAA" // the tag no longer matches
	}
	return strings.Repeat("A", 43) // a well-formed token nobody was given
}

// A session's life through the instrumentation, on the cookie backend and
// on memory: the spans of each request, then the metrics of the whole flow.
func TestSpansAndMetrics(t *testing.T) {
	tests := []struct {
		mode    string
		backend backend.Backend
		spans   [][]string // after each step: new, read, rmw, forged, logout
		metrics map[string]int64
	}{
		{
			mode: "cookie",
			spans: [][]string{
				{"session.load(new)", "session.commit(created created)"},
				{"session.load(loaded)"},
				{"session.load(loaded)", "session.commit(saved)"},
				{"session.load(rejected tampered rejected)"},
				{"session.load(loaded)", "session.commit(destroyed destroyed)"},
			},
			metrics: map[string]int64{
				"chisess.session.created{chisess.backend=cookie}":                                   1,
				"chisess.session.destroyed{chisess.backend=cookie}":                                 1,
				"chisess.session.rejected{chisess.backend=cookie,chisess.reject.reason=tampered}":   1,
				"chisess.session.commits{chisess.backend=cookie,chisess.outcome=created}":           1,
				"chisess.session.commits{chisess.backend=cookie,chisess.outcome=saved}":             1,
				"chisess.session.commits{chisess.backend=cookie,chisess.outcome=destroyed}":         1,
				"chisess.session.commit.duration{chisess.backend=cookie,chisess.outcome=created}":   1,
				"chisess.session.commit.duration{chisess.backend=cookie,chisess.outcome=saved}":     1,
				"chisess.session.commit.duration{chisess.backend=cookie,chisess.outcome=destroyed}": 1,
				"chisess.session.load.duration{chisess.backend=cookie,chisess.outcome=new}":         1,
				"chisess.session.load.duration{chisess.backend=cookie,chisess.outcome=loaded}":      3,
				"chisess.session.load.duration{chisess.backend=cookie,chisess.outcome=rejected}":    1,
				"chisess.session.size{chisess.backend=cookie}":                                      2,
			},
		},
		{
			mode:    "memory",
			backend: backend.NewMemory(),
			spans: [][]string{
				{"session.load(new)", "backend.write(ok) < session.commit", "session.commit(created created)"},
				{"backend.read(ok) < session.load", "session.load(loaded)"},
				{"backend.read(ok) < session.load", "session.load(loaded)", "backend.swap(ok) < session.commit", "session.commit(saved)"},
				{"backend.read(not_found) < session.load", "session.load(rejected unknown rejected)"},
				{"backend.read(ok) < session.load", "session.load(loaded)", "backend.swap(ok) < session.commit", "session.commit(destroyed destroyed)"},
			},
			metrics: map[string]int64{
				"chisess.session.created{chisess.backend=memory}":                                                                            1,
				"chisess.session.destroyed{chisess.backend=memory}":                                                                          1,
				"chisess.session.rejected{chisess.backend=memory,chisess.reject.reason=unknown}":                                             1,
				"chisess.session.commits{chisess.backend=memory,chisess.outcome=created}":                                                    1,
				"chisess.session.commits{chisess.backend=memory,chisess.outcome=saved}":                                                      1,
				"chisess.session.commits{chisess.backend=memory,chisess.outcome=destroyed}":                                                  1,
				"chisess.session.commit.duration{chisess.backend=memory,chisess.outcome=created}":                                            1,
				"chisess.session.commit.duration{chisess.backend=memory,chisess.outcome=saved}":                                              1,
				"chisess.session.commit.duration{chisess.backend=memory,chisess.outcome=destroyed}":                                          1,
				"chisess.session.load.duration{chisess.backend=memory,chisess.outcome=new}":                                                  1,
				"chisess.session.load.duration{chisess.backend=memory,chisess.outcome=loaded}":                                               3,
				"chisess.session.load.duration{chisess.backend=memory,chisess.outcome=rejected}":                                             1,
				"chisess.session.size{chisess.backend=memory}":                                                                               2,
				"chisess.backend.operation.duration{chisess.backend=memory,chisess.backend.operation=write,chisess.backend.result=ok}":       1,
				"chisess.backend.operation.duration{chisess.backend=memory,chisess.backend.operation=read,chisess.backend.result=ok}":        3,
				"chisess.backend.operation.duration{chisess.backend=memory,chisess.backend.operation=read,chisess.backend.result=not_found}": 1,
				"chisess.backend.operation.duration{chisess.backend=memory,chisess.backend.operation=swap,chisess.backend.result=ok}":        2,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			is := is.New(t)
			tel := newTelemetry(t)
			m, h := newApp(t, chisess.Config{Secret: testSecret, Backend: tt.backend, Observer: tel.obs})
			b := &browser{h: h, name: m.CookieName()}

			is.Equal(b.do("GET", "/set"), 200) // a new session
			is.Equal(tel.took(), tt.spans[0])
			is.Equal(b.do("GET", "/read"), 200) // a read
			is.Equal(tel.took(), tt.spans[1])
			is.Equal(b.do("GET", "/set"), 200) // a read-modify-write
			is.Equal(tel.took(), tt.spans[2])
			attacker := &browser{h: h, name: m.CookieName(), cookie: forged(tt.mode, b.cookie)}
			is.Equal(attacker.do("GET", "/read"), 200) // a forged cookie
			is.Equal(tel.took(), tt.spans[3])
			is.Equal(b.do("POST", "/logout"), 200) // a logout
			is.Equal(tel.took(), tt.spans[4])

			is.Equal(tel.metrics(t), tt.metrics)
			tel.neverShows(t, append(b.seen, secretValue)...)
		})
	}
}

// neverShows fails the test when a span (its name, attributes, events,
// status) or a metric's attributes hold one of the secrets: a cookie
// value, a stored value.
func (tel *telemetry) neverShows(t *testing.T, secrets ...string) {
	t.Helper()
	var all []string
	for _, s := range tel.spans.Ended() {
		all = append(all, s.Name(), s.Status().Description)
		for _, kv := range s.Attributes() {
			all = append(all, kv.Value.String())
		}
		for _, e := range s.Events() {
			all = append(all, e.Name)
			for _, kv := range e.Attributes {
				all = append(all, kv.Value.String())
			}
		}
	}
	for name := range tel.metrics(t) {
		all = append(all, name)
	}
	text := strings.Join(all, "\n")
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("the telemetry shows %q", s)
		}
		if len(s) > 16 && strings.Contains(text, s[:16]) {
			t.Errorf("the telemetry shows a piece of %q", s)
		}
	}
}

// A backend that fails is seen in the span of the call, the span of the
// load or commit it failed, and the backend errors metric.
func TestBackendErrors(t *testing.T) {
	tests := []struct {
		name    string
		fail    string // the op to fail
		target  string
		spans   []string
		metrics map[string]int64 // a few of them
	}{
		{
			name: "load", fail: "read", target: "/read",
			spans: []string{"backend.read(error _OTHER ERROR) < session.load", "session.load(failed _OTHER ERROR)"},
			metrics: map[string]int64{
				"chisess.backend.errors{chisess.backend=sessiontest,chisess.backend.operation=read,error.type=_OTHER}": 1,
				"chisess.session.load.duration{chisess.backend=sessiontest,chisess.outcome=failed}":                    1,
			},
		},
		{
			name: "commit", fail: "swap", target: "/set",
			spans: []string{"backend.read(ok) < session.load", "session.load(loaded)", "backend.swap(error _OTHER ERROR) < session.commit", "session.commit(failed _OTHER ERROR)"},
			metrics: map[string]int64{
				"chisess.backend.errors{chisess.backend=sessiontest,chisess.backend.operation=swap,error.type=_OTHER}": 1,
				"chisess.session.commits{chisess.backend=sessiontest,chisess.outcome=failed}":                          1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			store := sessiontest.NewBackend()
			tel := newTelemetry(t)
			m, h := newApp(t, chisess.Config{Backend: store, Observer: tel.obs})
			b := &browser{h: h, name: m.CookieName()}
			is.Equal(b.do("GET", "/set"), 200)
			tel.took()

			store.FailNext(tt.fail, 1, errOutage)
			is.True(b.do("GET", tt.target) >= 500)
			is.Equal(tel.took(), tt.spans)
			got := tel.metrics(t)
			for name, want := range tt.metrics {
				is.Equal(got[name], want) // name
			}
			ended := tel.spans.Ended()
			failed := ended[len(ended)-1]
			is.True(slices.ContainsFunc(failed.Events(), func(e sdktrace.Event) bool { return e.Name == "exception" })) // the error is recorded on the span
		})
	}
}

// A commit that lost its swap to another request's save, merged and swapped
// again, says so: the retries attribute and metric.
func TestRetries(t *testing.T) {
	is := is.New(t)
	store := sessiontest.NewBackend()
	tel := newTelemetry(t)
	m, h := newApp(t, chisess.Config{Backend: store, Observer: tel.obs})
	b := &browser{h: h, name: m.CookieName()}
	b.do("GET", "/set")
	slow := &browser{h: h, name: m.CookieName(), cookie: b.cookie}
	g := store.Hold("swap")
	done := make(chan struct{})
	go func() {
		defer close(done)
		slow.do("GET", "/set")
	}()
	<-g.Reached() // the slow request is about to save
	b.do("GET", "/set")
	tel.took()
	g.Release()
	<-done
	is.Equal(tel.took(), []string{"backend.swap(lost) < session.commit", "backend.read(ok) < session.commit", "backend.swap(ok) < session.commit", "session.commit(saved retries=1)"})
	is.Equal(tel.metrics(t)["chisess.session.commit.retries{chisess.backend=sessiontest}"], int64(1))
}

// cachingBackend reports cache hits and misses, as a backend with
// client-side caching would.
type cachingBackend struct {
	backend.Backend
	hits, misses int64
}

func (c *cachingBackend) CacheStats() (hits, misses int64) { return c.hits, c.misses }

// A backend that reports its cache's hits and misses has them collected.
func TestCacheStats(t *testing.T) {
	is := is.New(t)
	tel := newTelemetry(t)
	store := &cachingBackend{Backend: backend.NewMemory(), hits: 7, misses: 2}
	m, h := newApp(t, chisess.Config{Backend: store, Observer: tel.obs})
	(&browser{h: h, name: m.CookieName()}).do("GET", "/set") // the manager is seen at its first load
	got := tel.metrics(t)
	is.Equal(got["chisess.backend.cache.hits{chisess.backend=otelchisess_test}"], int64(7))
	is.Equal(got["chisess.backend.cache.misses{chisess.backend=otelchisess_test}"], int64(2))
}

// The options: attributes of one's own on everything, a backend name, and
// no spans for backend calls.
func TestOptions(t *testing.T) {
	is := is.New(t)
	tel := newTelemetry(t, otelchisess.WithAttributes(attribute.String("app", "admin")), otelchisess.WithBackendName("valkey"), otelchisess.WithoutBackendSpans())
	m, h := newApp(t, chisess.Config{Backend: backend.NewMemory(), Observer: tel.obs})
	(&browser{h: h, name: m.CookieName()}).do("GET", "/set")
	is.Equal(tel.took(), []string{"session.load(new)", "session.commit(created created)"}) // no span for the write
	ended := tel.spans.Ended()
	is.True(slices.Contains(ended[0].Attributes(), attribute.String("app", "admin")))
	is.True(slices.Contains(ended[0].Attributes(), otelchisess.BackendKey.String("valkey")))
	got := tel.metrics(t)
	is.Equal(got["chisess.backend.operation.duration{app=admin,chisess.backend=valkey,chisess.backend.operation=write,chisess.backend.result=ok}"], int64(1)) // still measured
	is.Equal(got["chisess.session.created{app=admin,chisess.backend=valkey}"], int64(1))
}

func ExampleNewObserver() {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	sessions, _ := chisess.New(chisess.Config{
		Backend:  backend.NewMemory(),
		Observer: otelchisess.NewObserver(otelchisess.WithTracerProvider(tp)),
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		s.Set("seen", true)
	})
	chisess.Load(sessions)(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	for _, s := range exporter.GetSpans() {
		fmt.Println(s.Name, s.Parent.IsValid())
	}
	// Output:
	// chisess.session.load false
	// chisess.backend.write true
	// chisess.session.commit false
}
