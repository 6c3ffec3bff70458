package chisess_test

// The promises of the core that were once broken by people who did not
// write it, each tried the way it broke. The promises every server-side
// backend must keep are tried on each of them in internal/promisetest.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// An ErrorHandler that renders an error page in the site's layout takes
// the pending flash messages, and may add one. After a failed save every
// change fails; before the fix each failure was reported to the same
// ErrorHandler, which changed the session again: a stack overflow that no
// Recoverer can catch, which any client able to make a save fail could
// trigger. Now the changes return their error, and nothing is reported
// twice.
func TestErrorHandlerTouchingTheSessionRunsOnce(t *testing.T) {
	tests := []struct {
		name  string
		touch func(w http.ResponseWriter, r *http.Request, s *chisess.Session) error
	}{
		{"AddFlash", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) error {
			return s.AddFlash("error", "Please try again.")
		}},
		{"Set", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) error { return s.Set("error", true) }},
		{"Flashes", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) error {
			flashes, err := s.Flashes()
			if len(flashes) > 0 {
				return errors.New("Flashes returned messages it cannot take")
			}
			return err
		}},
		{"chisess.Error", func(w http.ResponseWriter, r *http.Request, s *chisess.Session) error {
			chisess.Error(w, r, errors.New("a second error")) // from inside the ErrorHandler: logged only
			return chisess.ErrResponseStarted
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b := sessiontest.NewBackend()
			var calls atomic.Int32
			var touchErr error
			m := newManager(t, chisess.Config{
				Backend: b,
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					if calls.Add(1) > 1 {
						panic("the ErrorHandler ran again")
					}
					touchErr = tt.touch(w, r, chisess.From(r.Context()))
					http.Error(w, "error page", http.StatusServiceUnavailable)
				},
			})
			r := newRouter(t, m)
			r.Post("/flash", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				is.NoErr(s.AddFlash("info", "Saved."))
			}))
			r.Get("/show", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				flashes, err := s.Flashes()
				is.NoErr(err)
				fmt.Fprint(w, flashes)
			}))
			c := newClient(t, m, r)
			c.do("POST", "/flash")
			b.FailNext("swap", 1, errOutage) // the next save fails
			rec := c.do("POST", "/flash")
			is.Equal(calls.Load(), int32(1))                         // the ErrorHandler ran once
			is.Equal(rec.Code, http.StatusServiceUnavailable)        // and its page went out
			is.True(errors.Is(touchErr, chisess.ErrResponseStarted)) // its change was refused, and returned
			rec = c.do("GET", "/show")
			is.Equal(rec.Body.String(), "[{info Saved.}]") // the message saved before is still queued, once
		})
	}
}

// What the writer accepts, the reader reads back, with the cookie backend
// too: a value that would make the cookie too large is refused at Set, and
// the largest one Set accepts comes back whole.
func TestCookieSizeCheckedAtSet(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Secret: testSecret})
	var largest int
	r := newRouter(t, m)
	r.Post("/fill", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		lo, hi := 0, 5000 // the largest string Set takes, by bisection
		for lo < hi {
			n := (lo + hi + 1) / 2
			if err := s.Set("v", strings.Repeat("x", n)); err != nil {
				is.True(errors.Is(err, chisess.ErrTooLarge))       // a value past the cookie limit is refused
				is.True(errors.Is(err, chisess.ErrCookieTooLarge)) // and says why
				hi = n - 1
			} else {
				lo = n
			}
		}
		largest = lo
		is.NoErr(s.Set("v", strings.Repeat("x", largest)))
	}))
	r.Get("/v", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		v, _ := chisess.Get[string](s, "v")
		fmt.Fprint(w, len(v))
	}))
	c := newClient(t, m, r)
	rec := c.do("POST", "/fill")
	is.Equal(rec.Code, http.StatusOK) // the commit of the largest value accepted succeeds
	is.True(largest > 2500)           // the check leaves most of the 4096 bytes usable
	sc := mustSetCookie(t, rec, m.CookieName())
	is.True(len(sc.Name)+1+len(sc.Value) <= 4096)                  // within the browsers' limit
	is.Equal(c.do("GET", "/v").Body.String(), fmt.Sprint(largest)) // and it reads back whole
}

// A cookie session ends when its Lifetime says, to the millisecond, as a
// memory session does. Before the fix the sealed expiry was whole seconds
// compared as expires <= now: a cookie session died up to a second early,
// and one with a sub-second lifetime died at once.
func TestExpiryPrecisionIsTheSameOnEveryBackend(t *testing.T) {
	for _, lifetime := range []time.Duration{1500 * time.Millisecond, 500 * time.Millisecond, 3 * time.Second} {
		t.Run(fmt.Sprint(lifetime), func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				synctest.Test(t, func(t *testing.T) {
					is := is.New(t)
					cfg := tm.cfg
					cfg.Lifetime = lifetime
					_, c := newApp(t, cfg)
					c.do("GET", "/") // visits 1
					time.Sleep(lifetime - time.Millisecond)
					is.Equal(c.do("GET", "/read").Body.String(), "1") // alive a millisecond before its end
					time.Sleep(time.Millisecond)
					is.Equal(c.do("GET", "/read").Body.String(), "0") // and over at its end
				})
			})
		})
	}
}

// With Rolling, activity slides the lifetime, but not past MaxLifetime
// (by default 30 days): a session used every 23 hours ends on day 30, and
// a sealed cookie copied before logout stops working then too, however
// often the thief uses it.
func TestMaxLifetimeHoldsAgainstActivity(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			cfg := tm.cfg
			cfg.Rolling = true
			cfg.Lifetime = 24 * time.Hour
			_, c := newApp(t, cfg)
			c.do("GET", "/")
			start := time.Now()
			for time.Since(start)+23*time.Hour < chisess.DefaultMaxLifetime {
				time.Sleep(23 * time.Hour)
				is.True(c.do("GET", "/").Body.String() != "1") // used every 23 hours, it lives on
			}
			time.Sleep(23 * time.Hour)
			is.Equal(c.do("GET", "/read").Body.String(), "0") // until MaxLifetime after its creation
		})
	})
}

// A cookie planted for a deeper Path by a sibling subdomain comes first in
// the Cookie header. Before the fix chisess took the first cookie even when
// it was dead, and its deletion then removed the victim's valid cookie; a
// planted live cookie put the victim in the attacker's session.
func TestCookieTossing(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		var rejected []chisess.RejectReason
		cfg.OnEvent = func(_ context.Context, e chisess.Event) {
			if e.Kind == chisess.EventRejected {
				rejected = append(rejected, e.Reason)
			}
		}
		m := newManager(t, cfg)
		h := newRouter(t, m)
		victim := newClient(t, m, h)
		victim.do("GET", "/")
		victim.do("GET", "/") // visits 2
		attacker := newClient(t, m, h)
		attacker.do("GET", "/") // visits 1, the attacker's own session
		name := m.CookieName()
		// serve sends a request to path with one cookie of the
		// session's name per value, in that order.
		serve := func(path string, values ...string) *httptest.ResponseRecorder {
			return send(h, http.MethodGet, path, name, values...)
		}

		rec := serve("/read", "dead-planted-value", victim.cookie)
		is.Equal(rec.Body.String(), "2")                 // the cookie that leads to a session is used
		is.Equal(setCookie(rec, name), nil)              // and no cookie is expired for the dead one
		rec = serve("/", attacker.cookie, victim.cookie) // two live sessions: which is the victim's?
		is.Equal(rec.Body.String(), "1")                 // neither: a new session
		is.Equal(rejected[len(rejected)-1], chisess.ReasonAmbiguous)
		for _, v := range rec.Result().Cookies() {
			is.True(v.MaxAge >= 0) // and no cookie is expired
		}
		is.Equal(serve("/read", victim.cookie, victim.cookie).Body.String(), "2") // the same session twice is no ambiguity
		rec = serve("/read", "dead", "also-dead")
		is.True(mustSetCookie(t, rec, name).MaxAge < 0) // when every cookie is dead, expiring them loses nothing
	})
}

// The default cookie name carries the __Host- prefix when the cookie is
// Secure, host-only and for the whole site, so that browsers refuse a
// planted copy from a sibling subdomain or an insecure page.
func TestDefaultCookieNameIsHostOnly(t *testing.T) {
	tests := []struct {
		cfg  chisess.Config
		want string
	}{
		{chisess.Config{Secret: testSecret}, "__Host-session"},
		{chisess.Config{Secret: testSecret, Insecure: true}, "session"},
		{chisess.Config{Secret: testSecret, Domain: "example.com"}, "session"},
		{chisess.Config{Secret: testSecret, Path: "/app"}, "session"},
		{chisess.Config{Secret: testSecret, CookieName: "sid"}, "sid"},
	}
	for _, tt := range tests {
		is := is.New(t)
		is.Equal(newManager(t, tt.cfg).CookieName(), tt.want)
	}
}

// chisess's own keys (the owner, the description, flash messages) change
// only through their methods: before the fix, Set(ownerKey) bypassed
// SetOwner's checks and listed a session under another user.
func TestReservedKeysAreRefused(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{Backend: b})
	var errs []error
	r := newRouter(t, m)
	r.Post("/forge", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		is.NoErr(s.SetOwner("mallory"))
		for _, key := range []string{"\x00owner", "\x00desc", "\x00fm", "\x00anything"} {
			_, popErr := chisess.Pop[string](s, key)
			errs = append(errs, s.Set(key, "alice"), s.Delete(key), popErr)
		}
	}))
	c := newClient(t, m, r)
	c.do("POST", "/forge")
	for _, err := range errs {
		is.True(errors.Is(err, chisess.ErrReservedKey)) // every write to a reserved key is refused
	}
	s, err := m.Inspect(t.Context(), c.cookie)
	is.NoErr(err)
	is.Equal(s.Owner(), "mallory") // the owner is what SetOwner set
	list, err := m.Sessions(t.Context(), "alice")
	is.NoErr(err)
	is.Equal(len(list), 0) // and the session is not listed under anyone else
	_, err = m.Issue(t.Context(), map[string]any{"\x00owner": "alice"})
	is.True(errors.Is(err, chisess.ErrReservedKey)) // Issue refuses them too
}

// A failed save replaces the response, and must not strip the headers that
// middlewares outside chisess set: before the fix every header went,
// Content-Security-Policy, X-Frame-Options and HSTS included.
func TestFailedCommitKeepsOuterSecurityHeaders(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{Backend: b})
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'self'")
			w.Header().Set("X-Frame-Options", "DENY")
			w.Header().Set("Strict-Transport-Security", "max-age=63072000")
			next.ServeHTTP(w, r)
		})
	})
	r.Use(chisess.Load(m))
	r.Post("/", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		is.NoErr(s.Set("k", "v"))
		w.Header().Set("X-From-Handler", "1")
		http.Redirect(w, r, "/next", http.StatusSeeOther)
	}))
	b.FailNext("write", 1, errOutage)
	rec := newClient(t, m, r).do("POST", "/")
	is.Equal(rec.Code, http.StatusInternalServerError)
	h := rec.Header()
	is.Equal(h.Get("Content-Security-Policy"), "default-src 'self'") // what outer middlewares set stays
	is.Equal(h.Get("X-Frame-Options"), "DENY")
	is.Equal(h.Get("Strict-Transport-Security"), "max-age=63072000")
	is.Equal(h.Get("Location"), "")       // what the handler set goes
	is.Equal(h.Get("X-From-Handler"), "") //
	is.Equal(h.Get("Set-Cookie"), "")     // and no session cookie
}

// Every change made after the response started returns an error and
// changes nothing. Before the fix RenewID and Destroy only logged: a login
// that wrote first and renewed after answered 200 with the fixation-prone
// token, and a logout that wrote first left the session alive.
func TestLateChangesReturnErrors(t *testing.T) {
	changes := []struct {
		name   string
		change func(s *chisess.Session) error
	}{
		{"RenewToken", (*chisess.Session).RenewToken},
		{"Destroy", (*chisess.Session).Destroy},
		{"Set", func(s *chisess.Session) error { return s.Set("late", 1) }},
		{"Delete", func(s *chisess.Session) error { return s.Delete("visits") }},
		{"Clear", (*chisess.Session).Clear},
		{"RememberMe", func(s *chisess.Session) error { return s.RememberMe(true) }},
		{"SetLifetime", func(s *chisess.Session) error { return s.SetLifetime(time.Minute) }},
		{"ResetLifetime", (*chisess.Session).ResetLifetime},
		{"AddFlash", func(s *chisess.Session) error { return s.AddFlash("info", "late") }},
		{"Flashes", func(s *chisess.Session) error { _, err := s.Flashes(); return err }},
		{"SetOwner", func(s *chisess.Session) error { return s.SetOwner("ada") }},
		{"SetOwner empty", func(s *chisess.Session) error { return s.SetOwner("") }},
		{"SetDescription", func(s *chisess.Session) error { return s.SetDescription("laptop") }},
		{"Pop", func(s *chisess.Session) error { _, err := chisess.Pop[int](s, "visits"); return err }},
	}
	for _, tt := range changes {
		t.Run(tt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m := newManager(t, tm.cfg)
				var err error
				r := newRouter(t, m)
				r.Post("/late", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
					io.WriteString(w, "written")
					err = tt.change(s)
				}))
				c := newClient(t, m, r)
				c.do("GET", "/") // visits 1
				before := c.cookie
				rec := c.do("POST", "/late")
				is.True(errors.Is(err, chisess.ErrResponseStarted)) // the caller learns it did not happen
				is.Equal(rec.Body.String(), "written")
				is.Equal(setCookie(rec, m.CookieName()), nil)     // nothing went out
				is.Equal(c.cookie, before)                        // the client keeps its token
				is.Equal(c.do("GET", "/read").Body.String(), "1") // and its session, unchanged
			})
		})
	}
}

// A change to a session from Inspect is refused with ErrReadOnly.
func TestInspectedSessionIsReadOnly(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Backend: backend.NewMemoryWithCleanup(0), Logger: slog.New(slog.DiscardHandler)})
	c, err := m.Issue(t.Context(), map[string]any{"user": "ada"})
	is.NoErr(err)
	s, err := m.Inspect(t.Context(), c.Value)
	is.NoErr(err)
	is.True(errors.Is(s.Destroy(), chisess.ErrReadOnly))
	is.True(errors.Is(s.Set("user", "eve"), chisess.ErrReadOnly))
	is.True(errors.Is(s.SetLifetime(time.Hour), chisess.ErrReadOnly))
}
