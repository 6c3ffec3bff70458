package chisess_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/go-chi/chi/v5"
)

// The benchmarks measure a request through a chi router with and without
// chisess, for a session holding ten small strings and a counter (about 330
// bytes), in the same run so the ratios to bare chi can be read directly.
// Compare with scs and gorilla/sessions in the bench module.

func benchValues() map[string]any {
	v := map[string]any{"counter": 1}
	for i := range 10 {
		v[fmt.Sprintf("key%02d", i)] = fmt.Sprintf("value-%02d-abcdefgh", i)
	}
	return v
}

func benchManagers(b *testing.B) []struct {
	name string
	m    *chisess.Manager
} {
	mem := backend.NewMemory()
	b.Cleanup(func() { mem.Close() })
	quiet := slog.New(slog.DiscardHandler)
	mk := func(cfg chisess.Config) *chisess.Manager {
		cfg.Logger = quiet
		m, err := chisess.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	return []struct {
		name string
		m    *chisess.Manager
	}{
		{"memory", mk(chisess.Config{Backend: mem})},
		{"cookie", mk(chisess.Config{Secret: testSecret})},
	}
}

func benchRouter(m *chisess.Manager) http.Handler {
	r := chi.NewRouter()
	if m != nil {
		r.Use(chisess.Load(m))
	}
	r.Get("/untouched", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	r.Get("/read", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			panic(err)
		}
		v, _ := chisess.Get[string](s, "key03")
		io.WriteString(w, v)
	})
	r.Get("/rmw", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			panic(err)
		}
		n, _ := chisess.Get[int](s, "counter")
		if err := s.Set("counter", n+1); err != nil {
			panic(err)
		}
		io.WriteString(w, "ok")
	})
	r.Get("/new", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			panic(err)
		}
		if err := s.Set("counter", 1); err != nil {
			panic(err)
		}
		io.WriteString(w, "ok")
	})
	return r
}

func serve(b *testing.B, h http.Handler, path string, cookie *http.Cookie) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	// The bare router serves the same request, cookie included, without
	// chisess: the floor every other row of its mode is compared with.
	bare := benchRouter(nil)
	for _, bm := range benchManagers(b) {
		h := benchRouter(bm.m)
		cookie, err := bm.m.Issue(context.Background(), benchValues())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bm.name+"/bare", func(b *testing.B) { serve(b, bare, "/untouched", cookie) })
		b.Run(bm.name+"/untouched", func(b *testing.B) { serve(b, h, "/untouched", cookie) })
		b.Run(bm.name+"/read", func(b *testing.B) { serve(b, h, "/read", cookie) })
		b.Run(bm.name+"/rmw", func(b *testing.B) { serve(b, h, "/rmw", cookie) })
		b.Run(bm.name+"/new", func(b *testing.B) { serve(b, h, "/new", nil) })
	}
}
