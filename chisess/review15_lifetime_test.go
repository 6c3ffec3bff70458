package chisess_test

// Review of issue 15 (per-session lifetime): attacks on the promises of
// Session.SetLifetime. Tests marked HOLDS pin a promise that was tried and
// held; the others fail on the branch as reviewed.

import (
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
)

// guide.md, "A lifetime of the session's own": "d zero: A browser-session
// cookie (no Max-Age). The server ends the session after the configured
// lifetime or DefaultSessionCap (24 hours), whichever is shorter: asking for
// a browser-session cookie never makes a session live longer."
//
// SetLifetime(0) counts the configured lifetime from when it is called, not
// from the session's creation, so a session created under Lifetime 2h that
// asks for a browser-session cookie at 1h50m lives to 3h50m.
func TestReview15BrowserSessionNeverLivesLonger(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = 2 * time.Hour
		_, c := newLifetimeApp(t, cfg) // created now, with visits 1
		time.Sleep(110 * time.Minute)
		is.Equal(c.do("POST", "/lifetime?d=0s").Code, http.StatusOK)
		time.Sleep(15 * time.Minute)                      // 2h05m after creation: past the configured lifetime
		is.Equal(c.do("GET", "/read").Body.String(), "0") // the session must be over, as it would be without SetLifetime(0)
	})
}

// lifetime.go: "When concurrent requests change the lifetime, the last to
// commit wins; a request that changes only values leaves it as it is", and
// "the cookie's Max-Age matches it"; guide: "A d of zero makes the cookie a
// browser-session cookie, dropped when the browser closes" (the kiosk).
//
// With Rolling, a read-only request B that loaded the session before A's
// SetLifetime(0) committed, and that records the last use after it, answers
// with a Set-Cookie built from its stale metadata: a persistent Max-Age of
// the configured lifetime. The browser's cookie outlives the browser
// session that A asked for, though the server has the lifetime right.
func TestReview15ConcurrentTouchKeepsBrowserSessionCookie(t *testing.T) {
	forEachServerModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = time.Hour
		cfg.Rolling = true
		m := newManager(t, cfg)
		r := lifetimeRouter(t, m)
		held, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		defer free()
		hold := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("hold") != "" {
					chisess.From(r.Context()).Load(r.Context())
					close(held)
					<-release
				}
				next.ServeHTTP(w, r)
			})
		}
		outer := chi.NewRouter()
		outer.Use(chisess.Load(m), hold)
		outer.Mount("/", r)
		c := newClient(t, m, outer)
		c.do("GET", "/")            // visits 1, a persistent cookie of an hour
		time.Sleep(2 * time.Minute) // the last use is due to be recorded

		done := make(chan *httptest.ResponseRecorder, 1)
		go func() { done <- send(outer, "GET", "/read?hold=1", m.CookieName(), c.cookie) }() // B: a page view, loaded now
		<-held
		rec := c.do("POST", "/lifetime?d=0s") // A: the kiosk asks for a browser-session cookie
		is.Equal(maxAge(t, rec, m.CookieName()), time.Duration(0))
		free()
		b := <-done
		is.Equal(b.Body.String(), "1")
		if sc := setCookie(b, m.CookieName()); sc != nil {
			is.Equal(sc.MaxAge, 0) // B must not make the cookie persistent again
		}
	})
}

// SetLifetime: "A d longer than Config.MaxLifetime is cut to it", and
// record.go: "a record it cannot read in full is malformed to it, never
// misread"; errors.go: "What a commit saves is always within the limits, so
// it can always be read back."
//
// With MaxLifetime at the longest Duration (an app that "turns it off"),
// SetLifetime(math.MaxInt64) rounds the lifetime up to a millisecond past
// maxLifetimeMillis: the commit writes a record that decodeRecord refuses,
// and the session is gone on the next request.
func TestReview15LongestLifetimeReadsBack(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.MaxLifetime = math.MaxInt64
		_, c := newLifetimeApp(t, cfg)
		rec := c.do("POST", "/lifetime?d=2562047h47m16.854775807s") // math.MaxInt64; with 16.854s (a whole ms) it reads back
		is.Equal(rec.Code, http.StatusOK)
		is.Equal(c.do("GET", "/read").Body.String(), "1") // the session lives on
	})
}

// guide.md, "Expires beside Max-Age": "Both count down to the end of the
// session's lifetime, so a later response (a change, a new token) names the
// same instant, or a later one with Rolling."
//
// Max-Age is rounded to the second from each response's now, and Expires is
// now+Max-Age truncated: two responses 600ms apart name instants a second
// apart, the later response the earlier instant.
func TestReview15ExpiresSameInstantAcrossResponses(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = 2 * time.Hour
		m := newManager(t, cfg)
		c := newClient(t, m, lifetimeRouter(t, m))
		first := mustSetCookie(t, c.do("GET", "/"), m.CookieName())
		time.Sleep(600 * time.Millisecond)
		second := mustSetCookie(t, c.do("GET", "/"), m.CookieName()) // a change: visits 2
		is.Equal(second.Expires, first.Expires)                      // the same instant
	})
}

// HOLDS: Destroy drops the lifetime, and a session created after it in the
// same request has the configured one; SetLifetime after Destroy in the
// same request applies to the new session.
func TestReview15HoldsDestroyThenSetLifetime(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = time.Hour
		m := newManager(t, cfg)
		r := lifetimeRouter(t, m)
		r.Post("/relogin", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			is.NoErr(s.SetLifetime(10 * time.Minute))
			is.NoErr(s.Destroy())
			is.NoErr(s.Set("visits", 7))
			is.Equal(s.Lifetime(), time.Hour)
			is.NoErr(s.SetLifetime(5 * time.Minute))
		}))
		c := newClient(t, m, r)
		c.do("GET", "/")
		rec := c.do("POST", "/relogin")
		is.Equal(maxAge(t, rec, m.CookieName()), 5*time.Minute)
		is.Equal(c.do("GET", "/lifetime").Body.String(), "5m0s 5m0s")
	})
}

// guide.md, the rules of SetLifetime: "concurrent requests: Merged like a
// key: the last request to change the lifetime wins, and a request that
// changed only values leaves it as it is." The row names no backend; on
// the cookie backend a values-only request that loaded the session before
// another request's SetLifetime, and answers after it, seals its own copy
// and drops the lifetime (the concurrent section's "the last response the
// browser receives wins"). A doc precision issue: the row should say so.
func TestReview15CookieValuesOnlyRequestKeepsLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		m := newManager(t, chisess.Config{Secret: testSecret, Lifetime: time.Hour})
		r := lifetimeRouter(t, m)
		held, release := make(chan struct{}), make(chan struct{})
		hold := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("hold") != "" {
					chisess.From(r.Context()).Load(r.Context())
					close(held)
					<-release
				}
				next.ServeHTTP(w, r)
			})
		}
		outer := chi.NewRouter()
		outer.Use(chisess.Load(m), hold)
		outer.Mount("/", r)
		c := newClient(t, m, outer)
		c.do("GET", "/")
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() { done <- send(outer, "GET", "/?hold=1", m.CookieName(), c.cookie) }() // B: visits 2
		<-held
		c.do("POST", "/lifetime?d=10m") // A commits first
		close(release)
		b := <-done
		s, err := m.Inspect(t.Context(), mustSetCookie(t, b, m.CookieName()).Value)
		is.NoErr(err)
		is.Equal(s.Lifetime(), 10*time.Minute) // B changed only values: the lifetime stays
	})
}
