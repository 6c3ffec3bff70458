package sessiontest_test

// This file tests a small app the way an app author would, from outside
// the kit and through the kit alone: chisess.New to build the app, and
// sessiontest (with matryer/is for plain checks) to test it. It runs every
// test on the kit's fake backend and on the sealed cookie.

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
)

// newShop is the app under test: a public home page, a cart that works
// before login, a login that gives the session a new ID, a logout that
// ends it, and a members' group that loads the session and requires a
// user.
func newShop(sessions *chisess.Manager) http.Handler {
	users := map[string]int{"ada": 1, "bob": 2}
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))

	r.Get("/about", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "a small shop")
	})
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		if id, err := chisess.Get[int](s, "user_id"); err == nil {
			fmt.Fprintf(w, "hello, user %d", id)
			return
		}
		fmt.Fprint(w, "hello, guest")
	})
	r.With(chisess.Autoload).Post("/cart", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		cart, _ := chisess.Get[[]string](s, "cart")
		s.Set("cart", append(cart, r.FormValue("item")))
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
		id, ok := users[r.FormValue("user")]
		if !ok || r.FormValue("password") != "secret" {
			http.Error(w, "wrong user or password", http.StatusUnauthorized)
			return
		}
		chisess.From(r.Context()).Set("user_id", id)
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	r.With(chisess.Autoload).Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Destroy()
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	r.Group(func(r chi.Router) {
		r.Use(chisess.Autoload)
		r.Use(chisess.Require("user_id", http.RedirectHandler("/login", http.StatusSeeOther)))
		r.Get("/account", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			id, _ := chisess.Get[int](s, "user_id")
			cart, _ := chisess.Get[[]string](s, "cart")
			fmt.Fprintf(w, "user %d, cart %v", id, cart)
		})
		r.Post("/account/name", func(w http.ResponseWriter, r *http.Request) {
			chisess.From(r.Context()).Set("name", r.FormValue("name"))
			fmt.Fprint(w, "saved")
		})
	})
	return r
}

// shopModes are the two ways the shop can keep its sessions. The fake
// backend is returned so that the tests that need it can use it; it is nil
// for the cookie.
var shopModes = []struct {
	name       string
	newManager func(t *testing.T) (*chisess.Manager, *sessiontest.Backend)
}{
	{"fake backend", func(t *testing.T) (*chisess.Manager, *sessiontest.Backend) {
		b := sessiontest.NewBackend()
		return newManager(t, chisess.Config{Backend: b, Logger: discardLogger}), b
	}},
	{"sealed cookie", func(t *testing.T) (*chisess.Manager, *sessiontest.Backend) {
		return newManager(t, chisess.Config{Secret: testSecret, Logger: discardLogger}), nil
	}},
}

// TestShopVisitorGetsNoSession: pages that a visitor only looks at create
// no session, and the members' pages send the visitor to the login.
func TestShopVisitorGetsNoSession(t *testing.T) {
	for _, mode := range shopModes {
		t.Run(mode.name, func(t *testing.T) {
			is := is.New(t)
			m, b := mode.newManager(t)
			c := sessiontest.NewClient(t, newShop(m))
			for _, path := range []string{"/about", "/", "/account"} {
				resp := c.Get(path)
				sessiontest.AssertNoSession(t, m, resp)
				if path == "/account" {
					is.Equal(resp.StatusCode, http.StatusSeeOther) // the members' page redirects a visitor
					is.Equal(resp.Header.Get("Location"), "/login")
				}
			}
			if b != nil {
				is.Equal(len(b.Calls()), 0) // a visitor with no cookie costs the store nothing
			}
		})
	}
}

// TestShopLoginLogout is the whole visit: fill a cart, log in, see the
// account, log out.
func TestShopLoginLogout(t *testing.T) {
	for _, mode := range shopModes {
		t.Run(mode.name, func(t *testing.T) {
			m, _ := mode.newManager(t)
			shopLoginLogout(t, m, sessiontest.NewClient(t, newShop(m)))
		})
	}
}

// shopLoginLogout fills a cart, logs in, sees the account and logs out
// through c, a client of the shop whose sessions m keeps, and checks what
// each step leaves in the browser's session.
func shopLoginLogout(t *testing.T, m *chisess.Manager, c *sessiontest.Client) {
	is := is.New(t)
	resp := c.PostForm("/cart", url.Values{"item": {"tea"}})
	sessiontest.AssertValue(t, m, resp, "cart", []string{"tea"})
	sessiontest.AssertCookie(t, resp, &http.Cookie{
		Name: "__Host-session", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})

	before := c.Cookie(m.CookieName())
	resp = c.PostForm("/login", url.Values{"user": {"ada"}, "password": {"secret"}})
	is.Equal(resp.StatusCode, http.StatusSeeOther)
	is.Equal(resp.Header.Get("Location"), "/account")
	sessiontest.AssertRenewed(t, m, before, resp)
	sessiontest.AssertValue(t, m, resp, "user_id", 1)
	sessiontest.AssertValue(t, m, resp, "cart", []string{"tea"}) // the login keeps the cart

	resp = c.Get("/account")
	is.Equal(resp.StatusCode, http.StatusOK)
	is.Equal(readBody(t, resp), "user 1, cart [tea]")
	sessiontest.AssertNoSession(t, m, resp) // reading the session does not set the cookie again

	before = c.Cookie(m.CookieName())
	resp = c.PostForm("/logout", nil)
	sessiontest.AssertDestroyed(t, m, before, resp)
	sessiontest.AssertAbsent(t, m, resp, "user_id")

	resp = c.Get("/account")
	is.Equal(resp.StatusCode, http.StatusSeeOther) // logged out
	is.Equal(readBody(t, c.Get("/")), "hello, guest")
}

func TestShopWrongPassword(t *testing.T) {
	for _, mode := range shopModes {
		t.Run(mode.name, func(t *testing.T) {
			is := is.New(t)
			m, _ := mode.newManager(t)
			c := sessiontest.NewClient(t, newShop(m))
			c.PostForm("/cart", url.Values{"item": {"tea"}})
			resp := c.PostForm("/login", url.Values{"user": {"ada"}, "password": {"guess"}})
			is.Equal(resp.StatusCode, http.StatusUnauthorized)
			sessiontest.AssertAbsent(t, m, resp, "user_id")
			sessiontest.AssertValue(t, m, resp, "cart", []string{"tea"}) // a failed login loses nothing
		})
	}
}

// TestShopLoginDefeatsFixation: a session ID an attacker planted in the
// browser before login is worthless after it.
func TestShopLoginDefeatsFixation(t *testing.T) {
	for _, mode := range shopModes {
		t.Run(mode.name, func(t *testing.T) {
			is := is.New(t)
			m, _ := mode.newManager(t)
			attacker := sessiontest.NewClient(t, newShop(m))
			attacker.PostForm("/cart", url.Values{"item": {"bait"}})
			planted := attacker.Cookie(m.CookieName())
			is.True(planted != nil) // the attacker has a session

			victim := sessiontest.NewClient(t, newShop(m))
			victim.SetCookie(planted)
			resp := victim.PostForm("/login", url.Values{"user": {"ada"}, "password": {"secret"}})
			sessiontest.AssertRenewed(t, m, planted, resp)
			is.Equal(readBody(t, victim.Get("/")), "hello, user 1")
			is.Equal(readBody(t, attacker.Get("/")), "hello, guest") // the planted ID does not get the login
		})
	}
}

// TestShopAccount tests the members' handlers directly, signed in by
// NewRequest without going through the login.
func TestShopAccount(t *testing.T) {
	for _, mode := range shopModes {
		t.Run(mode.name, func(t *testing.T) {
			is := is.New(t)
			m, _ := mode.newManager(t)
			shop := newShop(m)

			rec := httptest.NewRecorder()
			shop.ServeHTTP(rec, sessiontest.NewRequest(m, "GET", "/account", nil, map[string]any{"user_id": 2, "cart": []string{"jam"}}))
			is.Equal(rec.Code, http.StatusOK)
			is.Equal(rec.Body.String(), "user 2, cart [jam]")

			req := sessiontest.NewRequest(m, "POST", "/account/name", strings.NewReader("name=Bob"), map[string]any{"user_id": 2})
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec = httptest.NewRecorder()
			shop.ServeHTTP(rec, req)
			is.Equal(rec.Code, http.StatusOK)
			sessiontest.AssertValue(t, m, rec.Result(), "name", "Bob")
			sessiontest.AssertValue(t, m, rec.Result(), "user_id", 2)

			rec = httptest.NewRecorder()
			shop.ServeHTTP(rec, sessiontest.NewRequest(m, "GET", "/account", nil, map[string]any{"cart": []string{"jam"}}))
			is.Equal(rec.Code, http.StatusSeeOther) // a session without a user is not let in
		})
	}
}

// TestShopStoreDown: when the store fails, the login fails visibly and
// leaves no half-made session behind.
func TestShopStoreDown(t *testing.T) {
	is := is.New(t)
	m, b := shopModes[0].newManager(t)
	c := sessiontest.NewClient(t, newShop(m))
	b.FailNext("write", 1, errors.New("store is down"))
	resp := c.PostForm("/login", url.Values{"user": {"ada"}, "password": {"secret"}})
	is.Equal(resp.StatusCode, http.StatusInternalServerError)
	sessiontest.AssertNoSession(t, m, resp)
	is.Equal(b.Len(), 0) // nothing stored

	resp = c.PostForm("/login", url.Values{"user": {"ada"}, "password": {"secret"}})
	is.Equal(resp.StatusCode, http.StatusSeeOther) // the next try works
	sessiontest.AssertValue(t, m, resp, "user_id", 1)
}

// TestShopLogoutWinsOverSlowRequest holds a slow request inside the store
// while the user logs out in another tab: the slow request must not bring
// the session back.
func TestShopLogoutWinsOverSlowRequest(t *testing.T) {
	is := is.New(t)
	m, b := shopModes[0].newManager(t)
	c := sessiontest.NewClient(t, newShop(m))
	c.PostForm("/login", url.Values{"user": {"ada"}, "password": {"secret"}})
	before := c.Cookie(m.CookieName())

	g := b.Hold("swap") // the slow request's save
	defer g.Release()
	slow := make(chan *http.Response, 1)
	go func() {
		var resp *http.Response
		defer func() { slow <- resp }() // sent even if PostForm fails the test and ends this goroutine
		resp = c.PostForm("/account/name", url.Values{"name": {"Ada"}})
	}()
	<-g.Reached()

	resp := c.PostForm("/logout", nil)
	sessiontest.AssertDestroyed(t, m, before, resp)
	g.Release()
	resp = <-slow
	is.True(resp != nil)                                      // the slow request got an answer
	is.Equal(resp.StatusCode, http.StatusInternalServerError) // the slow save fails...
	is.Equal(b.Len(), 0)                                      // ...and the session stays ended
	is.Equal(c.Get("/account").StatusCode, http.StatusSeeOther)
}
