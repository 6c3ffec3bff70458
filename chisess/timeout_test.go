package chisess_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// A client that hangs up after the handler destroyed the session must not
// stop the logout half-way: the commit runs detached from the request's
// context.
func TestLogoutSurvivesClientHangingUp(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		cookie, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
		is.NoErr(err)

		ctx, hangUp := context.WithCancel(context.Background())
		r := chi.NewRouter()
		r.Use(chisess.Load(m))
		r.With(chisess.Autoload).Post("/logout", func(w http.ResponseWriter, r *http.Request) {
			chisess.From(r.Context()).Destroy()
			hangUp() // the client is gone before the response starts
		})
		req := httptest.NewRequestWithContext(ctx, "POST", "/logout", nil)
		req.AddCookie(cookie)
		r.ServeHTTP(httptest.NewRecorder(), req)

		is.Equal(tm.deletes(), 1) // the record was deleted anyway
		_, err = m.Inspect(context.Background(), cookie.Value)
		is.True(errors.Is(err, chisess.ErrUnknownSession)) // and the session is gone
	})
}

// Every backend call gets Config.Timeout, so a hanging store turns into an
// error response instead of a hanging request.
func TestBackendCallsTimeOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		b := sessiontest.NewBackend()
		var reported error
		m := newManager(t, chisess.Config{
			Backend: b,
			Timeout: 2 * time.Second,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				reported = err
				w.WriteHeader(http.StatusServiceUnavailable)
			},
		})
		cookie, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
		is.NoErr(err)
		// From here the store hangs: the next read and the next write
		// wait at gates that are never opened, until their context ends.
		defer b.Hold("read").Release()
		defer b.Hold("write").Release()

		r := chi.NewRouter()
		r.Use(chisess.Load(m), chisess.Autoload)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {})
		r.Get("/new", func(w http.ResponseWriter, r *http.Request) {})

		start := time.Now()
		rec := send(r, "GET", "/", cookie.Name, cookie.Value)
		is.Equal(rec.Code, http.StatusServiceUnavailable)      // the load gave up
		is.True(errors.Is(reported, context.DeadlineExceeded)) // because of the timeout
		is.Equal(time.Since(start), 2*time.Second)             // after exactly Config.Timeout

		// The commit has its own deadline too.
		r2 := chi.NewRouter()
		r2.Use(chisess.Load(m))
		r2.Get("/", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			s.Set("x", 1)
		}))
		start = time.Now()
		rec = send(r2, "GET", "/", m.CookieName())
		is.Equal(rec.Code, http.StatusServiceUnavailable)
		is.True(errors.Is(reported, context.DeadlineExceeded))
		is.Equal(time.Since(start), 2*time.Second)
	})
}
