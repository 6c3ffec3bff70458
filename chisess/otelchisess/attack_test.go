package otelchisess_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/otelchisess"
	"github.com/matryer/is"
)

// A nil *otelchisess.Observer, as an app that builds it only when tracing
// is on passes it (var obs *otelchisess.Observer; if on { obs = NewObserver() }),
// is a non-nil chisess.Observer: New accepts it, and the first request
// panics in Start/End. The guide says a nil Observer "costs nothing"; a
// typed nil should either be refused by New or behave as none.
func TestTypedNilObserverDoesNotPanic(t *testing.T) {
	is := is.New(t)
	var obs *otelchisess.Observer
	m, err := chisess.New(chisess.Config{Backend: backend.NewMemory(), Observer: obs})
	if err != nil {
		return // refused at New: fine
	}
	h := chisess.Load(m)(chisess.Autoload(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("a", 1)
	})))
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	is.Equal(panicked, nil) // a typed-nil Observer panics on the first request
}
