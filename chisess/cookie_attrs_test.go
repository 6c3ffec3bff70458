package chisess_test

// The attributes of every Set-Cookie chisess sends: Partitioned (CHIPS),
// and Expires beside Max-Age. The header is built by hand on the commit
// path and as an *http.Cookie by Manager.Issue; both must say the same.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
)

// epoch is the Expires of a cookie that chisess deletes.
var epoch = time.Unix(0, 0).UTC()

// TestEverySetCookieCarriesItsAttributes runs a session through every
// response that sends a cookie (create, change, renew, clear, destroy, and
// a dead cookie dropped) and parses each Set-Cookie: each is Partitioned,
// as configured, and carries Expires beside Max-Age, the same instant as
// Max-Age says; a deletion expires at the Unix epoch. Modelled on
// express-session's "cookie.partitioned" and "cookie.maxAge" tests ("should
// set cookie expires relative to maxAge", test/session.js) and scs's
// TestDestroy, which checks the Expires of a deletion.
func TestEverySetCookieCarriesItsAttributes(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			cfg := tm.cfg
			cfg.Lifetime = time.Hour
			cfg.Partitioned = true
			cfg.SameSite = http.SameSiteNoneMode
			m, c := newApp(t, cfg)
			start := time.Now()
			end := start.Add(time.Hour).UTC() // when a session created now ends
			steps := []struct {
				name    string
				wait    time.Duration
				c       *client // nil: the client of the flow
				method  string
				path    string
				deleted bool      // the cookie is a deletion
				expires time.Time // for a live cookie: its Expires
			}{
				{name: "create", method: "GET", path: "/", expires: end},
				{name: "change later", wait: 20 * time.Minute, method: "GET", path: "/", expires: end},
				{name: "renew", wait: 10 * time.Minute, method: "POST", path: "/renew", expires: end},
				{name: "clear", method: "POST", path: "/clear", deleted: true},
				{name: "create again", wait: time.Minute, method: "GET", path: "/", expires: end.Add(31 * time.Minute)},
				{name: "destroy", method: "POST", path: "/destroy", deleted: true},
				{name: "dead cookie dropped", c: c.withCookie(strings.Repeat("A", 43)), method: "GET", path: "/read", deleted: true},
			}
			for _, step := range steps {
				time.Sleep(step.wait)
				cl := c
				if step.c != nil {
					cl = step.c
				}
				rec := cl.do(step.method, step.path)
				is.Equal(rec.Code, http.StatusOK)
				raw := rec.Header().Values("Set-Cookie")
				is.Equal(len(raw), 1) // one Set-Cookie at each step
				sc := mustSetCookie(t, rec, m.CookieName())
				is.True(sc.Partitioned)                      // every cookie is Partitioned, deletions too (a browser deletes a partitioned cookie only with one)
				is.True(sc.Secure)                           // and Secure, as CHIPS requires
				is.Equal(sc.SameSite, http.SameSiteNoneMode) // as configured
				is.True(sc.Valid() == nil)                   // and valid as net/http sees it
				if step.deleted {
					is.Equal(sc.MaxAge, -1)     // Max-Age=0
					is.Equal(sc.Expires, epoch) // and an Expires long past, for the clients that ignore Max-Age
					is.Equal(sc.RawExpires, "Thu, 01 Jan 1970 00:00:00 GMT")
					continue
				}
				is.Equal(sc.Expires, step.expires) // the end of the session's lifetime, however late the response
				wantAge := int(time.Until(step.expires) / time.Second)
				is.Equal(sc.MaxAge, wantAge) // and Max-Age counts down to the same instant
				is.True(strings.Contains(raw[0], "; Max-Age="+strconv.Itoa(wantAge)+"; Expires="+step.expires.Format(http.TimeFormat)+";"))
			}
		})
	})
}

// TestIssueAndCommitWriteTheSameCookie: Manager.Issue returns an
// *http.Cookie, which net/http writes; a commit writes its Set-Cookie by
// hand. For the same session at the same instant the two must parse to the
// same cookie, attribute for attribute, so that Partitioned or Expires can
// never be on one path and not the other.
func TestIssueAndCommitWriteTheSameCookie(t *testing.T) {
	tests := []struct {
		name string
		cfg  chisess.Config
	}{
		{"browser-session cookie", chisess.Config{}},
		{"persistent and partitioned", chisess.Config{Lifetime: time.Hour, Partitioned: true, SameSite: http.SameSiteNoneMode}},
		{"path, domain and strict", chisess.Config{Lifetime: 90 * time.Minute, Path: "/app", Domain: "example.com", SameSite: http.SameSiteStrictMode, Partitioned: true}},
		{"insecure", chisess.Config{Lifetime: time.Minute, Insecure: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				synctest.Test(t, func(t *testing.T) {
					is := is.New(t)
					cfg := tt.cfg
					cfg.Backend, cfg.Secret = tm.cfg.Backend, tm.cfg.Secret
					m := newManager(t, cfg)
					time.Sleep(1500 * time.Millisecond) // not on a whole second
					issued, err := m.Issue(context.Background(), map[string]any{"visits": 1})
					is.NoErr(err)
					fromIssue, err := http.ParseSetCookie(issued.String())
					is.NoErr(err)

					h := chisess.Load(m)(loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
						is.NoErr(s.Set("visits", 1))
					}))
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest("GET", "/app/", nil))
					fromCommit, err := http.ParseSetCookie(rec.Header().Get("Set-Cookie"))
					is.NoErr(err)

					for _, c := range []*http.Cookie{fromIssue, fromCommit} {
						c.Value, c.Raw = "", "" // the values differ: two sessions
					}
					is.Equal(fromCommit, fromIssue) // every attribute the same
				})
			})
		})
	}
}

// TestExpiresOnlyOnPersistentCookies: a browser-session cookie has neither
// Max-Age nor Expires; RememberMe(true) gives it both, and RememberMe(false)
// takes both away again. Modelled on scs's TestRememberMe, which checks
// Max-Age and Expires together.
func TestExpiresOnlyOnPersistentCookies(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			m := newManager(t, tm.cfg)
			r := chi.NewRouter()
			r.Use(chisess.Load(m), chisess.Autoload)
			r.Post("/{remember}", func(w http.ResponseWriter, r *http.Request) {
				s := chisess.From(r.Context())
				is.NoErr(s.Set("user", "ada"))
				is.NoErr(s.RememberMe(chi.URLParam(r, "remember") == "on"))
			})
			c := newClient(t, m, r)
			for _, step := range []struct {
				path       string
				persistent bool
			}{{"/off", false}, {"/on", true}, {"/off", false}} {
				rec := c.do("POST", step.path)
				raw := rec.Header().Get("Set-Cookie")
				sc := mustSetCookie(t, rec, m.CookieName())
				if !step.persistent {
					is.True(!strings.Contains(raw, "Max-Age")) // a browser-session cookie has no Max-Age
					is.True(!strings.Contains(raw, "Expires")) // and no Expires
					continue
				}
				rememberFor := chisess.DefaultRememberFor
				is.Equal(sc.MaxAge, int(rememberFor/time.Second))                      // Max-Age for RememberFor
				is.Equal(sc.Expires, time.Now().Add(rememberFor).UTC())                // and Expires at the same instant
				is.True(strings.Index(raw, "Max-Age") < strings.Index(raw, "Expires")) // (Max-Age first, as a reader that stops at the first lifetime attribute wants it)
			}
		})
	})
}

// TestTokenHeaderSendsNoCookie: with TokenHeader the session travels in a
// header, and no response sends a cookie, partitioned or not, not even the
// deletion of one.
func TestTokenHeaderSendsNoCookie(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Partitioned = true
		cfg.Lifetime = time.Hour
		cfg.Path = "/app"
		m := newManager(t, cfg)
		r := chi.NewRouter()
		r.Use(chisess.Load(m), chisess.TokenHeader("X-Session"), chisess.Autoload)
		r.Post("/set", func(w http.ResponseWriter, r *http.Request) { is.NoErr(chisess.From(r.Context()).Set("n", 1)) })
		r.Post("/renew", func(w http.ResponseWriter, r *http.Request) { is.NoErr(chisess.From(r.Context()).RenewToken()) })
		r.Post("/destroy", func(w http.ResponseWriter, r *http.Request) { is.NoErr(chisess.From(r.Context()).Destroy()) })
		token := ""
		for _, path := range []string{"/set", "/renew", "/destroy"} { // outside the Path, too: a header has none
			req := httptest.NewRequest("POST", path, nil)
			if token != "" {
				req.Header.Set("X-Session", token)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			is.Equal(rec.Code, http.StatusOK)
			is.Equal(rec.Header().Values("Set-Cookie"), nil) // no cookie at all
			_, sent := rec.Header()["X-Session"]
			is.True(sent) // the token (or its deletion) travels in the header
			token = rec.Header().Get("X-Session")
		}
		is.Equal(token, "") // the last response ended the session
	})
}
