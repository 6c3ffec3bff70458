package chisess_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// Require lets through any session that holds the key, whatever the
// value; RequireFunc lets through only what its func accepts.
func TestRequireChecksPresenceRequireFuncChecksValue(t *testing.T) {
	nonEmpty := func(s *chisess.Session) bool {
		user, _ := chisess.Get[string](s, "user")
		return user != ""
	}
	tests := []struct {
		name        string
		values      map[string]any // the session the request carries; none if nil
		require     int            // status behind Require("user", nil)
		requireFunc int            // status behind RequireFunc(nonEmpty, nil)
	}{
		{"no session", nil, http.StatusUnauthorized, http.StatusUnauthorized},
		{"no user key", map[string]any{"cart": 1}, http.StatusUnauthorized, http.StatusUnauthorized},
		{"empty user", map[string]any{"user": ""}, http.StatusOK, http.StatusUnauthorized},
		{"user of another type", map[string]any{"user": 42}, http.StatusOK, http.StatusUnauthorized},
		{"user", map[string]any{"user": "ada"}, http.StatusOK, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			m := newManager(t, chisess.Config{Backend: sessiontest.NewBackend()})
			r := chi.NewRouter()
			r.Use(chisess.Load(m))
			ok := func(w http.ResponseWriter, r *http.Request) {}
			r.With(chisess.Require("user", nil)).Get("/require", ok)
			r.With(chisess.RequireFunc(nonEmpty, nil)).Get("/require-func", ok)
			for path, want := range map[string]int{"/require": tt.require, "/require-func": tt.requireFunc} {
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, sessiontest.NewRequest(m, "GET", path, nil, tt.values))
				is.Equal(rec.Code, want) // let through or turned away
			}
		})
	}
}

func TestRequireFuncPanicsOnNilFunc(t *testing.T) {
	is := is.New(t)
	defer func() {
		msg, _ := recover().(string)
		is.Equal(msg, "chisess: RequireFunc needs a non-nil func that reports whether to let a session through")
	}()
	chisess.RequireFunc(nil, nil)
}
