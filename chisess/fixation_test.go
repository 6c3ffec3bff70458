package chisess_test

// Session fixation and logout: the hostile-input suite's family for IDs
// that must change or die (OWASP Session Management Cheat Sheet, "Renew
// the Session ID After Any Privilege Level Change" and "Logout").

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/matryer/is"
)

func TestRenewTokenKeepsDataAndKillsOldToken(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m, c := newApp(t, tm.cfg)
		c.do("GET", "/")
		oldCookie := c.cookie
		oldID := c.do("GET", "/id").Body.String()

		rec := c.do("POST", "/renew")
		is.True(setCookie(rec, m.CookieName()) != nil) // renewal sends the new cookie
		is.True(c.cookie != oldCookie)                 // with a new value
		is.True(c.do("GET", "/id").Body.String() != oldID)
		is.Equal(c.do("GET", "/read").Body.String(), "1") // data kept

		if tm.name == "cookie" {
			return // a sealed cookie cannot be revoked; see docs/security.md
		}
		stale := c.withCookie(oldCookie)
		is.Equal(stale.do("GET", "/read").Body.String(), "0") // the old ID is dead
	})
}

func TestDestroyDeletesAndExpiresCookie(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m, c := newApp(t, tm.cfg)
		c.do("GET", "/")
		oldCookie := c.cookie

		rec := c.do("POST", "/destroy")
		sc := setCookie(rec, m.CookieName())
		is.True(sc != nil)                                      // the cookie is expired
		is.True(sc.MaxAge < 0)                                  // with Max-Age=0
		is.Equal(sc.Path, "/")                                  // on the same path it was set on
		is.Equal(rec.Header().Get("Cache-Control"), "no-store") // never cached
		is.Equal(c.do("GET", "/read").Body.String(), "0")       // the browser has no session

		if tm.b != nil {
			is.Equal(tm.deletes(), 1) // the record is deleted
			stale := c.withCookie(oldCookie)
			is.Equal(stale.do("GET", "/read").Body.String(), "0") // and the old cookie is dead
		}
	})
}

func TestRotateOnLoginDefeatsFixation(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		r := newRouter(t, m)
		r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
			is.NoErr(chisess.From(r.Context()).Set("user", "victim"))
		})
		r.Get("/whoami", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			u, _ := chisess.Get[string](s, "user")
			fmt.Fprint(w, u)
		}))
		attacker := newClient(t, m, r)
		attacker.do("GET", "/") // the attacker gets a real session...
		planted := attacker.cookie

		victim := newClient(t, m, r)
		victim.cookie = planted // ...and plants its ID in the victim's browser
		victim.do("POST", "/login")
		is.True(victim.cookie != planted) // login moved the victim to a new ID
		is.Equal(victim.do("GET", "/whoami").Body.String(), "victim")
		is.Equal(attacker.do("GET", "/whoami").Body.String(), "") // the planted ID never gains the login
	})
}

func TestRenewFailsWhenOldTokenCannotBeRetired(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	m, c := newApp(t, chisess.Config{Backend: b})
	c.do("GET", "/")
	old := c.cookie
	b.FailNext("swap", 1, errOutage) // the swap that retires the old token
	rec := c.do("POST", "/renew")
	is.Equal(rec.Code, http.StatusInternalServerError) // an old token that would outlive the renewal fails the request
	is.Equal(setCookie(rec, m.CookieName()), nil)      // and the browser keeps its cookie
	is.Equal(c.cookie, old)
	is.Equal(b.Len(), 1)                              // the copy under the new token is gone again
	is.Equal(c.do("GET", "/read").Body.String(), "1") // and the session goes on under the old one
}

// Destroy expires the cookie with the same Path and Domain it was issued
// with; a browser ignores an expiry that does not match them and would
// keep the old cookie.
func TestDestroyExpiresCookieWhereItWasSet(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Path = "/app"
		cfg.Domain = "example.com"
		m := newManager(t, cfg)
		c := newClient(t, m, http.StripPrefix("/app", newRouter(t, m))) // the app lives under its Path
		issued := mustSetCookie(t, c.do("GET", "/app/"), m.CookieName())
		rec := c.do("POST", "/app/destroy")
		sc := setCookie(rec, m.CookieName())
		is.True(sc != nil && sc.MaxAge < 0) // expired
		is.Equal(sc.Path, issued.Path)      // on the issued Path
		is.Equal(sc.Path, "/app")
		is.Equal(sc.Domain, issued.Domain) // and Domain
		is.Equal(sc.Domain, "example.com")
		raw := rec.Header().Get("Set-Cookie")
		is.True(strings.Contains(raw, "Secure") && strings.Contains(raw, "HttpOnly")) // with the same attributes
	})
}
