package chisess_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// Tests of a session's own lifetime (Session.SetLifetime), modelled on the
// peers' tests of the same feature: Django's sessions_tests
// (test_default_expiry, test_custom_expiry_seconds,
// test_custom_expiry_timedelta, test_custom_expiry_reset,
// test_get_expire_at_browser_close, test_actual_expiry) and
// express-session's test/session.js (".cookie" ".maxAge" and
// ".originalMaxAge"). scs v2.9.0 has SetDeadline but no test of it. Each
// runs on the cookie backend and on a server-side one, on synctest's fake
// clock, which the managers read through time.Now.

// lifetimeRouter is newRouter with routes that set, reset and show the
// session's own lifetime: POST /lifetime?d=10m, POST /lifetime/reset,
// POST /remember, POST /start-over (Clear, then visits 1), and GET
// /lifetime, which answers "lifetime left", where left is the time until
// ExpiresAt.
func lifetimeRouter(t *testing.T, m *chisess.Manager) *chi.Mux {
	r := newRouter(t, m)
	r.Post("/lifetime", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err == nil {
			err = s.SetLifetime(d)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	r.Post("/lifetime/reset", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if err := s.ResetLifetime(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	r.Post("/remember", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if err := s.RememberMe(true); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	r.Post("/start-over", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if err := errors.Join(s.Clear(), s.Set("visits", 1)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	r.Get("/lifetime", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		fmt.Fprint(w, s.Lifetime(), " ", time.Until(s.ExpiresAt()))
	}))
	return r
}

// newLifetimeApp returns a manager made with cfg and a client of
// lifetimeRouter's routes on it, holding a session with visits 1.
func newLifetimeApp(t *testing.T, cfg chisess.Config) (*chisess.Manager, *client) {
	t.Helper()
	m := newManager(t, cfg)
	c := newClient(t, m, lifetimeRouter(t, m))
	c.do("GET", "/")
	return m, c
}

// heldApp is lifetimeRouter behind a middleware that holds a request
// carrying hold=1 once it has loaded the session, until release: the
// request that loads first and commits last.
type heldApp struct {
	m       *chisess.Manager
	h       http.Handler
	c       *client
	held    chan struct{}
	release func() // lets the held request go on; t's end calls it too
}

func newHeldApp(t *testing.T, m *chisess.Manager) *heldApp {
	t.Helper()
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a := &heldApp{m: m, held: held, release: func() { once.Do(func() { close(release) }) }}
	t.Cleanup(a.release)
	outer := chi.NewRouter()
	outer.Use(chisess.Load(m), func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("hold") != "" {
				chisess.From(r.Context()).Load(r.Context())
				close(held)
				<-release
			}
			next.ServeHTTP(w, r)
		})
	})
	outer.Mount("/", lifetimeRouter(t, m))
	a.h, a.c = outer, newClient(t, m, outer)
	return a
}

// start sends the client's request to target with hold=1, waits until it
// is held, and returns where its response will come.
func (a *heldApp) start(method, target string) <-chan *httptest.ResponseRecorder {
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- send(a.h, method, target+sep+"hold=1", a.m.CookieName(), a.c.cookie) }()
	<-a.held
	return done
}

// endsIn checks, on synctest's clock, that the client's session is alive
// until a millisecond before d has passed and over at d, though the client
// still sends its cookie, as one that ignores Max-Age (or an attacker
// holding a copy) would.
func endsIn(t *testing.T, c *client, d time.Duration) {
	t.Helper()
	is := is.New(t)
	is.Helper()
	time.Sleep(d - time.Millisecond)
	is.True(c.do("GET", "/read").Body.String() != "0") // alive a millisecond before its end
	time.Sleep(time.Millisecond)
	is.Equal(c.do("GET", "/read").Body.String(), "0") // and over at its end
}

// forEachModeSynced is forEachMode on synctest's fake clock, which the
// managers read through time.Now.
func forEachModeSynced(t *testing.T, test func(t *testing.T, tm mode)) {
	t.Helper()
	forEachMode(t, func(t *testing.T, tm mode) {
		synctest.Test(t, func(t *testing.T) { test(t, tm) })
	})
}

// forEachServerModeSynced is forEachServerMode on synctest's fake clock.
func forEachServerModeSynced(t *testing.T, test func(t *testing.T, tm mode)) {
	t.Helper()
	forEachServerMode(t, func(t *testing.T, tm mode) {
		synctest.Test(t, func(t *testing.T) { test(t, tm) })
	})
}

// maxAge is the Max-Age of the session cookie the response sets, as a
// duration; zero for a browser-session cookie.
func maxAge(t *testing.T, rec *httptest.ResponseRecorder, name string) time.Duration {
	t.Helper()
	return time.Duration(mustSetCookie(t, rec, name).MaxAge) * time.Second
}

// lastTTL is the TTL of the last record the backend was given (a write, or
// a swap to a record); zero in the cookie mode.
func (tm mode) lastTTL() time.Duration {
	if tm.b == nil {
		return 0
	}
	var ttl time.Duration
	for _, c := range tm.b.Calls() {
		if c.Op == "write" || c.Op == "swap" && c.Data != nil {
			ttl = c.TTL
		}
	}
	return ttl
}

// A session's own lifetime counts from when it is set, ends the session on
// the server to the millisecond, and the cookie's Max-Age and the
// backend's TTL follow it, whether it is shorter or longer than the
// configured one. The client keeps sending its cookie after Max-Age has
// passed, as a client that ignores Max-Age (or an attacker holding a copy)
// would: the server has ended the session. Modelled on Django's
// test_custom_expiry_seconds and test_custom_expiry_timedelta, and
// express-session's ".maxAge should set cookie expires relative to maxAge".
func TestSetLifetime(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration // Config.Lifetime
		set      time.Duration
	}{
		{"shorter than the configured one", time.Hour, 10 * time.Minute},
		{"longer than the configured one", time.Hour, 3 * time.Hour},
		{"persistent where the configured one is not", 0, 2 * time.Hour},
		{"longer than the session cap", 0, 48 * time.Hour},
		{"not a whole second", time.Hour, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachModeSynced(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				cfg.Lifetime = tt.lifetime
				m, c := newLifetimeApp(t, cfg)
				time.Sleep(5 * time.Minute)

				rec := c.do("POST", "/lifetime?d="+tt.set.String())
				is.Equal(rec.Code, http.StatusOK)
				is.Equal(maxAge(t, rec, m.CookieName()), tt.set.Round(time.Second)) // the cookie's Max-Age follows, counted from now
				if tm.b != nil {
					is.Equal(tm.lastTTL(), tt.set) // and so does the backend's TTL
				}
				is.Equal(c.do("GET", "/lifetime").Body.String(), fmt.Sprint(tt.set, " ", tt.set)) // Lifetime and ExpiresAt say so
				endsIn(t, c, tt.set)                                                              // ended by the server, whatever the client sends
			})
		})
	}
}

// SetLifetime(0) makes the cookie a browser-session cookie; the server
// then ends the session after the configured lifetime or the 24-hour
// session cap, whichever is shorter, so asking for a browser-session
// cookie never makes a session live longer. A lifetime set again makes the
// cookie persistent again, and ResetLifetime goes back to what the Config
// says. Modelled on Django's test_get_expire_at_browser_close (run with
// SESSION_EXPIRE_AT_BROWSER_CLOSE off and on: here Lifetime set and zero)
// and test_default_expiry (set_expiry(0) keeps the server-side age).
func TestSetLifetimeBrowserSession(t *testing.T) {
	tests := []struct {
		lifetime time.Duration // Config.Lifetime
		ends     time.Duration // after SetLifetime(0)
	}{
		{0, chisess.DefaultSessionCap},
		{2 * time.Hour, 2 * time.Hour},
		{48 * time.Hour, chisess.DefaultSessionCap},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("Lifetime ", tt.lifetime), func(t *testing.T) {
			forEachModeSynced(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				cfg.Lifetime = tt.lifetime
				m, c := newLifetimeApp(t, cfg)

				rec := c.do("POST", "/lifetime?d=10s")
				is.Equal(maxAge(t, rec, m.CookieName()), 10*time.Second) // set_expiry(10): persistent
				rec = c.do("POST", "/lifetime?d=0s")
				is.Equal(maxAge(t, rec, m.CookieName()), time.Duration(0)) // set_expiry(0): a browser-session cookie
				rec = c.do("POST", "/lifetime/reset")
				is.Equal(maxAge(t, rec, m.CookieName()), tt.lifetime) // set_expiry(None): as the Config says

				rec = c.do("POST", "/lifetime?d=0s")
				is.Equal(maxAge(t, rec, m.CookieName()), time.Duration(0))
				is.Equal(c.do("GET", "/lifetime").Body.String(), fmt.Sprint(time.Duration(0), " ", tt.ends))
				if tm.b != nil {
					is.Equal(tm.lastTTL(), tt.ends) // the backend keeps it as long as the server does
				}
				endsIn(t, c, tt.ends)
			})
		})
	}
}

// Reset, set, reset: the session is back on the configured lifetime,
// counted from its creation. Modelled on Django's test_custom_expiry_reset.
func TestResetLifetime(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = time.Hour
		m, c := newLifetimeApp(t, cfg)
		time.Sleep(10 * time.Minute)

		is.Equal(c.do("POST", "/lifetime/reset").Code, http.StatusOK) // nothing to reset is no error
		c.do("POST", "/lifetime?d=10s")
		rec := c.do("POST", "/lifetime/reset")
		is.Equal(maxAge(t, rec, m.CookieName()), 50*time.Minute)                          // the configured hour, from creation
		is.Equal(c.do("GET", "/lifetime").Body.String(), fmt.Sprint(time.Hour, " 50m0s")) // Lifetime and ExpiresAt agree
		if tm.b != nil {
			is.Equal(tm.lastTTL(), 50*time.Minute)
		}
		time.Sleep(10 * time.Second)
		is.Equal(c.do("GET", "/read").Body.String(), "1") // the 10 seconds no longer apply
	})
}

// The lifetime is the session's: later requests, a change of values, a
// Clear, a renewal of its token (explicit, or by age with RenewEvery) keep
// it, and it keeps counting from when it was set. Destroy drops it with the
// session. Modelled on express-session's ".originalMaxAge should equal
// original maxAge for all requests".
func TestLifetimeLastsAcrossRequests(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = time.Hour
		cfg.RenewEvery = 90 * time.Second
		m, c := newLifetimeApp(t, cfg)
		c.do("POST", "/lifetime?d=10m")
		time.Sleep(2 * time.Minute)

		before := c.cookie
		rec := c.do("GET", "/read") // renewed by age
		is.True(c.cookie != before)
		is.Equal(maxAge(t, rec, m.CookieName()), 8*time.Minute) // a new token, still ten minutes from when the lifetime was set
		rec = c.do("GET", "/")                                  // visits 2: a change of values
		is.Equal(maxAge(t, rec, m.CookieName()), 8*time.Minute)
		rec = c.do("POST", "/start-over")
		is.Equal(maxAge(t, rec, m.CookieName()), 8*time.Minute) // Clear keeps it
		rec = c.do("POST", "/renew")
		is.Equal(maxAge(t, rec, m.CookieName()), 8*time.Minute) // and so does RenewToken
		is.Equal(c.do("GET", "/lifetime").Body.String(), "10m0s 8m0s")

		c.do("POST", "/destroy")
		c.do("GET", "/")                                                  // a new session
		is.Equal(c.do("GET", "/lifetime").Body.String(), "1h0m0s 1h0m0s") // has the configured lifetime
	})
}

// A lifetime longer than MaxLifetime is cut to it, and however long the
// lifetime and however active the session (Rolling), MaxLifetime after its
// creation ends it. Modelled on express-session's ".maxAge should modify
// cookie expires when changed to large value" (3000000000 ms), which
// express keeps whole: chisess holds it to the absolute limit.
func TestSetLifetimeCutToMaxLifetime(t *testing.T) {
	for _, rolling := range []bool{false, true} {
		t.Run(fmt.Sprint("Rolling ", rolling), func(t *testing.T) {
			forEachModeSynced(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				cfg.Rolling = rolling
				cfg.Lifetime = 48 * time.Hour
				cfg.MaxLifetime = 30 * 24 * time.Hour
				m, c := newLifetimeApp(t, cfg)
				time.Sleep(24 * time.Hour)

				rec := c.do("POST", "/lifetime?d=3000000000ms")
				is.Equal(rec.Code, http.StatusOK)                                     // longer than MaxLifetime is no error
				is.Equal(maxAge(t, rec, m.CookieName()), 29*24*time.Hour)             // the cookie lasts until MaxLifetime after creation
				is.Equal(c.do("GET", "/lifetime").Body.String(), "720h0m0s 696h0m0s") // the lifetime is cut to MaxLifetime
				if tm.b != nil {
					is.Equal(tm.lastTTL(), 29*24*time.Hour)
				}
				for range 28 {
					time.Sleep(24 * time.Hour)
					is.True(c.do("GET", "/").Body.String() != "1") // used every day, it lives on
				}
				endsIn(t, c, 24*time.Hour) // then ends MaxLifetime after its creation
			})
		})
	}
}

// With Rolling, a session's own lifetime counts from its last use, and the
// last use is recorded often enough for a short one: a 30-second lifetime
// survives requests every 20 seconds, which write nothing, and ends 30
// seconds after the last. Each recorded use slides the cookie.
func TestSetLifetimeWithRolling(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Rolling = true
		cfg.Lifetime = time.Hour
		m, c := newLifetimeApp(t, cfg)
		c.do("POST", "/lifetime?d=30s")
		slid := 0
		for range 15 {
			time.Sleep(20 * time.Second)
			rec := c.do("GET", "/read")
			is.Equal(rec.Body.String(), "1") // in use, it lives on
			if sc := setCookie(rec, m.CookieName()); sc != nil {
				is.Equal(sc.MaxAge, 30) // a recorded use slides the cookie by the session's lifetime
				slid++
			}
		}
		is.True(slid > 0) // and some uses were recorded
		time.Sleep(30 * time.Second)
		is.Equal(c.do("GET", "/read").Body.String(), "0") // unused for its lifetime, it ends
	})
}

// A lifetime of its own does not exempt a session from IdleTimeout: a
// long one still ends after the idle time. RememberMe does exempt it, and
// then the session's own lifetime takes the place of RememberFor.
func TestSetLifetimeAndIdleTimeout(t *testing.T) {
	tests := []struct {
		name       string
		remember   bool
		aliveAfter time.Duration // unused this long, it still lives
	}{
		{"not remembered", false, 0},
		{"remembered", true, 2 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachModeSynced(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				cfg.Lifetime = 8 * time.Hour
				cfg.IdleTimeout = 30 * time.Minute
				m, c := newLifetimeApp(t, cfg)
				if tt.remember {
					c.do("POST", "/remember")
				}
				rec := c.do("POST", "/lifetime?d=168h")
				is.Equal(maxAge(t, rec, m.CookieName()), 7*24*time.Hour) // the cookie persists for the session's own lifetime
				time.Sleep(30 * time.Minute)
				if !tt.remember {
					is.Equal(c.do("GET", "/read").Body.String(), "0") // idle for IdleTimeout, it ends
					return
				}
				time.Sleep(tt.aliveAfter)
				is.Equal(c.do("GET", "/read").Body.String(), "1") // remembered, idle time does not end it
				time.Sleep(7*24*time.Hour - tt.aliveAfter - 30*time.Minute)
				is.Equal(c.do("GET", "/read").Body.String(), "0") // its own lifetime does, not RememberFor
			})
		})
	}
}

// A negative lifetime is refused and changes nothing. Django's
// test_actual_expiry ends a session at once on a negative expiry; chisess
// has Destroy for that, and a duration computed wrong must not pass for
// one.
func TestSetLifetimeRefusesNegative(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = time.Hour
		m, c := newLifetimeApp(t, cfg)
		c.do("POST", "/lifetime?d=10m")
		writes := tm.writes()

		rec := c.do("POST", "/lifetime?d=-10s")
		is.Equal(rec.Code, http.StatusBadRequest)                        // the handler gets an error
		is.True(strings.Contains(rec.Body.String(), "-10s is negative")) // saying what was wrong
		is.Equal(setCookie(rec, m.CookieName()), nil)                    // no cookie goes out
		is.Equal(tm.writes(), writes)                                    // nothing is written
		is.Equal(c.do("GET", "/lifetime").Body.String(), "10m0s 10m0s")  // and the lifetime stands
	})
}

// Concurrent requests merge a change of lifetime as they merge a change of
// a key: request A changes a setting and is held while request B commits
// another change to the same session; then A commits. Neither change is
// lost, whichever of the two is the lifetime, and of two changes of the
// lifetime the later commit wins.
func TestLifetimeMergesWithConcurrentChanges(t *testing.T) {
	tests := []struct {
		name         string
		held, other  string // the requests of A and B
		wantLifetime string // GET /lifetime at the end
		wantVisits   string
		wantRemember bool
	}{
		{"a held lifetime, a key meanwhile", "/lifetime?d=10m", "/", "10m0s 10m0s", "2", false},
		{"a held key, a lifetime meanwhile", "/", "/lifetime?d=10m", "10m0s 10m0s", "2", false},
		{"a held remember-me, a lifetime meanwhile", "/remember", "/lifetime?d=10m", "10m0s 10m0s", "1", true},
		{"a held lifetime, a remember-me meanwhile", "/lifetime?d=10m", "/remember", "10m0s 10m0s", "1", true},
		{"two lifetimes: the later commit wins", "/lifetime?d=10m", "/lifetime?d=20m", "10m0s 10m0s", "1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachServerModeSynced(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				cfg.Lifetime = time.Hour
				m := newManager(t, cfg)
				a := newHeldApp(t, m)
				c := a.c
				c.do("GET", "/") // visits 1

				method := func(path string) string {
					if strings.HasPrefix(path, "/lifetime") || path == "/remember" {
						return "POST"
					}
					return "GET"
				}
				done := a.start(method(tt.held), tt.held)
				is.Equal(c.do(method(tt.other), tt.other).Code, http.StatusOK) // B commits while A is held
				a.release()
				is.Equal((<-done).Code, http.StatusOK) // then A commits

				s, err := m.Inspect(t.Context(), c.cookie)
				is.NoErr(err)
				is.Equal(fmt.Sprint(s.Lifetime(), " ", time.Until(s.ExpiresAt())), tt.wantLifetime) // the lifetime as the last change of it left it
				n, _ := chisess.Get[int](s, "visits")
				is.Equal(fmt.Sprint(n), tt.wantVisits)    // and the values as the last change of them left them
				is.Equal(s.Remembered(), tt.wantRemember) // and remember-me
			})
		})
	}
}

// A session that lives longer than the configured lifetime stays in its
// owner's index as long as it lives, so that "your devices" lists it and
// "log out everywhere" ends it; the owner listing shows when it ends.
func TestLongerLifetimeStaysInOwnerIndex(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		b := sessiontest.NewBackend()
		m := newManager(t, chisess.Config{Backend: b, Lifetime: time.Hour})
		r := lifetimeRouter(t, m)
		r.Post("/login", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			s.Set("user", "ada")
			s.SetOwner("ada")
		}))
		c := newClient(t, m, r)
		c.do("POST", "/login")
		c.do("POST", "/lifetime?d=48h")
		var indexed time.Duration
		for _, call := range b.Calls() {
			if call.Op == "index" {
				indexed = call.TTL
			}
		}
		is.Equal(indexed, 48*time.Hour) // the index entry was made to last as long as the session

		time.Sleep(47 * time.Hour) // long past the configured hour
		infos, err := m.Sessions(t.Context(), "ada")
		is.NoErr(err)
		is.Equal(len(infos), 1) // "your devices" lists it
		is.Equal(time.Until(infos[0].ExpiresAt), time.Hour)
		n, err := m.DestroyOwner(t.Context(), "ada", nil)
		is.NoErr(err)
		is.Equal(n, 1) // and "log out everywhere" ends it
		is.Equal(c.do("GET", "/read").Body.String(), "0")
	})
}

// A lifetime that is not a whole number of milliseconds, the unit records
// keep, is rounded up: the session never ends before the time asked.
func TestSetLifetimeRoundsUp(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		c := newClient(t, m, lifetimeRouter(t, m))
		c.do("GET", "/")
		c.do("POST", "/lifetime?d=1500us")
		is.Equal(c.do("GET", "/lifetime").Body.String(), "2ms 2ms") // 1.5ms, rounded up
		time.Sleep(1500 * time.Microsecond)
		is.Equal(c.do("GET", "/read").Body.String(), "1") // alive when the time asked for has passed
	})
}
