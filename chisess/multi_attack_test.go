package chisess_test

// Attacks on what Load's doc promises of several managers on one request,
// each quoting the promise it tries to break; each failed on the version it
// was written against unless it says it held.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
)

// Load: "Mounting Load(m) again below another manager's Load [...] makes
// m's the nearest again", and "When one of the sessions fails to save, its
// manager's ErrorHandler answers instead: the sessions nested inside it,
// saved already, keep their cookies on that answer".
//
// site's Load, then prefs', then, on one route, site's again (to aim the
// middlewares at it) and a third manager's, cart's, whose Load is nested
// inside prefs'. The request renews cart's token and changes prefs, whose
// store fails. It failed when cart's Load took the re-mounted site's for
// the Load around it: cart's cookie, saved first, was kept for site's
// error answers but not for prefs', so prefs' answer dropped it, and the
// client was left holding cart's old token, dead since the renewal.
func TestLoadBelowALoadMountedAgainKeepsItsCookieOnAnErrorAnswer(t *testing.T) {
	is := is.New(t)
	p := newPair(t, "memory", "memory", false)
	cartM := newMode("memory")
	cfg := cartM.cfg
	cfg.CookieName = "__Host-cart"
	cart := newManager(t, cfg)

	r := chi.NewRouter()
	r.Use(chisess.Load(p.site), chisess.Load(p.prefs))
	r.With(chisess.Load(p.site), chisess.Load(cart)).Get("/{op}", func(w http.ResponseWriter, r *http.Request) {
		prefs, c := p.prefs.From(r.Context()), cart.From(r.Context())
		is.NoErr(errors.Join(prefs.Load(r.Context()), c.Load(r.Context())))
		switch chi.URLParam(r, "op") {
		case "set":
			is.NoErr(errors.Join(prefs.Set("theme", "dark"), c.Set("items", 1)))
		case "change":
			is.NoErr(errors.Join(prefs.Set("theme", "light"), c.RenewToken(), c.Set("items", 2)))
		case "get":
			items, _ := chisess.Get[int](c, "items")
			fmt.Fprint(w, items)
		}
	})
	cl := sessiontest.NewClient(t, r)
	cl.Get("/set")
	oldCart := cl.Cookie("__Host-cart").Value

	p.prefsM.b.FailNext(p.prefsM.update, 1, errOutage)
	resp := cl.Get("/change")
	is.Equal(resp.StatusCode, http.StatusBadGateway) // prefs' ErrorHandler answered
	is.Equal(*p.errs, []string{"prefs: chisess: save session: backend is down"})
	is.True(responseCookie(resp, "__Host-cart") != nil) // cart, nested inside prefs and saved, keeps its cookie
	is.True(cl.Cookie("__Host-cart").Value != oldCart)  // the renewed token reached the client
	body, _ := io.ReadAll(cl.Get("/get").Body)
	is.Equal(string(body), "2") // and leads to what was saved
}

// Load: "Two managers serving one request must have different cookie
// names, since a browser keeps one cookie per name: Load panics at the
// first request that reaches two with the same one."
//
// The same wiring, where the third manager's cookie name is prefs'. It
// failed when the check looked only at the Loads around the re-mounted
// site's (site's alone), and missed prefs'.
func TestLoadBelowALoadMountedAgainChecksEveryCookieName(t *testing.T) {
	is := is.New(t)
	site := newManager(t, chisess.Config{Backend: backend.NewMemoryWithCleanup(0), CookieName: "site"})
	prefs := newManager(t, chisess.Config{Backend: backend.NewMemoryWithCleanup(0), CookieName: "prefs"})
	third := newManager(t, chisess.Config{Backend: backend.NewMemoryWithCleanup(0), CookieName: "prefs"})
	r := chi.NewRouter()
	r.Use(chisess.Load(site), chisess.Load(prefs))
	r.With(chisess.Load(site), chisess.Load(third)).Get("/", func(http.ResponseWriter, *http.Request) {})
	msg := panicOf(func() { send(r, "GET", "/", "") })
	is.True(strings.Contains(msg, `both use the cookie "prefs"`)) // the clash is found, and named
}

// Load: "Two managers serving one request must have different cookie
// names, since a browser keeps one cookie per name: Load panics at the
// first request that reaches two with the same one"; TokenHeader: "When
// the session ends, the response carries the header with an empty value."
//
// The same clash through TokenHeader: two managers' sessions both travel in
// Authorization. The outer commit's token replaces the inner's in the one
// header, and on later requests each reads the other's token as a dead one
// of its own and empties the header, so the client can never hold both. It
// failed when nothing checked it: the first request went through, and the
// client got one of the two new sessions' tokens.
func TestTwoManagersWithOneTokenHeaderPanic(t *testing.T) {
	wirings := []struct {
		name  string
		mount func(r chi.Router, site, prefs *chisess.Manager) chi.Router
	}{
		{"inner first", func(r chi.Router, site, prefs *chisess.Manager) chi.Router {
			r.Use(chisess.Load(site), chisess.Load(prefs), chisess.TokenHeader("Authorization"))
			return r.With(chisess.Load(site), chisess.TokenHeader("Authorization"))
		}},
		{"outer first", func(r chi.Router, site, prefs *chisess.Manager) chi.Router {
			r.Use(chisess.Load(site), chisess.TokenHeader("Authorization"))
			return r.With(chisess.Load(prefs), chisess.TokenHeader("Authorization"))
		}},
	}
	for _, tt := range wirings {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			p := newPair(t, "memory", "memory", false)
			r := chi.NewRouter()
			tt.mount(r, p.site, p.prefs).Get("/set", both(t, p, func(w http.ResponseWriter, site, prefs *chisess.Session) {
				is.NoErr(errors.Join(site.Set("user", "ada"), prefs.Set("theme", "dark")))
			}))
			var rec *httptest.ResponseRecorder
			msg := panicOf(func() { rec = send(r, "GET", "/set", "") })
			if msg == "" {
				is.Equal(len(rec.Header().Values("Authorization")), 2) // both new sessions' tokens must reach the client
			}
			is.True(strings.Contains(msg, `"Authorization"`)) // the clash is found, and named
		})
	}
}

// Config.Path: a request outside it gets "a new, empty session whatever
// cookies it carries, its changes return an error wrapping ErrOutsidePath,
// and its response neither sets nor clears the cookie"; Load: each of
// several managers' sessions "has its own cookie".
//
// Two managers on one router, site's for the whole site and admin's for
// /admin only; a request inside both, and one inside site's Path but
// outside admin's, which carries admin's cookie all the same (planted for
// Path=/, or sent by a client that ignores Path). Outside, admin's session
// is new and refuses changes, site's works as anywhere, and only site's
// cookie is set: admin's is neither set nor cleared, and the admin session
// stays. HOLDS.
func TestTwoManagersWithTwoPaths(t *testing.T) {
	for _, modes := range [][2]string{{"memory", "memory"}, {"cookie", "memory"}, {"memory", "cookie"}} {
		t.Run(modes[0]+" and "+modes[1], func(t *testing.T) {
			is := is.New(t)
			siteM, adminM := newMode(modes[0]), newMode(modes[1])
			sc, ac := siteM.cfg, adminM.cfg
			sc.CookieName, ac.CookieName, ac.Path = "site", "admin", "/admin"
			site, admin := newManager(t, sc), newManager(t, ac)
			r := chi.NewRouter()
			r.Use(chisess.Load(site), chisess.Load(admin))
			var adminErr error
			var adminLoaded string
			r.Post("/{area}/login", func(w http.ResponseWriter, r *http.Request) {
				s, a := site.From(r.Context()), admin.From(r.Context())
				is.NoErr(errors.Join(s.Load(r.Context()), a.Load(r.Context())))
				adminLoaded, _ = chisess.Get[string](a, "role")
				is.NoErr(s.Set("user", "ada"))
				adminErr = a.Set("role", "root")
			})

			rec := send(r, "POST", "/admin/login", "")
			is.NoErr(adminErr) // inside both Paths
			adminCookie := mustSetCookie(t, rec, "admin")
			is.Equal(adminCookie.Path, "/admin")
			is.True(setCookie(rec, "site") != nil)

			req := httptest.NewRequest("POST", "/shop/login", nil)
			req.AddCookie(&http.Cookie{Name: "admin", Value: adminCookie.Value}) // admin's cookie, where the browser would not send it
			rec = httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			is.True(errors.Is(adminErr, chisess.ErrOutsidePath)) // outside admin's Path: refused
			is.Equal(adminLoaded, "")                            // and the session there is new
			is.True(setCookie(rec, "site") != nil)               // site's works as anywhere
			is.Equal(setCookie(rec, "admin"), nil)               // admin's cookie neither set nor cleared
			s, err := admin.Inspect(t.Context(), adminCookie.Value)
			is.NoErr(err) // the admin session stays
			role, _ := chisess.Get[string](s, "role")
			is.Equal(role, "root")
		})
	}
}
