package bench

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkContextFloor measures the least any session middleware that
// puts a value in the request's context and wraps the ResponseWriter can
// cost, on the same request and router as scenario B: a floor under the
// untouched-route rows, which cannot go below it. (Scenario B's target,
// 1.1× bare, sits under this floor on the machine the suite was tuned on;
// see docs/benchmarks.md.)
func BenchmarkContextFloor(b *testing.B) {
	type key struct{}
	type wrapper struct{ http.ResponseWriter }
	floors := []struct {
		name string
		mw   func(http.Handler) http.Handler
	}{
		{"context-value", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, 1)))
			})
		}},
		{"context-value+writer", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(&wrapper{w}, r.WithContext(context.WithValue(r.Context(), key{}, 1)))
			})
		}},
	}
	for _, f := range floors {
		b.Run(f.name, func(b *testing.B) {
			inst := bare.setup(b)
			req := requests(b, inst, scUntouched, 1)[0]
			h := f.mw(inst.handler)
			serveSerial(b, instance{handler: h}, req)
		})
	}
}
