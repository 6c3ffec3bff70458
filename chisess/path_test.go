package chisess_test

// Requests outside Config.Path: the browser does not send the session
// cookie there, so such a request neither sets nor clears it, and cannot
// change the session.

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
)

// setter is a handler that loads the session and sets a value in it,
// keeping the error of Set for the test.
type setter struct {
	t   *testing.T
	err error
}

func (h *setter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	loaded(h.t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		h.err = s.Set("visits", 1)
	})(w, r)
}

// TestCookieOnlyOnItsPath: a new session is stored and its cookie set only
// on requests whose path path-matches Config.Path (RFC 6265, 5.1.4); on any
// other, Set fails with ErrOutsidePath and nothing is stored or sent.
// Modelled on express-session's 'cookie option when "path" set to
// "/foo/bar"' tests (test/session.js: 'should not set cookie for "/"
// request', 'should set cookie for "/foo/bar/baz" request').
func TestCookieOnlyOnItsPath(t *testing.T) {
	tests := []struct {
		cookiePath string
		target     string
		set        bool
	}{
		{"/foo/bar", "/", false},
		{"/foo/bar", "/foo", false},
		{"/foo/bar", "/foo/bar", true},
		{"/foo/bar", "/foo/bar/", true},
		{"/foo/bar", "/foo/bar/baz", true},
		{"/foo/bar", "/foo/bar?next=/x", true},
		{"/foo/bar", "/foo/barbaz", false}, // a prefix, but not up to a "/"
		{"/foo/bar", "/foo/bar%2Fbaz", false},
		{"/foo/bar", "/foo/%62ar", false}, // the browser matches the path as sent, not decoded
		{"/foo/bar", "/FOO/bar", false},   // and case by case
		{"/foo/bar", "/x?/foo/bar", false},
		{"/foo/bar", "http://example.com/foo/bar/baz", true}, // an absolute-form request target
		{"/foo/bar", "http://example.com/foo", false},
		{"/foo/bar/", "/foo/bar", false},
		{"/foo/bar/", "/foo/bar/", true},
		{"/foo/bar/", "/foo/bar/baz", true},
		{"/", "/anything", true},
	}
	for _, tt := range tests {
		t.Run(tt.cookiePath+" "+tt.target, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				cfg.Path = tt.cookiePath
				m := newManager(t, cfg)
				h := &setter{t: t}
				rec := send(chisess.Load(m)(h), "GET", tt.target, m.CookieName())
				is.Equal(rec.Code, http.StatusOK)
				sc := setCookie(rec, m.CookieName())
				if tt.set {
					is.NoErr(h.err)
					is.True(sc != nil && sc.MaxAge >= 0) // the new session's cookie is set
					is.Equal(sc.Path, tt.cookiePath)     // for its Path
					return
				}
				is.True(errors.Is(h.err, chisess.ErrOutsidePath)) // Set tells the handler
				is.Equal(rec.Header().Values("Set-Cookie"), nil)  // no cookie, neither set nor cleared
				is.Equal(tm.total(), 0)                           // and not a single backend call
			})
		})
	}
}

// TestCookiePathOfAMountedApp: under http.StripPrefix the app sees a
// shorter path than the browser asked for; the browser's path decides.
// Modelled on express-session's 'when mounted at "/foo"' tests: 'should set
// cookie for "/foo/bar" request', 'should not set cookie for "/foo/foo/bar"
// request' (which the mounted app sees as "/foo/bar").
func TestCookiePathOfAMountedApp(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Path = "/foo/bar"
		m := newManager(t, cfg)
		h := &setter{t: t}
		app := http.StripPrefix("/foo", chisess.Load(m)(h))

		rec := send(app, "GET", "/foo/bar", m.CookieName())
		is.NoErr(h.err)
		is.True(setCookie(rec, m.CookieName()) != nil) // on the Path: set

		rec = send(app, "GET", "/foo/foo/bar", m.CookieName())
		is.True(errors.Is(h.err, chisess.ErrOutsidePath)) // the app saw /foo/bar, the browser asked for /foo/foo/bar
		is.Equal(rec.Header().Values("Set-Cookie"), nil)  // not set
	})
}

// TestOutsidePathLeavesTheSessionAlone: a request outside the Path that
// carries a live session's cookie anyway (a cookie of the name set for
// another path, or by an older config) does not get that session: it reads
// a new, empty one, every change fails with ErrOutsidePath, and the live
// session is neither changed, cleared, renewed nor ended, in the store or
// in the browser. Modelled on starsessions'
// test_no_cookie_clear_outside_cookie_path (tests/test_middleware.py),
// which clears the session outside the path and expects no Set-Cookie.
func TestOutsidePathLeavesTheSessionAlone(t *testing.T) {
	ops := []struct {
		name   string
		change func(s *chisess.Session) error
	}{
		{"Set", func(s *chisess.Session) error { return s.Set("user", "mallory") }},
		{"Delete", func(s *chisess.Session) error { return s.Delete("user") }},
		{"Clear", func(s *chisess.Session) error { return s.Clear() }},
		{"Destroy", func(s *chisess.Session) error { return s.Destroy() }},
		{"RenewToken", func(s *chisess.Session) error { return s.RenewToken() }},
		{"RememberMe", func(s *chisess.Session) error { return s.RememberMe(true) }},
		{"AddFlash", func(s *chisess.Session) error { return s.AddFlash("info", "hi") }},
		{"SetOwner", func(s *chisess.Session) error { return s.SetOwner("mallory") }},
		{"Flashes", func(s *chisess.Session) error { _, err := s.Flashes(); return err }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				cfg.Path = "/admin"
				m := newManager(t, cfg)
				issued, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
				is.NoErr(err)
				var opErr error
				var user string
				var isNew bool
				r := chi.NewRouter()
				r.Use(chisess.Load(m), chisess.Autoload)
				r.Post("/public", func(w http.ResponseWriter, r *http.Request) {
					s := chisess.From(r.Context())
					user, _ = chisess.Get[string](s, "user")
					isNew = s.IsNew()
					opErr = op.change(s)
				})
				before := tm.total()
				rec := send(r, "POST", "/public", m.CookieName(), issued.Value)
				is.Equal(rec.Code, http.StatusOK)
				is.True(errors.Is(opErr, chisess.ErrOutsidePath)) // the change is refused
				is.Equal(user, "")                                // the live session is not read here
				is.True(isNew)                                    // the request has a new, empty one
				is.Equal(rec.Header().Values("Set-Cookie"), nil)  // no cookie set or cleared
				is.Equal(tm.total(), before)                      // no backend call at all

				s, err := m.Inspect(context.Background(), issued.Value)
				is.NoErr(err) // the session lives on
				got, _ := chisess.Get[string](s, "user")
				is.Equal(got, "ada") // unchanged
			})
		})
	}
}

// TestPlantedCookieOutsidePathChangesNothing: cookie tossing against an app
// whose cookie has a Path (so it cannot have the __Host- prefix). The
// victim holds a live session for /admin; a sibling subdomain plants a
// cookie of the same name for "/", which the browser sends alone to the
// rest of the site. A visit there must not answer with a deletion (its
// Path=/admin would delete the victim's real cookie: a logout by visiting a
// page), and a login there must not adopt the planted session (its
// Path=/admin cookie would carry the attacker's session to the victim's
// admin pages: fixation).
func TestPlantedCookieOutsidePathChangesNothing(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Path = "/admin"
		m := newManager(t, cfg)
		r := chi.NewRouter()
		r.Use(chisess.Load(m), chisess.Autoload)
		var loginErr error
		r.Post("/admin/login", func(w http.ResponseWriter, r *http.Request) {
			chisess.From(r.Context()).Set("user", "victim")
		})
		r.Get("/admin/me", func(w http.ResponseWriter, r *http.Request) {
			user, _ := chisess.Get[string](chisess.From(r.Context()), "user")
			w.Write([]byte(user))
		})
		r.Get("/news", func(w http.ResponseWriter, r *http.Request) {})
		r.Post("/shop/login", func(w http.ResponseWriter, r *http.Request) {
			loginErr = chisess.From(r.Context()).Set("user", "victim")
		})

		victim := sessiontest.NewClient(t, r)
		victim.PostForm("/admin/login", nil)
		real := victim.Cookie(m.CookieName())
		is.True(real != nil) // the victim's session, for /admin

		for _, planted := range []struct {
			name  string
			value func() string
		}{
			{"dead", func() string { return "A" + real.Value[1:] }},
			{"attacker's live session", func() string {
				c, err := m.Issue(context.Background(), map[string]any{"user": "mallory"})
				is.NoErr(err)
				return c.Value
			}},
		} {
			victim.SetCookie(&http.Cookie{Name: m.CookieName(), Value: planted.value(), Path: "/"})
			for _, visit := range []*http.Response{victim.Get("/news"), victim.PostForm("/shop/login", nil)} {
				is.Equal(visit.StatusCode, http.StatusOK)
				is.Equal(visit.Header.Values("Set-Cookie"), nil) // planted.name: no cookie set or deleted outside /admin
			}
			is.True(errors.Is(loginErr, chisess.ErrOutsidePath))                        // the login outside /admin is refused, not stored in the planted session
			victim.SetCookie(&http.Cookie{Name: m.CookieName(), Path: "/", MaxAge: -1}) // the planted cookie goes
			me := victim.Get("/admin/me")
			body := make([]byte, 16)
			n, _ := me.Body.Read(body)
			is.Equal(string(body[:n]), "victim") // the victim's admin session is intact
		}
	})
}
