package chisess_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/matryer/is"
)

// A request that only reads a session cannot bring it back after a logout
// with its idle refresh, on either backend path: request A loads the
// session when its refresh is due and is held; request B logs out; A is
// released without changing anything. A still answers 200 (a refresh that
// fails never fails a read-only request) and hands out no cookie, and its
// refresh does not write the record back: the session stays gone. Time
// must pass for the refresh to come due (it is throttled to once per
// min(IdleTimeout/10, 1 minute)), so this runs on synctest's fake clock.
func TestIdleRefreshDoesNotBringBackLoggedOutSession(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			var reported []error
			cfg := tm.cfg
			cfg.IdleTimeout = time.Hour
			cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
				reported = append(reported, err)
				http.Error(w, "session error", http.StatusInternalServerError)
			}
			m := newManager(t, cfg)
			r := newRouter(t, m)
			held, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			defer free() // a failed assertion must not leave A held
			r.Get("/held", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				close(held)
				<-release
				n, _ := chisess.Get[int](s, "visits")
				fmt.Fprint(w, n)
			}))
			c := newClient(t, m, r)
			c.do("GET", "/") // visits=1
			token := c.cookie

			// Without a logout, a read-only request two minutes on
			// refreshes the last use: the refresh is due.
			time.Sleep(2 * time.Minute)
			is.Equal(c.do("GET", "/read").Body.String(), "1")
			s, err := m.Inspect(t.Context(), token)
			is.NoErr(err)
			is.True(s.LastUsed().Equal(time.Now())) // the read-only request wrote its refresh
			time.Sleep(2 * time.Minute)             // and now the next one is due

			done := make(chan *httptest.ResponseRecorder, 1)
			go func() { done <- send(r, "GET", "/held", m.CookieName(), token) }()
			<-held
			is.Equal(c.do("POST", "/destroy").Code, http.StatusOK) // B logs out while A is held
			is.Equal(c.cookie, "")
			is.Equal(tm.b.Len(), 0) // the record is gone
			free()
			rec := <-done

			is.Equal(rec.Code, http.StatusOK)             // A answers 200
			is.Equal(rec.Body.String(), "1")              // from the session it loaded
			is.Equal(setCookie(rec, m.CookieName()), nil) // and hands out no cookie
			is.Equal(len(reported), 0)                    // no error was reported
			is.Equal(tm.b.Len(), 0)                       // its refresh recreated no record
			_, err = m.Inspect(t.Context(), token)
			is.True(errors.Is(err, chisess.ErrUnknownSession)) // the session stays gone
		})
	})
}
