package otelchisess_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/otelchisess"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// The benchmarks serve the requests of chisess's own BenchmarkRequest (a
// session of ten small strings and a counter) without an Observer, with
// this package's Observer on the no-op providers (instrumented, nothing
// recorded), and on the SDK (every span sampled and ended, every metric
// aggregated), so the cost of the instrumentation reads off each row.
func BenchmarkRequest(b *testing.B) {
	observers := []struct {
		name string
		obs  func(b *testing.B) chisess.Observer
	}{
		{"none", func(*testing.B) chisess.Observer { return nil }},
		{"otel-noop", func(*testing.B) chisess.Observer {
			return otelchisess.NewObserver(otelchisess.WithTracerProvider(tracenoop.NewTracerProvider()), otelchisess.WithMeterProvider(metricnoop.NewMeterProvider()))
		}},
		{"otel-sdk", func(b *testing.B) chisess.Observer {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			b.Cleanup(func() {
				tp.Shutdown(context.Background())
				mp.Shutdown(context.Background())
			})
			return otelchisess.NewObserver(otelchisess.WithTracerProvider(tp), otelchisess.WithMeterProvider(mp))
		}},
	}
	for _, mode := range []string{"memory", "cookie"} {
		for _, o := range observers {
			cfg := chisess.Config{Secret: testSecret, Observer: o.obs(b), Logger: slog.New(slog.DiscardHandler)}
			if mode == "memory" {
				mem := backend.NewMemory()
				b.Cleanup(func() { mem.Close() })
				cfg.Backend = mem
			}
			m, err := chisess.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			h := benchRouter(m)
			cookie, err := m.Issue(context.Background(), benchValues())
			if err != nil {
				b.Fatal(err)
			}
			b.Run(mode+"/read/"+o.name, func(b *testing.B) { serve(b, h, "/read", cookie) })
			b.Run(mode+"/rmw/"+o.name, func(b *testing.B) { serve(b, h, "/rmw", cookie) })
		}
	}
}

func benchValues() map[string]any {
	v := map[string]any{"counter": 1}
	for i := range 10 {
		v[fmt.Sprintf("key%02d", i)] = fmt.Sprintf("value-%02d-abcdefgh", i)
	}
	return v
}

func benchRouter(m *chisess.Manager) http.Handler {
	mux := http.NewServeMux()
	load := func(f func(w http.ResponseWriter, s *chisess.Session)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			if err := s.Load(r.Context()); err != nil {
				panic(err)
			}
			f(w, s)
		}
	}
	mux.Handle("GET /read", load(func(w http.ResponseWriter, s *chisess.Session) {
		v, _ := chisess.Get[string](s, "key03")
		w.Write([]byte(v))
	}))
	mux.Handle("GET /rmw", load(func(w http.ResponseWriter, s *chisess.Session) {
		n, _ := chisess.Get[int](s, "counter")
		if err := s.Set("counter", n+1); err != nil {
			panic(err)
		}
	}))
	return chisess.Load(m)(mux)
}

func serve(b *testing.B, h http.Handler, path string, cookie *http.Cookie) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
