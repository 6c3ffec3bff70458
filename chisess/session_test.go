package chisess_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// newRouter builds the router most tests use: Load on everything, a counter
// on /, and handlers for the other session operations.
func newRouter(t *testing.T, m *chisess.Manager) *chi.Mux {
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	r.Get("/untouched", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "no session here")
	})
	r.Get("/", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		n, err := chisess.Get[int](s, "visits")
		if err != nil && !errors.Is(err, chisess.ErrNoKey) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := s.Set("visits", n+1); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n+1)
	}))
	r.Get("/read", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		n, _ := chisess.Get[int](s, "visits")
		fmt.Fprint(w, n)
	}))
	r.Get("/id", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		fmt.Fprint(w, s.Token())
	}))
	r.Post("/clear", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		s.Clear()
	}))
	r.Post("/destroy", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		s.Destroy()
	}))
	r.Post("/renew", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		s.RenewToken()
	}))
	return r
}

func TestVisitCounterPersists(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		_, c := newApp(t, tm.cfg)
		for want := 1; want <= 3; want++ {
			rec := c.do("GET", "/")
			is.Equal(rec.Code, http.StatusOK)
			is.Equal(rec.Body.String(), fmt.Sprint(want)) // the counter survives between requests
		}
	})
}

func TestUntouchedRouteCostsNothing(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m, c := newApp(t, tm.cfg)
		c.do("GET", "/") // a live session
		before := tm.total()

		rec := c.do("GET", "/untouched")
		is.Equal(rec.Code, http.StatusOK)
		is.Equal(tm.total(), before)                  // no backend call for a route that never loads
		is.Equal(setCookie(rec, m.CookieName()), nil) // no Set-Cookie
		is.Equal(rec.Header().Get("Vary"), "")        // nothing read, so nothing varies
	})
}

func TestReadOnlyRequestWritesNothing(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m, c := newApp(t, tm.cfg)
		c.do("GET", "/")
		writes, deletes := tm.writes(), tm.deletes()

		rec := c.do("GET", "/read")
		is.Equal(rec.Body.String(), "1")
		is.Equal(tm.writes(), writes)                           // reading does not write
		is.Equal(tm.deletes(), deletes)                         // or delete
		is.Equal(setCookie(rec, m.CookieName()), nil)           // nor set a cookie
		is.True(hasHeaderValue(rec.Header(), "Vary", "Cookie")) // but the response depends on the cookie
	})
}

func TestAnonymousVisitorGetsNoSession(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m, c := newApp(t, tm.cfg)
		rec := c.do("GET", "/read")
		is.Equal(rec.Code, http.StatusOK)
		is.Equal(setCookie(rec, m.CookieName()), nil) // a new session left empty is not stored
		is.Equal(tm.writes(), 0)                      // and nothing is written
		is.Equal(tm.calls("read"), 0)                 // with no cookie there is nothing to read
	})
}

func TestClearEmptiesSession(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m, c := newApp(t, tm.cfg)
		c.do("GET", "/")
		c.do("GET", "/")

		rec := c.do("POST", "/clear")
		sc := setCookie(rec, m.CookieName())
		is.True(sc != nil && sc.MaxAge < 0)               // an emptied session expires its cookie
		is.Equal(c.do("GET", "/read").Body.String(), "0") // and holds nothing
		if tm.b != nil {
			is.Equal(tm.deletes(), 1) // its record is deleted, not written empty
		}
	})
}

// What each step of a session's life asks of the backend, on both paths
// chisess has. With backend.Swapper (the memory mode, as with every
// backend we ship) a change is one swap against the record the request
// loaded, and a swap to nothing, "swap(nil)", deletes. With the three base
// methods alone (a minimal custom backend) chisess reads the record again
// just before it writes or deletes it, so that a session another request
// ended stays dead.
func TestBackendCallsOfEachPath(t *testing.T) {
	steps := []struct {
		method, path     string
		memory, baseOnly string
	}{
		{"GET", "/", "write", "write"},                                 // a new session is written
		{"GET", "/read", "read", "read"},                               // a read-only request only reads
		{"GET", "/", "read swap", "read read write"},                   // a change is merged into the stored session
		{"POST", "/renew", "read write swap", "read read write write"}, // the new token's record, then the old one's forward record
		{"POST", "/clear", "read swap(nil)", "read read delete"},       // an emptied session is deleted
		{"GET", "/", "write", "write"},                                 // so the next change starts a new one
		{"POST", "/destroy", "read swap(nil)", "read read delete"},     // a destroyed session is deleted
	}
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		_, c := newApp(t, tm.cfg)
		for _, step := range steps {
			before := len(tm.b.Calls())
			c.do(step.method, step.path)
			var ops []string
			for _, call := range tm.b.Calls()[before:] {
				if call.Op == "swap" && call.Data == nil {
					call.Op = "swap(nil)"
				}
				ops = append(ops, call.Op)
			}
			want := step.memory
			if tm.name == "base-only" {
				want = step.baseOnly
			}
			is.Equal(strings.Join(ops, " "), want) // the backend calls of the step
		}
	})
}

func TestDestroyThenFlashStartsNewSession(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		r := newRouter(t, m)
		r.Post("/logout", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			oldID := s.Token()
			s.Destroy()
			if err := s.AddFlash("info", "logged out"); err != nil {
				t.Error(err)
			}
			fmt.Fprint(w, s.Token() != oldID, s.IsNew())
		}))
		r.Get("/flashes", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			flashes, err := s.Flashes()
			if err != nil {
				t.Error(err)
			}
			for _, f := range flashes {
				fmt.Fprintf(w, "%s:%s;", f.Kind, f.Message)
			}
		}))
		c := newClient(t, m, r)
		c.do("GET", "/")
		old := c.cookie

		rec := c.do("POST", "/logout")
		is.Equal(rec.Body.String(), "true true")                            // a new session with a new ID
		is.True(c.cookie != "" && c.cookie != old)                          // its cookie replaces the old one
		is.Equal(c.do("GET", "/read").Body.String(), "0")                   // the old data is gone
		is.Equal(c.do("GET", "/flashes").Body.String(), "info:logged out;") // the flash survives
		is.Equal(c.do("GET", "/flashes").Body.String(), "")                 // exactly once
	})
}

func TestFlashesQueueInOrder(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Secret: testSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	r.With(chisess.Autoload).Post("/add", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		is.NoErr(s.AddFlash(r.URL.Query().Get("kind"), r.URL.Query().Get("msg")))
	})
	r.With(chisess.Autoload).Get("/show", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		flashes, err := s.Flashes()
		is.NoErr(err)
		fmt.Fprint(w, flashes, len(s.Keys()))
	})
	c := newClient(t, m, r)
	c.do("POST", "/add?kind=info&msg=one")
	c.do("POST", "/add?kind=error&msg=two")
	is.Equal(c.do("GET", "/show").Body.String(), "[{info one} {error two}] 0") // oldest first, and not among Keys
	is.Equal(c.do("GET", "/show").Body.String(), "[] 0")                       // taken once
}

func TestAutoloadGroup(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		r := chi.NewRouter()
		r.Use(chisess.Load(m))
		r.Get("/set", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			is.NoErr(s.Set("name", "ada"))
		}))
		r.Get("/public", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, chisess.From(r.Context()).Loaded())
		})
		r.Group(func(r chi.Router) {
			r.Use(chisess.Autoload)
			r.Get("/private", func(w http.ResponseWriter, r *http.Request) {
				s := chisess.From(r.Context())
				name, _ := chisess.Get[string](s, "name")
				fmt.Fprintf(w, "%v %s", s.Loaded(), name)
			})
		})
		c := newClient(t, m, r)
		c.do("GET", "/set")
		reads := tm.calls("read")
		is.Equal(c.do("GET", "/public").Body.String(), "false")     // outside the group the session stays lazy
		is.Equal(tm.calls("read"), reads)                           // and unread
		is.Equal(c.do("GET", "/private").Body.String(), "true ada") // inside it is loaded before the handler
		is.Equal(tm.calls("read"), reads+1)
	})
}

func TestAutoloadPaths(t *testing.T) {
	m := newManager(t, chisess.Config{Secret: testSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	r.Use(chisess.AutoloadPaths("/admin", "/api/*/me"))
	r.Get("/*", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, chisess.From(r.Context()).Loaded())
	})
	tests := []struct {
		path string
		want string
	}{
		{"/", "false"},
		{"/admin", "true"},
		{"/admin/users", "true"},
		{"/administrator", "false"},
		{"/api/v1/me", "true"},
		{"/api/v1/me/x", "false"},
		{"/api/v1/you", "false"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			is := is.New(t)
			c := newClient(t, m, r)
			is.Equal(c.do("GET", tt.path).Body.String(), tt.want) // loaded only on matching paths
		})
	}
}

func TestAutoloadPathsRejectsBadPatterns(t *testing.T) {
	for _, p := range []string{"admin", "/a[", ""} {
		t.Run(p, func(t *testing.T) {
			is := is.New(t)
			defer func() {
				r := recover()
				is.True(r != nil) // a bad pattern fails at wiring time
				is.True(strings.HasPrefix(fmt.Sprint(r), "chisess: "))
			}()
			chisess.AutoloadPaths(p)
		})
	}
}

func TestRequire(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		r := chi.NewRouter()
		r.Use(chisess.Load(m))
		r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
			is.NoErr(chisess.From(r.Context()).Set("user_id", 42))
		})
		r.Group(func(r chi.Router) {
			r.Use(chisess.Require("user_id", http.RedirectHandler("/login", http.StatusSeeOther)))
			r.Get("/account", func(w http.ResponseWriter, r *http.Request) {
				id, err := chisess.Get[int](chisess.From(r.Context()), "user_id")
				is.NoErr(err)
				fmt.Fprint(w, "account ", id)
			})
		})
		r.With(chisess.Require("admin", nil)).Get("/admin", func(w http.ResponseWriter, r *http.Request) {})
		c := newClient(t, m, r)

		rec := c.do("GET", "/account")
		is.Equal(rec.Code, http.StatusSeeOther) // logged out: sent to login
		is.Equal(rec.Header().Get("Location"), "/login")
		c.do("POST", "/login")
		rec = c.do("GET", "/account")
		is.Equal(rec.Code, http.StatusOK) // logged in: let through
		is.Equal(rec.Body.String(), "account 42")
		is.Equal(c.do("GET", "/admin").Code, http.StatusUnauthorized) // nil otherwise answers 401
	})
}

func TestLoadFailureReachesHandlerAndErrorHandler(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		var reported []error
		cfg := tm.cfg
		cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			reported = append(reported, err)
			http.Error(w, "try later", http.StatusServiceUnavailable)
		}
		m := newManager(t, cfg)
		r := newRouter(t, m)
		var loadErr error
		r.Get("/explicit", func(w http.ResponseWriter, r *http.Request) {
			loadErr = chisess.From(r.Context()).Load(r.Context())
		})
		r.With(chisess.Require("user", http.RedirectHandler("/login", http.StatusSeeOther))).Get("/private", func(w http.ResponseWriter, r *http.Request) {
			t.Error("the guarded handler must not run when the session cannot load")
		})
		c := newClient(t, m, r)
		c.do("GET", "/")
		tm.b.FailNext("read", 2, errOutage) // the loads of /explicit and /private

		is.Equal(c.do("GET", "/untouched").Code, http.StatusOK) // a route that never loads is unaffected
		c.do("GET", "/explicit")
		is.True(errors.Is(loadErr, errOutage)) // Load returns an error wrapping the cause
		rec := c.do("GET", "/private")
		is.Equal(rec.Code, http.StatusServiceUnavailable) // Require answers through ErrorHandler...
		is.Equal(rec.Header().Get("Location"), "")        // ...not with a redirect to login
		is.Equal(setCookie(rec, m.CookieName()), nil)     // and no new session
		is.Equal(len(reported), 1)
		is.True(errors.Is(reported[0], errOutage))

		is.Equal(c.do("GET", "/read").Body.String(), "1") // the session survived the outage
	})
}

func TestCommitFailureKeepsOldSession(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m, c := newApp(t, tm.cfg)
		c.do("GET", "/")
		tm.b.FailNext(tm.update, 1, errOutage) // the save of the change
		rec := c.do("GET", "/")
		is.Equal(rec.Code, http.StatusInternalServerError) // the failed save is an error, not a 200
		is.Equal(setCookie(rec, m.CookieName()), nil)      // with no Set-Cookie
		is.Equal(c.do("GET", "/read").Body.String(), "1")  // and the stored session is intact
	})
}

func TestGetTypes(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Secret: testSecret})
	type profile struct {
		Name string
		Tags []string
	}
	when := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	r.With(chisess.Autoload).Get("/set", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		is.NoErr(s.Set("int", 7))
		is.NoErr(s.Set("str", "seven"))
		is.NoErr(s.Set("when", when))
		is.NoErr(s.Set("profile", profile{"ada", []string{"a", "b"}}))
		is.NoErr(s.Set("bytes", []byte{0, 1, 2}))
		err := s.Set("bad", make(chan int))
		is.True(err != nil) // an unencodable value fails at Set
		is.True(strings.Contains(err.Error(), `"bad"`))
		is.True(!s.Has("bad")) // and changes nothing
	})
	r.With(chisess.Autoload).Get("/get", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, err := chisess.Get[int](s, "int")
		is.NoErr(err)
		is.Equal(n, 7) // an int stays an int through the round trip
		_, err = chisess.Get[string](s, "int")
		is.True(errors.Is(err, chisess.ErrWrongType)) // a wrong type is reported
		_, err = chisess.Get[float64](s, "int")
		is.True(errors.Is(err, chisess.ErrWrongType)) // never coerced
		_, err = chisess.Get[int](s, "missing")
		is.True(errors.Is(err, chisess.ErrNoKey))
		got, err := chisess.Get[time.Time](s, "when")
		is.NoErr(err)
		is.True(got.Equal(when))
		p, err := chisess.Get[profile](s, "profile")
		is.NoErr(err)
		is.Equal(p.Name, "ada")
		is.Equal(p.Tags, []string{"a", "b"})
		_, err = chisess.Get[profile](s, "str")
		is.True(errors.Is(err, chisess.ErrWrongType))
		anyv, err := chisess.Get[any](s, "int")
		is.NoErr(err)
		is.Equal(anyv, any(7)) // Get[any] gives the natural type
		b, err := chisess.Get[[]byte](s, "bytes")
		is.NoErr(err)
		is.Equal(b, []byte{0, 1, 2})
		is.Equal(s.Keys(), []string{"int", "str", "when", "profile", "bytes"})

		v, err := chisess.Pop[string](s, "str")
		is.NoErr(err)
		is.Equal(v, "seven")
		is.True(!s.Has("str")) // Pop removes
		_, err = chisess.Pop[string](s, "int")
		is.True(errors.Is(err, chisess.ErrWrongType))
		is.True(s.Has("int")) // a wrong-type Pop leaves the value
	})
	c := newClient(t, m, r)
	c.do("GET", "/set")
	c.do("GET", "/get")
}

func TestUnloadedSessionPanicsWithAdvice(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Secret: testSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	var msg string
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		defer func() { msg = fmt.Sprint(recover()) }()
		chisess.From(r.Context()).Set("x", 1)
	})
	newClient(t, m, r).do("GET", "/")
	is.True(strings.Contains(msg, "s.Load"))           // the panic says to call Load
	is.True(strings.Contains(msg, "chisess.Autoload")) // or to mount Autoload
}

func TestMisuseWithoutLoadPanics(t *testing.T) {
	is := is.New(t)
	r := chi.NewRouter()
	r.Use(chisess.Autoload)
	var msg string
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {})
	func() {
		defer func() { msg = fmt.Sprint(recover()) }()
		newClient(t, newManager(t, chisess.Config{Secret: testSecret}), r).do("GET", "/")
	}()
	is.True(strings.Contains(msg, "chisess.Load")) // the panic names the missing middleware

	defer func() {
		is.True(strings.Contains(fmt.Sprint(recover()), "nil")) // a nil manager fails at wiring time
	}()
	chisess.Load(nil)
}

func TestLoadIsIdempotent(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		r := newRouter(t, m)
		r.With(chisess.Autoload).Get("/twice", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			is.NoErr(s.Load(r.Context()))
			is.NoErr(s.Load(r.Context()))
		})
		c := newClient(t, m, r)
		c.do("GET", "/")
		reads := tm.calls("read")
		c.do("GET", "/twice")
		is.Equal(tm.calls("read"), reads+1) // three Loads, one read
	})
}
