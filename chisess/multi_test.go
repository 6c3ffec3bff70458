package chisess_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// These tests hold two managers on one router to what Load's doc promises:
// each session is reached from one handler, has its own cookie and commits
// before the first byte, whatever the nesting order and backends; the
// middlewares use the nearest Load's session, and mounting Load again picks
// another; a failing commit answers through its own manager's
// ErrorHandler without losing the other's cookie.

// pair is two managers for one router: site's Load outside, prefs' inside,
// each in a mode of helpers_test.go, with its own cookie name.
type pair struct {
	site, prefs   *chisess.Manager
	siteM, prefsM mode
	// errs records which manager's ErrorHandler saw which error.
	errs *[]string
}

// newPair makes site and prefs in the modes named; with shared, both
// server-side managers use site's store.
func newPair(t *testing.T, siteMode, prefsMode string, shared bool, tune ...func(site, prefs *chisess.Config)) pair {
	t.Helper()
	p := pair{siteM: newMode(siteMode), prefsM: newMode(prefsMode), errs: new([]string)}
	if shared && p.siteM.b != nil && p.prefsM.b != nil {
		p.prefsM.b, p.prefsM.cfg.Backend = p.siteM.b, p.siteM.cfg.Backend
	}
	sc, pc := p.siteM.cfg, p.prefsM.cfg
	sc.CookieName, pc.CookieName = "__Host-site", "__Host-prefs"
	sc.ErrorHandler = p.errorHandler("site", http.StatusServiceUnavailable)
	pc.ErrorHandler = p.errorHandler("prefs", http.StatusBadGateway)
	for _, f := range tune {
		f(&sc, &pc)
	}
	p.site, p.prefs = newManager(t, sc), newManager(t, pc)
	return p
}

// errorHandler answers a failure of the named manager with its own status,
// so a response says whose ErrorHandler wrote it.
func (p pair) errorHandler(name string, status int) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		*p.errs = append(*p.errs, name+": "+err.Error())
		http.Error(w, name+" error", status)
	}
}

// router mounts site's Load outside prefs' (or the other way round with
// swapped) and a /set and a /get route that use both sessions.
func (p pair) router(t *testing.T, swapped bool) *chi.Mux {
	r := chi.NewRouter()
	if swapped {
		r.Use(chisess.Load(p.prefs), chisess.Load(p.site))
	} else {
		r.Use(chisess.Load(p.site), chisess.Load(p.prefs))
	}
	r.Get("/set", both(t, p, func(w http.ResponseWriter, site, prefs *chisess.Session) {
		if err := errors.Join(site.Set("user", "ada"), prefs.Set("theme", "dark")); err != nil {
			t.Errorf("Set: %v", err)
		}
	}))
	r.Get("/get", both(t, p, func(w http.ResponseWriter, site, prefs *chisess.Session) {
		user, _ := chisess.Get[string](site, "user")
		theme, _ := chisess.Get[string](prefs, "theme")
		fmt.Fprintf(w, "%s %s %v %v", user, theme, site.Keys(), prefs.Keys())
	}))
	return r
}

// both adapts f into a handler that loads the sessions of both managers,
// each reached through its own manager.
func both(t *testing.T, p pair, f func(w http.ResponseWriter, site, prefs *chisess.Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		site, prefs := p.site.From(r.Context()), p.prefs.From(r.Context())
		if err := errors.Join(site.Load(r.Context()), prefs.Load(r.Context())); err != nil {
			http.Error(w, "load failed", http.StatusServiceUnavailable)
			return
		}
		f(w, site, prefs)
	}
}

// A handler holds the sessions of two managers at once, as gorilla's
// registry holds two named sessions (gorilla/sessions v1.4.0's TestFlashes
// saves every session of the request with sessions.Save, each into its own
// cookie): each is reached through its manager whatever the nesting order,
// each gets its own cookie, and neither sees the other's keys, whether the
// two are sealed cookies, server-side, one of each, or share one store.
func TestTwoManagersOneHandler(t *testing.T) {
	tests := []struct {
		name, site, prefs string
		shared            bool
	}{
		{"server beside cookie", "memory", "cookie", false},
		{"cookie beside server", "cookie", "memory", false},
		{"two cookies", "cookie", "cookie", false},
		{"two servers", "memory", "base-only", false},
		{"two managers on one store", "memory", "memory", true},
	}
	for _, tt := range tests {
		for _, swapped := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, prefs outside %v", tt.name, swapped), func(t *testing.T) {
				is := is.New(t)
				p := newPair(t, tt.site, tt.prefs, tt.shared)
				c := sessiontest.NewClient(t, p.router(t, swapped))
				resp := c.Get("/set")
				is.Equal(resp.StatusCode, http.StatusOK)
				is.Equal(len(resp.Cookies()), 2) // one cookie for each session
				is.True(c.Cookie("__Host-site") != nil && c.Cookie("__Host-prefs") != nil)
				is.True(c.Cookie("__Host-site").Value != c.Cookie("__Host-prefs").Value)
				sessiontest.AssertValue(t, p.site, resp, "user", "ada")
				sessiontest.AssertValue(t, p.prefs, resp, "theme", "dark")

				body, _ := io.ReadAll(c.Get("/get").Body)
				is.Equal(string(body), "ada dark [user] [theme]") // each read back, and neither holds the other's key
			})
		}
	}
}

// A shallow copy of the request (r.WithContext, as middlewares make) still
// reaches both sessions, the same ones: modelled on the last round of
// gorilla/sessions v1.4.0's TestFlashes. chisess.From gives the nearest.
func TestManagerFromThroughACopiedRequest(t *testing.T) {
	is := is.New(t)
	p := newPair(t, "memory", "cookie", false)
	r := chi.NewRouter()
	r.Use(chisess.Load(p.site), chisess.Load(p.prefs))
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		cp := r.WithContext(r.Context())
		is.True(p.site.From(cp.Context()) == p.site.From(r.Context()))   // the same session through the copy
		is.True(p.prefs.From(cp.Context()) == p.prefs.From(r.Context())) // for both managers
		is.True(p.site.From(r.Context()) != p.prefs.From(r.Context()))   // two sessions, not one
		is.True(chisess.From(r.Context()) == p.prefs.From(r.Context()))  // From gives the nearest Load's
	})
	send(r, "GET", "/", "")
}

// Mounting Load again with a manager that already serves the request
// attaches no second session: it makes that manager's the nearest for what
// follows, so each middleware that picks the nearest session can be aimed
// at the outer manager. Without it they use the inner one. Each row's
// middleware sees prefs's session by default, and site's after
// Load(site) again.
func TestLoadAgainPicksTheManager(t *testing.T) {
	type result struct {
		status     int
		siteLoaded bool
		siteTok    string // site's token after the request
		siteHeader bool   // the response's X-Site header carries site's session
	}
	tests := []struct {
		name string
		mw   func(http.Handler) http.Handler
		// nearest is what the middleware does with prefs nearest; again,
		// with site's Load mounted again before it.
		check func(is *is.I, nearest, again result, before string)
	}{
		{"Autoload", chisess.Autoload, func(is *is.I, nearest, again result, _ string) {
			is.True(!nearest.siteLoaded) // prefs was loaded, not site
			is.True(again.siteLoaded)    // site was
		}},
		{"AutoloadPaths", chisess.AutoloadPaths("/"), func(is *is.I, nearest, again result, _ string) {
			is.True(!nearest.siteLoaded)
			is.True(again.siteLoaded)
		}},
		{"Require", chisess.Require("user", nil), func(is *is.I, nearest, again result, _ string) {
			is.Equal(nearest.status, http.StatusUnauthorized) // prefs holds no user
			is.Equal(again.status, http.StatusOK)             // site does
		}},
		{"RequireFunc", chisess.RequireFunc(func(s *chisess.Session) bool { return s.Has("user") }, nil), func(is *is.I, nearest, again result, _ string) {
			is.Equal(nearest.status, http.StatusUnauthorized)
			is.Equal(again.status, http.StatusOK)
		}},
		{"RenewToken", chisess.RenewToken, func(is *is.I, nearest, again result, before string) {
			is.Equal(nearest.siteTok, before) // prefs was renewed, not site
			is.True(again.siteTok != before)  // site was
		}},
		{"TokenHeader", chisess.TokenHeader("X-Site"), func(is *is.I, nearest, again result, _ string) {
			is.True(!nearest.siteHeader) // prefs took the header
			is.True(again.siteHeader)    // site did
		}},
	}
	for _, tt := range tests {
		for _, modes := range [][2]string{{"memory", "memory"}, {"cookie", "cookie"}, {"memory", "cookie"}, {"cookie", "memory"}} {
			t.Run(tt.name+", "+modes[0]+" outside "+modes[1], func(t *testing.T) {
				is := is.New(t)
				p := newPair(t, modes[0], modes[1], false)
				login, err := p.site.Issue(t.Context(), map[string]any{"user": "ada"})
				is.NoErr(err)
				run := func(again bool) result {
					r := chi.NewRouter()
					r.Use(chisess.Load(p.site), chisess.Load(p.prefs))
					mws := []func(http.Handler) http.Handler{tt.mw}
					if again {
						mws = []func(http.Handler) http.Handler{chisess.Load(p.site), tt.mw}
					}
					var loaded bool
					r.With(mws...).Get("/", func(w http.ResponseWriter, r *http.Request) {
						loaded = p.site.From(r.Context()).Loaded()
						s := chisess.From(r.Context())
						if err := errors.Join(s.Load(r.Context()), s.Set("seen", true)); err != nil {
							t.Errorf("Set: %v", err)
						}
					})
					req := httptest.NewRequest("GET", "/", nil)
					req.AddCookie(login)
					rec := httptest.NewRecorder()
					r.ServeHTTP(rec, req)
					res := result{status: rec.Code, siteLoaded: loaded, siteTok: login.Value}
					if h := rec.Header().Get("X-Site"); h != "" {
						s, err := p.site.Inspect(t.Context(), h) // site's session, or nothing of site's
						res.siteHeader = err == nil && s.Has("seen")
					}
					if c := setCookie(rec, "__Host-site"); c != nil {
						res.siteTok = c.Value
					}
					return res
				}
				tt.check(is, run(false), run(true), login.Value)
			})
		}
	}
}

// Load mounted again picks its manager for From and Error too, attaches no
// second session (one Set-Cookie for site), and leaves Manager.From of the
// other manager working.
func TestLoadAgainAttachesNoSecondSession(t *testing.T) {
	is := is.New(t)
	p := newPair(t, "memory", "cookie", false)
	r := chi.NewRouter()
	r.Use(chisess.Load(p.site), chisess.Load(p.prefs))
	r.With(chisess.Load(p.site), chisess.Autoload).Get("/", func(w http.ResponseWriter, r *http.Request) {
		is.True(chisess.From(r.Context()) == p.site.From(r.Context())) // site's session, the one outside
		is.NoErr(chisess.From(r.Context()).Set("user", "ada"))
		prefs := p.prefs.From(r.Context())
		is.NoErr(prefs.Load(r.Context()))
		is.NoErr(prefs.Set("theme", "dark"))
		chisess.Error(w, r, errors.New("boom")) // through the nearest manager's ErrorHandler: site's
	})
	rec := send(r, "GET", "/", "")
	is.Equal(rec.Code, http.StatusServiceUnavailable) // site's ErrorHandler answered
	is.Equal(*p.errs, []string{"site: boom"})
	// The error answer is a 5xx: neither session is saved.
	is.Equal(len(rec.Header().Values("Set-Cookie")), 0)
	is.Equal(p.siteM.writes(), 0)
}

// Manager.Error answers through its own manager's ErrorHandler, whichever
// Load is nearest; chisess.Error through the nearest one's.
func TestManagerErrorUsesItsErrorHandler(t *testing.T) {
	tests := []struct {
		name   string
		report func(p pair, w http.ResponseWriter, r *http.Request)
		want   string
		status int
	}{
		{"site.Error", func(p pair, w http.ResponseWriter, r *http.Request) { p.site.Error(w, r, errors.New("x")) }, "site: x", http.StatusServiceUnavailable},
		{"prefs.Error", func(p pair, w http.ResponseWriter, r *http.Request) { p.prefs.Error(w, r, errors.New("x")) }, "prefs: x", http.StatusBadGateway},
		{"chisess.Error", func(p pair, w http.ResponseWriter, r *http.Request) { chisess.Error(w, r, errors.New("x")) }, "prefs: x", http.StatusBadGateway},
	}
	for _, tt := range tests {
		for _, modes := range [][2]string{{"memory", "memory"}, {"cookie", "cookie"}, {"memory", "cookie"}} {
			t.Run(tt.name+", "+modes[0]+" outside "+modes[1], func(t *testing.T) {
				is := is.New(t)
				p := newPair(t, modes[0], modes[1], false)
				r := chi.NewRouter()
				r.Use(chisess.Load(p.site), chisess.Load(p.prefs))
				r.Get("/", func(w http.ResponseWriter, r *http.Request) { tt.report(p, w, r) })
				rec := send(r, "GET", "/", "")
				is.Equal(rec.Code, tt.status)
				is.Equal(*p.errs, []string{tt.want})
			})
		}
	}
}

// Manager.From and Manager.Error panic, saying what to mount, when the
// manager's Load is not on the route, even with another manager's there.
func TestManagerFromWithoutItsLoadPanics(t *testing.T) {
	p := newPair(t, "memory", "cookie", false)
	calls := []struct {
		name string
		call func(w http.ResponseWriter, r *http.Request)
	}{
		{"From", func(w http.ResponseWriter, r *http.Request) { p.site.From(r.Context()) }},
		{"Error", func(w http.ResponseWriter, r *http.Request) { p.site.Error(w, r, errors.New("x")) }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			h := chisess.Load(p.prefs)(http.HandlerFunc(tt.call))
			msg := panicOf(func() { send(h, "GET", "/", "") })
			is.True(strings.Contains(msg, "mount chisess.Load(manager)")) // says what to do
		})
	}
}

// panicOf runs f and returns what it panicked with, as a string, or "".
func panicOf(f func()) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = fmt.Sprint(p)
		}
	}()
	f()
	return ""
}

// Two managers with one cookie name on one request would overwrite and
// drop each other's cookie (a browser keeps one per name): New cannot know,
// so the first request that reaches both panics, naming the cookie, in
// either order and whatever their Paths. One manager mounted twice, and
// two names, are fine.
func TestTwoManagersWithOneCookieNamePanic(t *testing.T) {
	tests := []struct {
		name      string
		a, b      chisess.Config
		sameOne   bool
		wantPanic bool
	}{
		{"same name", chisess.Config{CookieName: "s"}, chisess.Config{CookieName: "s"}, false, true},
		{"same name, other paths", chisess.Config{CookieName: "s", Path: "/"}, chisess.Config{CookieName: "s", Path: "/admin"}, false, true},
		{"default names", chisess.Config{}, chisess.Config{}, false, true},
		{"two names", chisess.Config{CookieName: "s"}, chisess.Config{CookieName: "t"}, false, false},
		{"one manager twice", chisess.Config{CookieName: "s"}, chisess.Config{}, true, false},
	}
	for _, tt := range tests {
		for _, swapped := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, swapped %v", tt.name, swapped), func(t *testing.T) {
				is := is.New(t)
				tt.a.Backend, tt.b.Backend = backend.NewMemoryWithCleanup(0), backend.NewMemoryWithCleanup(0)
				a, b := newManager(t, tt.a), newManager(t, tt.b)
				if tt.sameOne {
					b = a
				}
				if swapped {
					a, b = b, a
				}
				r := chi.NewRouter()
				r.Use(chisess.Load(a), chisess.Load(b))
				r.Get("/", func(http.ResponseWriter, *http.Request) {})
				msg := panicOf(func() { send(r, "GET", "/", "") })
				if !tt.wantPanic {
					is.Equal(msg, "")
					return
				}
				is.True(strings.Contains(msg, fmt.Sprintf("both use the cookie %q", a.CookieName()))) // names the cookie
			})
		}
	}
}

// When one of two sessions fails to save, its own manager's ErrorHandler
// answers. A session nested inside the failing one was saved first, and
// keeps its cookie on the error answer (a renewed token would be lost
// otherwise, its old one being dead already); one outside it commits with
// the error answer's status, so after a 5xx it saves nothing, unless its
// Config.KeepChangesOnServerError says otherwise.
func TestOneOfTwoSessionsFailsToSave(t *testing.T) {
	tests := []struct {
		name        string
		site, prefs string
		fail        string // "site" or "prefs": whose store fails
		keep        bool   // site keeps changes on a server error
		status      int
		errs        []string
		siteCookie  bool // site's change was saved, and its cookie is on the answer
		prefsCookie bool // prefs's likewise
	}{
		{name: "inner fails", site: "memory", prefs: "memory", fail: "prefs", status: http.StatusBadGateway,
			errs: []string{"prefs"}},
		{name: "inner fails, outer keeps changes", site: "memory", prefs: "memory", fail: "prefs", keep: true, status: http.StatusBadGateway,
			errs: []string{"prefs"}, siteCookie: true},
		{name: "inner fails, outer in a cookie", site: "cookie", prefs: "memory", fail: "prefs", status: http.StatusBadGateway,
			errs: []string{"prefs"}},
		{name: "outer fails", site: "memory", prefs: "memory", fail: "site", status: http.StatusServiceUnavailable,
			errs: []string{"site"}, prefsCookie: true},
		{name: "outer fails, inner in a cookie", site: "memory", prefs: "cookie", fail: "site", status: http.StatusServiceUnavailable,
			errs: []string{"site"}, prefsCookie: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			p := newPair(t, tt.site, tt.prefs, false, func(site, _ *chisess.Config) { site.KeepChangesOnServerError = tt.keep })
			r := p.router(t, false)
			r.Get("/change", both(t, p, func(w http.ResponseWriter, site, prefs *chisess.Session) {
				is.NoErr(errors.Join(site.Set("user", "bob"), prefs.RenewToken(), prefs.Set("theme", "light")))
				fmt.Fprint(w, "changed")
			}))
			// Both sessions exist; the request changes both, and renews
			// the inner one.
			c := sessiontest.NewClient(t, r)
			c.Get("/set")
			oldPrefs := c.Cookie("__Host-prefs").Value
			failing := map[string]mode{"site": p.siteM, "prefs": p.prefsM}[tt.fail]
			failing.b.FailNext(failing.update, 1, errOutage)
			resp := c.Get("/change")
			body, _ := io.ReadAll(resp.Body)
			is.Equal(resp.StatusCode, tt.status) // the failing manager's ErrorHandler answered
			is.True(strings.HasPrefix(string(body), tt.fail+" error"))
			var whose []string
			for _, e := range *p.errs {
				whose = append(whose, strings.SplitN(e, ":", 2)[0])
			}
			is.Equal(whose, tt.errs) // and no other
			is.Equal(responseCookie(resp, "__Host-site") != nil, tt.siteCookie)
			is.Equal(responseCookie(resp, "__Host-prefs") != nil, tt.prefsCookie)

			// What each client now holds reads back as saved.
			got, _ := io.ReadAll(c.Get("/get").Body)
			user, theme := "ada", "dark" // nothing saved
			if tt.siteCookie {
				user = "bob"
			}
			if tt.prefsCookie {
				theme = "light"
				is.True(c.Cookie("__Host-prefs").Value != oldPrefs) // the renewed token reached the client
			}
			is.True(strings.HasPrefix(string(got), user+" "+theme))
		})
	}
}

// Destroy on one session ends it alone: its cookie is expired, and the
// other session is untouched and sends no cookie.
func TestDestroyOneOfTwo(t *testing.T) {
	for _, modes := range [][2]string{{"memory", "cookie"}, {"cookie", "memory"}, {"memory", "base-only"}} {
		t.Run(modes[0]+" outside "+modes[1], func(t *testing.T) {
			is := is.New(t)
			p := newPair(t, modes[0], modes[1], false)
			r := p.router(t, false)
			r.Get("/logout", both(t, p, func(w http.ResponseWriter, site, _ *chisess.Session) { is.NoErr(site.Destroy()) }))
			c := sessiontest.NewClient(t, r)
			login := c.Get("/set")
			resp := c.Get("/logout")
			sessiontest.AssertDestroyed(t, p.site, responseCookie(login, "__Host-site"), resp)
			is.Equal(responseCookie(resp, "__Host-prefs"), nil) // prefs is left alone
			body, _ := io.ReadAll(c.Get("/get").Body)
			is.Equal(string(body), " dark [] [theme]") // site's session is gone, prefs's lives
		})
	}
}

// TokenHeader on one of two managers: that session travels in the header,
// the other in its cookie, and both read back.
func TestTokenHeaderOnOneOfTwo(t *testing.T) {
	for _, modes := range [][2]string{{"memory", "memory"}, {"cookie", "memory"}, {"memory", "cookie"}} {
		t.Run(modes[0]+" outside "+modes[1], func(t *testing.T) {
			is := is.New(t)
			p := newPair(t, modes[0], modes[1], false)
			r := chi.NewRouter()
			r.Use(chisess.Load(p.site), chisess.Load(p.prefs), chisess.TokenHeader("X-Prefs"))
			r.Get("/set", both(t, p, func(w http.ResponseWriter, site, prefs *chisess.Session) {
				is.NoErr(errors.Join(site.Set("user", "ada"), prefs.Set("theme", "dark")))
			}))
			r.Get("/get", both(t, p, func(w http.ResponseWriter, site, prefs *chisess.Session) {
				user, _ := chisess.Get[string](site, "user")
				theme, _ := chisess.Get[string](prefs, "theme")
				fmt.Fprint(w, user, " ", theme)
			}))
			rec := send(r, "GET", "/set", "")
			tok := rec.Header().Get("X-Prefs")
			is.True(tok != "")                                       // prefs's token is in its header
			is.Equal(len(rec.Header().Values("Set-Cookie")), 1)      // and only site's in a cookie
			is.True(setCookie(rec, "__Host-site") != nil)            // (its own)
			is.True(hasHeaderValue(rec.Header(), "Vary", "X-Prefs")) // each varies on its transport
			is.True(hasHeaderValue(rec.Header(), "Vary", "Cookie"))

			req := httptest.NewRequest("GET", "/get", nil)
			req.AddCookie(setCookie(rec, "__Host-site"))
			req.Header.Set("X-Prefs", tok)
			rec = httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			is.Equal(rec.Body.String(), "ada dark")
		})
	}
}

// Two managers on one store never open each other's sessions, even nested
// on one request and with one client's token in both cookies: site's token
// in prefs's cookie opens nothing there, prefs drops the cookie, and site's
// session is untouched. Two cookie managers with one Secret likewise: the
// sealed cookie is bound to its cookie's name.
func TestTwoManagersOnOneStoreStayApart(t *testing.T) {
	for _, mode := range []string{"memory", "cookie"} {
		for _, swapped := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, prefs outside %v", mode, swapped), func(t *testing.T) {
				is := is.New(t)
				p := newPair(t, mode, mode, true) // one store, or one Secret
				r := p.router(t, swapped)
				login, err := p.site.Issue(t.Context(), map[string]any{"user": "ada"})
				is.NoErr(err)
				req := httptest.NewRequest("GET", "/get", nil)
				req.AddCookie(login)
				req.AddCookie(&http.Cookie{Name: "__Host-prefs", Value: login.Value}) // site's token, pasted into prefs's cookie
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, req)
				is.Equal(rec.Body.String(), "ada  [user] []") // prefs opened nothing
				drop := setCookie(rec, "__Host-prefs")
				is.True(drop != nil && drop.MaxAge < 0)      // and drops the cookie
				is.Equal(setCookie(rec, "__Host-site"), nil) // site's session is untouched
				s, err := p.site.Inspect(t.Context(), login.Value)
				is.NoErr(err)
				is.Equal(s.Keys(), []string{"user"})
			})
		}
	}
}

// Each of two sessions saves mid-stream through its own manager: the
// server-side one does, the one in a cookie says it cannot.
func TestSaveOneOfTwo(t *testing.T) {
	is := is.New(t)
	p := newPair(t, "memory", "cookie", false)
	login, err := p.site.Issue(t.Context(), map[string]any{"user": "ada"})
	is.NoErr(err)
	var siteErr, prefsErr error
	r := chi.NewRouter()
	r.Use(chisess.Load(p.site), chisess.Load(p.prefs))
	r.Get("/", both(t, p, func(w http.ResponseWriter, site, prefs *chisess.Session) {
		io.WriteString(w, "started")
		siteErr = site.Save(t.Context(), func(s *chisess.Session) error { return s.Set("room", "lobby") })
		prefsErr = prefs.Save(t.Context(), func(s *chisess.Session) error { return s.Set("theme", "dark") })
	}))
	send(r, "GET", "/", login.Name, login.Value)
	is.NoErr(siteErr)
	is.True(errors.Is(prefsErr, chisess.ErrHeadersSent))
	s, err := p.site.Inspect(t.Context(), login.Value)
	is.NoErr(err)
	is.Equal(s.Keys(), []string{"user", "room"})
}
