package chisess_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/matryer/is"
)

func TestRenewEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		m := newManager(t, chisess.Config{
			Backend:    backend.NewMemoryWithCleanup(0),
			RenewEvery: time.Hour,
			RenewGrace: 30 * time.Second,
		})
		c := newClient(t, m, newRouter(t, m))
		c.do("GET", "/")
		first := c.cookie

		time.Sleep(30 * time.Minute)
		c.do("GET", "/read")
		is.Equal(c.cookie, first) // younger than RenewEvery: the same ID

		time.Sleep(31 * time.Minute)
		rec := c.do("GET", "/read") // a read-only request renews too
		is.Equal(rec.Body.String(), "1")
		is.True(setCookie(rec, m.CookieName()) != nil) // the new ID goes out
		is.True(c.cookie != first)

		// A request still carrying the old ID within the grace window (a
		// parallel fetch, another tab) reaches the same session and is
		// handed the new ID.
		late := c.withCookie(first)
		rec = late.do("GET", "/")
		is.Equal(rec.Code, http.StatusOK)
		is.Equal(rec.Body.String(), "2")
		is.Equal(late.cookie, c.cookie) // it now holds the new ID
		is.Equal(c.do("GET", "/read").Body.String(), "2")

		time.Sleep(31 * time.Second)
		stale := c.withCookie(first)
		is.Equal(stale.do("GET", "/read").Body.String(), "0") // after the grace window the old ID is dead
	})
}

// A request that loaded the session just before another request renewed
// it periodically still commits, into the renewed session, instead of
// failing as it would after a logout.
func TestRenewEveryKeepsInFlightRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		m := newManager(t, chisess.Config{Backend: backend.NewMemoryWithCleanup(0), RenewEvery: time.Hour})
		r := newRouter(t, m)
		loaded, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		defer free() // a failed assertion must not leave the slow request held
		r.Post("/slow", loaded2(t, func(s *chisess.Session) {
			close(loaded)
			<-release
			s.Set("cart", "tea")
		}))
		r.Get("/cart", loaded2(t, func(s *chisess.Session) {}))
		c := newClient(t, m, r)
		c.do("GET", "/")
		old := c.cookie
		time.Sleep(2 * time.Hour)

		slow := c.withCookie(old)
		done := make(chan int, 1)
		go func() { done <- slow.do("POST", "/slow").Code }()
		<-loaded
		c.do("GET", "/read") // renews the ID meanwhile
		is.True(c.cookie != old)
		free()
		is.Equal(<-done, http.StatusOK) // the in-flight request did not fail
		is.Equal(slow.cookie, c.cookie) // it was handed the new ID
		s, err := m.Inspect(t.Context(), c.cookie)
		is.NoErr(err)
		cart, err := chisess.Get[string](s, "cart")
		is.NoErr(err)
		is.Equal(cart, "tea") // and its change landed in the renewed session
	})
}

func TestRenewEveryCookieBackend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		_, c := newApp(t, chisess.Config{Secret: testSecret, RenewEvery: time.Hour})
		c.do("GET", "/")
		id1 := c.do("GET", "/id").Body.String()
		time.Sleep(2 * time.Hour)
		c.do("GET", "/read")
		id2 := c.do("GET", "/id").Body.String()
		is.True(id1 != id2) // the sealed session got a new ID
		is.Equal(c.do("GET", "/read").Body.String(), "1")
	})
}

func loaded2(t *testing.T, f func(s *chisess.Session)) http.HandlerFunc {
	return loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		f(s)
		fmt.Fprint(w, "ok")
	})
}
