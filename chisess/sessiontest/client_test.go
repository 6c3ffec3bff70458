package sessiontest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
)

// TestClientFlow is a browser's visit as a sequence of requests: the
// client keeps the cookie the app sets, sends it back, and drops it when
// the app expires it. Redirects are left to the test.
func TestClientFlow(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			is := is.New(t)
			m := newManager(t, mode.cfg(sessiontest.NewBackend()))
			c := sessiontest.NewClient(t, newKitApp(m))
			name := m.CookieName()

			resp := c.Get("/read")
			is.Equal(resp.StatusCode, http.StatusOK)
			is.Equal(readBody(t, resp), "") // a new visitor has no user
			sessiontest.AssertNoSession(t, m, resp)
			is.Equal(c.Cookie(name), nil) // and no cookie

			resp = c.PostForm("/login", url.Values{"user": {"bob"}})
			is.Equal(resp.StatusCode, http.StatusSeeOther) // the redirect is not followed
			is.Equal(resp.Header.Get("Location"), "/read")
			sessiontest.AssertValue(t, m, resp, "user", "bob")
			before := c.Cookie(name)
			is.True(before != nil) // the client keeps the session cookie

			resp = c.Get("/read")
			is.Equal(readBody(t, resp), "bob")                 // and sends it back
			sessiontest.AssertValue(t, m, resp, "user", "bob") // read from the request's cookie
			is.Equal(c.Cookie(name).Value, before.Value)       // a read changes nothing

			resp = c.PostForm("/logout", nil)
			sessiontest.AssertDestroyed(t, m, before, resp)
			is.Equal(c.Cookie(name), nil) // the expired cookie is gone
			is.Equal(readBody(t, c.Get("/read")), "")
		})
	}
}

func TestClientServesHTTPS(t *testing.T) {
	is := is.New(t)
	c := sessiontest.NewClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "plain HTTP", http.StatusBadRequest)
		}
	}))
	is.Equal(c.Get("/").StatusCode, http.StatusOK) // Secure cookies need HTTPS
}

func TestClientBodyInMemory(t *testing.T) {
	is := is.New(t)
	c := sessiontest.NewClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 1<<16)))
	}))
	resp := c.Get("/")
	is.NoErr(resp.Body.Close()) // closing is optional and harmless
	is.Equal(len(readBody(t, resp)), 1<<16)
}

// TestClientDo sends a method of its own to a path, leaving the caller's
// request as it was.
func TestClientDo(t *testing.T) {
	is := is.New(t)
	var got string
	c := sessiontest.NewClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.URL.RequestURI()
	}))
	c.SetCookie(&http.Cookie{Name: "theme", Value: "dark"})
	req, err := http.NewRequest("DELETE", "/items/7?force=1", nil)
	is.NoErr(err)
	resp := c.Do(req)
	is.Equal(resp.StatusCode, http.StatusOK)
	is.Equal(got, "DELETE /items/7?force=1")
	is.Equal(req.URL.String(), "/items/7?force=1") // Do does not change req's URL
	is.Equal(req.Header.Get("Cookie"), "")         // nor add the client's cookies to it
	c2, err := resp.Request.Cookie("theme")
	is.NoErr(err)
	is.Equal(c2.Value, "dark") // the request sent carried them
}

// TestClientSetCookie starts a client signed in with a cookie from
// m.Issue, even one with a Domain, which the client makes host-only.
func TestClientSetCookie(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Backend: sessiontest.NewBackend(), Domain: "example.com"})
	cookie, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
	is.NoErr(err)
	c := sessiontest.NewClient(t, newKitApp(m))
	c.SetCookie(cookie)
	is.Equal(cookie.Domain, "example.com") // the caller's cookie is not changed
	is.Equal(readBody(t, c.Get("/read")), "ada")
	is.Equal(c.Cookie(m.CookieName()).Value, cookie.Value)
}

// TestClientCookiePath finds a cookie set for a path below the root.
func TestClientCookiePath(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Secret: testSecret, Path: "/app"})
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app", newKitApp(m)))
	c := sessiontest.NewClient(t, mux)
	resp := c.PostForm("/app/login", nil)
	sessiontest.AssertCookie(t, resp, &http.Cookie{
		Name: "session", Path: "/app", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	is.True(c.Cookie(m.CookieName()) != nil) // looked up where it was set
	is.Equal(readBody(t, c.Get("/app/read")), "ada")
}

func TestClientConcurrentUse(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Backend: sessiontest.NewBackend()})
	c := sessiontest.NewClient(t, newKitApp(m))
	c.PostForm("/login", nil)
	var wg sync.WaitGroup
	bodies := make(chan string, 8)
	for range 8 {
		wg.Go(func() { // Get fails the test with t.Fatalf, which ends only this goroutine
			bodies <- readBody(t, c.Get("/read"))
			c.Cookie(m.CookieName())
		})
	}
	wg.Wait()
	close(bodies)
	for b := range bodies {
		is.Equal(b, "ada") // every tab sees the session
	}
}

// TestClientFailsTheTest checks that a request that cannot be sent or
// answered fails the test with t.Fatalf, naming the request, and that the
// server is closed at cleanup.
func TestClientFailsTheTest(t *testing.T) {
	is := is.New(t)
	rec := &recordingT{TB: t}
	defer rec.finish()
	c := sessiontest.NewClient(rec, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler) // the connection drops without a response
		}
	}))
	is.True(rec.helpers > 0) // NewClient calls t.Helper

	record(rec, func(testing.TB) { c.Get("/abort") })
	is.True(rec.fatal)                                                            // a request with no response ends the test
	is.True(strings.Contains(rec.message(), "sessiontest: Client: GET /abort: ")) // the report names the request

	rec = &recordingT{TB: t}
	defer rec.finish()
	c = sessiontest.NewClient(rec, http.NotFoundHandler())
	is.Equal(c.Get("/").StatusCode, http.StatusNotFound)
	rec.finish() // the test's cleanup
	record(rec, func(testing.TB) { c.Get("/after") })
	is.True(rec.fatal) // the server is closed at cleanup
	is.True(strings.Contains(rec.message(), "GET /after"))
}

func TestNewClientNilHandler(t *testing.T) {
	is := is.New(t)
	rec := record(&recordingT{TB: t}, func(t testing.TB) { sessiontest.NewClient(t, nil) })
	is.True(rec.fatal) // no handler, no client
	is.Equal(rec.message(), "sessiontest: NewClient: the handler is nil")
}
