package chisess_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/matryer/is"
)

// The sealed-cookie backend keeps the whole session in the cookie, so the
// server has no record to merge concurrent changes into, to keep dead after
// a logout, or to delete. It cannot prevent lost updates, the resurrection
// of a logged-out session by a slower request, or the replay of a copied
// cookie: docs/backends.md#what-each-backend-promises (the "sealed cookie"
// row) documents these outcomes, and these tests pin them down. The
// server-side backends prevent all three (internal/racetest,
// TestIdleRefreshDoesNotBringBackLoggedOutSession, and the dead token after
// logout in internal/flowtest).

// Two concurrent requests load the same cookie and each set a different
// key. Both answer 200 with a cookie, but each cookie holds only its own
// request's change: the browser keeps the one it receives last, and the
// other change is lost (last writer wins).
func TestCookieBackendLastWriterWins(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Secret: testSecret})
	start, err := m.Issue(t.Context(), map[string]any{"user": "ada"})
	is.NoErr(err)
	r := newRouter(t, m)
	loadedBoth := make(chan string, 2)
	release := map[string]chan struct{}{"first": make(chan struct{}), "second": make(chan struct{})}
	r.Post("/set", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		key := r.URL.Query().Get("key")
		loadedBoth <- key
		<-release[key]
		if err := s.Set(key, true); err != nil {
			http.Error(w, "set failed", http.StatusInternalServerError)
		}
	}))

	done := map[string]chan *httptest.ResponseRecorder{"first": make(chan *httptest.ResponseRecorder), "second": make(chan *httptest.ResponseRecorder)}
	for key, ch := range done {
		go func() { ch <- send(r, "POST", "/set?key="+key, m.CookieName(), start.Value) }()
	}
	<-loadedBoth // both requests hold the same sealed session
	<-loadedBoth
	close(release["first"])
	first := <-done["first"]
	close(release["second"])
	second := <-done["second"] // the second commits last

	for _, rec := range []*httptest.ResponseRecorder{first, second} {
		is.Equal(rec.Code, http.StatusOK)                     // neither request fails
		is.True(setCookie(rec, "__Host-session") != nil)      // and each hands out a cookie
		is.True(setCookie(rec, "__Host-session").MaxAge >= 0) // that keeps the session
	}
	s, err := m.Inspect(t.Context(), setCookie(first, "__Host-session").Value)
	is.NoErr(err)
	is.Equal(s.Keys(), []string{"user", "first"}) // the first cookie holds only its own change
	s, err = m.Inspect(t.Context(), setCookie(second, "__Host-session").Value)
	is.NoErr(err)
	is.Equal(s.Keys(), []string{"user", "second"}) // and the last one, which the browser keeps, has lost the first's
}

// A logout (Destroy) expires the cookie in the browser, but the server
// keeps nothing to delete: a copy of the cookie taken before the logout
// still opens the old session until its sealed expiry. There is no
// revocation short of removing the secret.
func TestCookieBackendReplayedCookieOutlivesLogout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		m := newManager(t, chisess.Config{Secret: testSecret, Lifetime: time.Hour})
		r := newRouter(t, m)
		c := newClient(t, m, r)
		is.Equal(c.do("GET", "/").Body.String(), "1") // logged in, visits=1
		copied := c.cookie

		rec := c.do("POST", "/destroy")
		is.Equal(rec.Code, http.StatusOK)
		is.True(mustSetCookie(t, rec, "__Host-session").MaxAge < 0) // the logout expires the cookie
		is.Equal(c.cookie, "")                                      // and the browser drops it

		is.Equal(send(r, "GET", "/read", m.CookieName(), copied).Body.String(), "1") // a replayed copy still opens the old session
		_, err := m.Inspect(t.Context(), copied)
		is.NoErr(err) // and the server cannot tell it was logged out

		time.Sleep(59 * time.Minute)
		is.Equal(send(r, "GET", "/read", m.CookieName(), copied).Body.String(), "1") // until just before its sealed expiry
		time.Sleep(time.Minute)
		is.Equal(send(r, "GET", "/read", m.CookieName(), copied).Body.String(), "0") // which ends it at last
		_, err = m.Inspect(t.Context(), copied)
		is.True(errors.Is(err, chisess.ErrUnknownSession)) // expired
	})
}

// The logout race on the cookie backend: request A loads the session and
// is held; request B logs out and expires the cookie; A is released. A
// answers 200 with a cookie that carries the old session, so if the
// browser receives A's response last the logged-out session is back. It
// happens both when A changes the session and when A only reads it with an
// idle refresh due (the refresh re-seals the cookie). The server-side
// backends prevent both (racetest's destroy-beats-slow-writer,
// TestIdleRefreshDoesNotBringBackLoggedOutSession).
func TestCookieBackendSlowRequestBringsBackLoggedOutSession(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *chisess.Session) error // what A does once released
		keys   []string                       // what A's cookie holds
	}{
		{"slow-writer", func(s *chisess.Session) error { return s.Set("cart", "tea") }, []string{"visits", "cart"}},
		{"read-only-idle-refresh", func(s *chisess.Session) error { return nil }, []string{"visits"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				m := newManager(t, chisess.Config{Secret: testSecret, IdleTimeout: time.Hour})
				r := newRouter(t, m)
				held, release := make(chan struct{}), make(chan struct{})
				var once sync.Once
				free := func() { once.Do(func() { close(release) }) }
				defer free() // a failed assertion must not leave A held
				r.Post("/held", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
					close(held)
					<-release
					if err := tt.change(s); err != nil {
						http.Error(w, "change failed", http.StatusInternalServerError)
					}
				}))
				c := newClient(t, m, r)
				c.do("GET", "/") // logged in, visits=1
				token := c.cookie
				time.Sleep(2 * time.Minute) // an idle refresh is due on the next load

				done := make(chan *httptest.ResponseRecorder, 1)
				go func() { done <- send(r, "POST", "/held", m.CookieName(), token) }()
				<-held
				rec := c.do("POST", "/destroy")
				is.True(mustSetCookie(t, rec, "__Host-session").MaxAge < 0) // B's logout expires the cookie
				free()
				rec = <-done

				is.Equal(rec.Code, http.StatusOK) // A answers 200
				sc := setCookie(rec, "__Host-session")
				is.True(sc != nil && sc.MaxAge >= 0) // with a cookie that keeps a session
				s, err := m.Inspect(t.Context(), sc.Value)
				is.NoErr(err)                                     // the logged-out session, resealed
				is.Equal(s.Keys(), tt.keys)                       // with its data
				c.cookie = sc.Value                               // A's response reaches the browser last
				is.Equal(c.do("GET", "/read").Body.String(), "1") // and the user is logged in again
			})
		})
	}
}
