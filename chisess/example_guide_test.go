package chisess_test

// The examples quoted by docs/guide.md, docs/backends.md and docs/security.md
// that example_test.go does not already cover. Each doc snippet is the body
// of one of these functions, word for word: change both together.

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
)

// An explicit s.Load lets the handler choose what a backend outage looks
// like; under Autoload (or Require, or RenewToken) the ErrorHandler answers.
func ExampleSession_Load() {
	store := &flakyStore{Backend: backend.NewMemory()}
	sessions, _ := chisess.New(chisess.Config{
		Backend: store,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			fmt.Println("ErrorHandler:", err)
			http.Error(w, "try again later", http.StatusServiceUnavailable)
		},
	})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "hello")
	})
	r.With(chisess.Autoload).Get("/account", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "never runs while the backend is down")
	})

	cookie, _ := sessions.Issue(context.Background(), map[string]any{"user": "ada"})
	store.down = true
	b := &browser{h: r, cookie: cookie}
	rec := b.get("GET", "/")
	fmt.Print(rec.Code, " ", rec.Body.String())
	rec = b.get("GET", "/account")
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 503 session unavailable
	// ErrorHandler: chisess: load session: connection refused
	// 503 try again later
}

// flakyStore is a backend whose Read fails while down is set.
type flakyStore struct {
	backend.Backend
	down bool
}

func (f *flakyStore) Read(ctx context.Context, key string) ([]byte, error) {
	if f.down {
		return nil, errors.New("connection refused")
	}
	return f.Backend.Read(ctx, key)
}

// The session is saved when the first byte goes out, Flush included, so a
// streamed response still carries its cookie. A change after that is
// reported, never silently dropped.
func ExampleLoad_flush() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/events", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.Set("subscribed", true) // before the first byte: saved
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 2 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			http.NewResponseController(w).Flush() // the first Flush commits
		}
		err := s.Set("last_event", 1) // after the first byte: an error, returned here only
		fmt.Println("Set after Flush:", errors.Is(err, chisess.ErrResponseStarted))
	})
	rec := (&browser{h: r}).get("GET", "/events")
	fmt.Println("cookie sent:", len(rec.Result().Cookies()) == 1)
	// Output:
	// Set after Flush: true
	// cookie sent: true
}

// A failed save replaces the response: here the store is down when the
// session is saved, and the handler's "saved" never reaches the client.
// (sessiontest.Backend stands in for a Redis that refuses the write.)
func ExampleConfig_errorHandler() {
	store := sessiontest.NewBackend()
	store.FailNext("write", 1, errors.New("connection refused"))
	sessions, _ := chisess.New(chisess.Config{
		Backend: store,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Log err; never send err.Error() to the client.
			if errors.Is(err, chisess.ErrStaleSession) {
				http.Error(w, "you were signed out meanwhile", http.StatusConflict)
				return
			}
			http.Error(w, "please try again", http.StatusServiceUnavailable)
		},
	})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/basket", func(w http.ResponseWriter, r *http.Request) {
		if err := chisess.From(r.Context()).Set("basket", "tea"); err != nil {
			http.Error(w, "your basket is too large", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "saved")
	})
	rec := (&browser{h: r}).get("POST", "/basket")
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 503 please try again
}

// Set, Delete, Clear, Keys and Has on one request's session.
func ExampleSession_Set() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.Set("user", "ada")
		s.Set("visits", 3)
		s.Set("seen", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		fmt.Println(s.Keys(), s.Has("visits"), s.Len())

		s.Delete("visits")
		fmt.Println(s.Keys())

		err := s.Set("callback", func() {}) // the codec cannot encode a func
		fmt.Println(err)
		fmt.Println(s.Has("callback"))

		s.Clear()
		fmt.Println(s.Len())
	})
	(&browser{h: r}).get("GET", "/")
	// Output:
	// [user visits seen] true 3
	// [user seen]
	// chisess: set "callback": json: unsupported type: func()
	// false
	// 0
}

// Values that are not a built-in kind go through the Codec (JSON by
// default). Get[any] returns the natural Go type.
func ExampleGet_struct() {
	type Prefs struct {
		Theme    string `json:"theme"`
		PageSize int    `json:"page_size"`
	}
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/prefs", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.Set("prefs", Prefs{Theme: "dark", PageSize: 50})
		s.Set("visits", 7)
	})
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		p, err := chisess.Get[Prefs](s, "prefs")
		fmt.Println(p, err)
		v, _ := chisess.Get[any](s, "visits")
		fmt.Printf("%T %v\n", v, v) // an int stays an int
		m, _ := chisess.Get[any](s, "prefs")
		fmt.Printf("%T\n", m) // what the JSON codec decodes into any
		_, err = chisess.Get[float64](s, "visits")
		fmt.Println(errors.Is(err, chisess.ErrWrongType))
	})
	b := &browser{h: r}
	b.get("POST", "/prefs")
	b.get("GET", "/")
	// Output:
	// {dark 50} <nil>
	// int 7
	// map[string]interface {}
	// true
}

// gobCodec stores codec values with encoding/gob, as scs and
// gorilla/sessions do. Types stored through it must be gob-encodable.
type gobCodec struct{}

func (gobCodec) Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

func (gobCodec) Unmarshal(data []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

func ExampleCodec() {
	type Cart struct{ Items []string }
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret, Codec: gobCodec{}})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/add", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("cart", Cart{Items: []string{"tea"}})
	})
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		c, err := chisess.Get[Cart](chisess.From(r.Context()), "cart")
		fmt.Println(c.Items, err)
	})
	b := &browser{h: r}
	b.get("POST", "/add")
	b.get("GET", "/")
	// Output: [tea] <nil>
}

// Renew the ID in the handler, once the password has been checked, rather
// than for every request to the route as RenewToken does.
func ExampleSession_RenewToken() {
	sessions, _ := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("cart", []string{"tea"})
	})
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("password") != "correct horse" {
			http.Error(w, "wrong password", http.StatusUnauthorized)
			return
		}
		s := chisess.From(r.Context())
		// A new token at the privilege change; the data stays. Check the
		// error: a login that keeps the old token must not answer 200.
		if err := errors.Join(s.RenewToken(), s.Set("user", "ada")); err != nil {
			chisess.Error(w, r, err)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	b := &browser{h: r}
	b.get("GET", "/")
	before := b.cookie.Value
	b.get("POST", "/login?password=correct+horse")

	ctx := context.Background()
	_, err := sessions.Inspect(ctx, before)
	fmt.Println("old ID dead:", errors.Is(err, chisess.ErrUnknownSession))
	s, _ := sessions.Inspect(ctx, b.cookie.Value)
	fmt.Println("new ID:", s.Keys())
	// Output:
	// old ID dead: true
	// new ID: [cart user]
}

// Log out: Destroy ends the session (its record is deleted, its ID dead),
// and the same request may then start a new one for a flash message.
func ExampleSession_Destroy_flash() {
	sessions, _ := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.RenewToken()
		s.Set("user", "ada")
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Destroy(); err != nil { // a logout that did not happen must say so
			chisess.Error(w, r, err)
			return
		}
		s.AddFlash("info", "You have been logged out.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		flashes, _ := s.Flashes() // nothing is written yet, so this cannot fail
		for _, f := range flashes {
			fmt.Fprintln(w, f.Message)
		}
		_, err := chisess.Get[string](s, "user")
		fmt.Fprintln(w, "logged in:", err == nil)
	})
	b := &browser{h: r}
	b.get("POST", "/login")
	loggedIn := b.cookie.Value
	b.get("POST", "/logout")
	fmt.Print(b.get("GET", "/").Body.String())
	_, err := sessions.Inspect(context.Background(), loggedIn)
	fmt.Println(errors.Is(err, chisess.ErrUnknownSession))
	// Output:
	// You have been logged out.
	// logged in: false
	// true
}

// "Keep me signed in": one session gets a persistent cookie for
// Config.RememberFor, whatever Lifetime and IdleTimeout say.
func ExampleSession_RememberMe() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret, IdleTimeout: 30 * time.Minute})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.RenewToken()
		s.Set("user", "ada")
		s.RememberMe(r.FormValue("remember") == "on")
	})
	for _, form := range []string{"remember=off", "remember=on"} {
		c := (&browser{h: r}).get("POST", "/login?"+form).Result().Cookies()[0]
		fmt.Println(form, "Max-Age:", (time.Duration(c.MaxAge) * time.Second).Round(time.Hour))
	}
	// Output:
	// remember=off Max-Age: 0s
	// remember=on Max-Age: 720h0m0s
}

// One session can live shorter or longer than the Config says: a kiosk
// signs out after 15 minutes, a device the user trusts stays signed in for
// 90 days, cut to MaxLifetime, and any other login lasts the configured 8
// hours.
func ExampleSession_SetLifetime() {
	sessions, _ := chisess.New(chisess.Config{
		Secret:      exampleSecret,
		Lifetime:    8 * time.Hour,
		MaxLifetime: 60 * 24 * time.Hour,
	})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.RenewToken()
		s.Set("user", "ada")
		switch r.FormValue("device") {
		case "kiosk":
			s.SetLifetime(15 * time.Minute)
		case "trusted":
			s.SetLifetime(90 * 24 * time.Hour)
		}
		fmt.Print(r.FormValue("device"), ": lifetime ", s.Lifetime())
	})
	for _, device := range []string{"laptop", "kiosk", "trusted"} {
		c := (&browser{h: r}).get("POST", "/login?device="+device).Result().Cookies()[0]
		fmt.Println(", Max-Age", time.Duration(c.MaxAge)*time.Second)
	}
	// Output:
	// laptop: lifetime 8h0m0s, Max-Age 8h0m0s
	// kiosk: lifetime 15m0s, Max-Age 15m0s
	// trusted: lifetime 1440h0m0s, Max-Age 1440h0m0s
}

// API clients keep the token themselves and send it in a header.
func ExampleTokenHeader() {
	sessions, _ := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.Route("/api", func(r chi.Router) {
		r.Use(chisess.TokenHeader("Authorization"), chisess.Autoload)
		r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			s.RenewToken()
			s.Set("user", "ada")
		})
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			user, _ := chisess.Get[string](chisess.From(r.Context()), "user")
			fmt.Fprint(w, user)
		})
	})

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("POST", "/api/login", nil))
	token := rec.Header().Get("Authorization") // "Bearer <token>"
	fmt.Println(strings.HasPrefix(token, "Bearer "), len(rec.Result().Cookies()))

	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", token)
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	fmt.Println(rec.Body.String())
	// Output:
	// true 0
	// ada
}

// "Your devices" and "log out everywhere else": SetOwner ties a session to
// a user, and a backend with an owner index lists and ends them.
func ExampleManager_DestroyOwner() {
	sessions, _ := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.RenewToken()
		s.SetOwner("ada") // the user ID, once the password is checked
		s.SetDescription(r.FormValue("device"))
	})
	r.Get("/devices", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		infos, err := sessions.Sessions(r.Context(), s.Owner())
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
		for _, in := range infos {
			if in.Handle == s.Handle() {
				fmt.Fprintf(w, "%d sessions, this one on the %s\n", len(infos), in.Description)
			}
		}
	})
	r.Post("/logout-others", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, err := sessions.DestroyOwner(r.Context(), s.Owner(), s) // keep s
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
		fmt.Fprintf(w, "ended %d\n", n)
	})
	r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "owner %q\n", chisess.From(r.Context()).Owner())
	})

	laptop, phone := &browser{h: r}, &browser{h: r}
	laptop.get("POST", "/login?device=laptop")
	phone.get("POST", "/login?device=phone")
	fmt.Print(phone.get("GET", "/devices").Body.String())
	fmt.Print(phone.get("POST", "/logout-others").Body.String())
	fmt.Print(phone.get("GET", "/devices").Body.String())
	fmt.Print(laptop.get("GET", "/whoami").Body.String())
	// Output:
	// 2 sessions, this one on the phone
	// ended 1
	// 1 sessions, this one on the phone
	// owner ""
}

// Issue makes a session outside of any request: sign a user in from a
// test, a command-line tool or a one-time login link.
func ExampleManager_Issue() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.With(chisess.Require("user_id", nil)).Get("/account", func(w http.ResponseWriter, r *http.Request) {
		id, _ := chisess.Get[int](chisess.From(r.Context()), "user_id")
		fmt.Fprint(w, "account of user ", id)
	})

	cookie, err := sessions.Issue(context.Background(), map[string]any{"user_id": 42})
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest("GET", "/account", nil)
	req.AddCookie(cookie)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	fmt.Println(rec.Body.String())
	// Output: account of user 42
}

// Lifetime gives the cookie a Max-Age; the zero Lifetime makes a
// browser-session cookie, ended on the server after DefaultSessionCap.
func ExampleConfig_lifetime() {
	for _, cfg := range []chisess.Config{
		{Secret: exampleSecret},
		{Secret: exampleSecret, Lifetime: 2 * time.Hour},
		{Secret: exampleSecret, Lifetime: 8 * time.Hour, IdleTimeout: 30 * time.Minute},
	} {
		sessions, err := chisess.New(cfg)
		if err != nil {
			panic(err)
		}
		r := chi.NewRouter()
		r.Use(chisess.Load(sessions), chisess.Autoload)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			chisess.From(r.Context()).Set("user", "ada")
		})
		c := (&browser{h: r}).get("GET", "/").Result().Cookies()[0]
		fmt.Println((time.Duration(c.MaxAge) * time.Second).Round(time.Minute))
	}
	// Output:
	// 0s
	// 2h0m0s
	// 8h0m0s
}

// The cookie attributes chisess sets by default, here with the __Host-
// prefix, which makes the browser insist on Secure, Path=/ and no Domain.
func ExampleConfig_hostPrefix() {
	sessions, err := chisess.New(chisess.Config{Secret: exampleSecret})
	if err != nil {
		panic(err)
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("user", "ada")
	})
	rec := (&browser{h: r}).get("GET", "/")
	name, rest, _ := strings.Cut(rec.Header().Get("Set-Cookie"), "=")
	_, attrs, _ := strings.Cut(rest, "; ")
	fmt.Println(name)
	fmt.Println(attrs)
	fmt.Println("Cache-Control:", rec.Header().Get("Cache-Control"))
	fmt.Println("Vary:", rec.Header().Get("Vary"))
	// Output:
	// __Host-session
	// Path=/; HttpOnly; Secure; SameSite=Lax
	// Cache-Control: no-store
	// Vary: Cookie
}

// Rotating the secret of the cookie backend: the new secret seals, the old
// one still opens, and a cookie sealed with the old one is sealed again with
// the new one the next time its session is loaded.
func ExampleConfig_previousSecrets() {
	const oldSecret = exampleSecret
	const newSecret = "another-example-secret-of-32-bytes"
	ctx := context.Background()

	before, _ := chisess.New(chisess.Config{Secret: oldSecret})
	cookie, _ := before.Issue(ctx, map[string]any{"user": "ada"})

	during, _ := chisess.New(chisess.Config{Secret: newSecret, PreviousSecrets: []string{oldSecret}})
	r := chi.NewRouter()
	r.Use(chisess.Load(during), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		user, _ := chisess.Get[string](chisess.From(r.Context()), "user")
		fmt.Println("user:", user)
	})
	b := &browser{h: r, cookie: cookie}
	b.get("GET", "/") // opened with the old secret, sealed again with the new one

	after, _ := chisess.New(chisess.Config{Secret: newSecret}) // old secret removed
	_, err := after.Inspect(ctx, cookie.Value)
	fmt.Println("cookie sealed with the old secret opens:", err == nil)
	_, err = after.Inspect(ctx, b.cookie.Value)
	fmt.Println("cookie sealed again opens:", err == nil)
	// Output:
	// user: ada
	// cookie sealed with the old secret opens: false
	// cookie sealed again opens: true
}

// By default a 5xx response saves none of the session changes its handler
// made, as Django does. KeepChangesOnServerError saves them anyway.
func ExampleConfig_keepChangesOnServerError() {
	for _, keep := range []bool{false, true} {
		sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret, KeepChangesOnServerError: keep})
		r := chi.NewRouter()
		r.Use(chisess.Load(sessions), chisess.Autoload)
		r.Post("/checkout", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			s.Set("order", "pending")
			http.Error(w, "payment service down", http.StatusInternalServerError)
		})
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, chisess.From(r.Context()).Has("order"))
		})
		b := &browser{h: r}
		b.get("POST", "/checkout")
		fmt.Println("KeepChangesOnServerError:", keep, "order kept:", b.get("GET", "/").Body.String())
	}
	// Output:
	// KeepChangesOnServerError: false order kept: false
	// KeepChangesOnServerError: true order kept: true
}

// A request that loaded the session before another request destroyed it
// cannot bring it back: its commit fails with ErrStaleSession.
func Example_sessionGone() {
	sessions, _ := chisess.New(chisess.Config{
		Backend: backend.NewMemory(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			fmt.Println("ErrorHandler:", errors.Is(err, chisess.ErrStaleSession))
			http.Error(w, "your session has ended; please sign in again", http.StatusConflict)
		},
	})
	var otherTab *browser
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("user", "ada")
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Destroy()
	})
	r.Post("/cart", func(w http.ResponseWriter, r *http.Request) {
		otherTab.get("POST", "/logout") // while this request runs, another one logs out
		chisess.From(r.Context()).Set("cart", "tea")
	})
	b := &browser{h: r}
	b.get("POST", "/login")
	otherTab = &browser{h: r, cookie: b.cookie}

	fmt.Println(b.get("POST", "/cart").Code)
	_, err := sessions.Inspect(context.Background(), b.cookie.Value)
	fmt.Println("session gone:", errors.Is(err, chisess.ErrUnknownSession))
	// Output:
	// ErrorHandler: true
	// 409
	// session gone: true
}

// chisess does not protect against cross-site request forgery by itself:
// mount net/http's CrossOriginProtection next to the SameSite=Lax cookie.
func Example_crossOriginProtection() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(http.NewCrossOriginProtection().Handler)
	r.Use(chisess.Load(sessions))
	r.Post("/transfer", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "done")
	})
	for _, site := range []string{"same-origin", "cross-site"} {
		req := httptest.NewRequest("POST", "/transfer", nil)
		req.Header.Set("Sec-Fetch-Site", site)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(site, rec.Code)
	}
	// Output:
	// same-origin 200
	// cross-site 403
}

// mapStore is a complete custom backend: the three methods of
// backend.Backend over a map, with expiry. It passes
// sessiontest.RunConformance (see TestMapStoreConformance).
type mapStore struct {
	mu   sync.Mutex
	recs map[string]mapRecord
}

type mapRecord struct {
	data    []byte
	expires time.Time
}

var _ backend.Backend = (*mapStore)(nil)

func newMapStore() *mapStore { return &mapStore{recs: make(map[string]mapRecord)} }

// Read returns a copy of the live record, or backend.ErrNotFound.
func (m *mapStore) Read(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.recs[key]
	if !ok || !time.Now().Before(rec.expires) {
		return nil, backend.ErrNotFound
	}
	return append([]byte{}, rec.data...), nil
}

// Write stores a copy of data for ttl; a ttl of zero or less deletes.
func (m *mapStore) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ttl <= 0 {
		delete(m.recs, key)
		return nil
	}
	m.recs[key] = mapRecord{data: append([]byte{}, data...), expires: time.Now().Add(ttl)}
	return nil
}

// Delete removes the record; a missing key is not an error.
func (m *mapStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, key)
	return nil
}

func ExampleConfig_customBackend() {
	sessions, err := chisess.New(chisess.Config{Backend: newMapStore()})
	if err != nil {
		panic(err)
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, _ := chisess.Get[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprint(w, n+1)
	})
	b := &browser{h: r}
	b.get("GET", "/")
	fmt.Println(b.get("GET", "/").Body.String())
	// Output: 2
}

// TestMapStoreConformance checks the custom backend of the docs against
// the backend contract.
func TestMapStoreConformance(t *testing.T) {
	sessiontest.RunConformance(t, func(t *testing.T) backend.Backend {
		return newMapStore()
	})
}

// Periodic ID renewal: here every request renews (RenewEvery of a
// nanosecond), and an old ID still reaches the session within RenewGrace.
func ExampleConfig_renewEvery() {
	sessions, _ := chisess.New(chisess.Config{
		Backend:    backend.NewMemory(),
		RenewEvery: time.Nanosecond, // in an app: time.Hour or so
		RenewGrace: 30 * time.Second,
	})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, _ := chisess.Get[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprint(w, n+1)
	})
	b := &browser{h: r}
	b.get("GET", "/")
	first := b.cookie.Value
	b.get("GET", "/")
	fmt.Println("renewed:", b.cookie.Value != first)

	late := &browser{h: r, cookie: &http.Cookie{Name: sessions.CookieName(), Value: first}}
	fmt.Println("old ID within the grace window:", late.get("GET", "/").Body.String())
	fmt.Println("handed the current ID:", late.cookie.Value != first)
	// Output:
	// renewed: true
	// old ID within the grace window: 3
	// handed the current ID: true
}

// AutoloadFunc by host: one router serves the admin site and the public
// one, and only the admin site's requests load the session.
func ExampleAutoloadFunc_host() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.Use(chisess.AutoloadFunc(func(r *http.Request) bool {
		host, _, _ := strings.Cut(r.Host, ":") // without the port
		return host == "admin.example.com"
	}))
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, chisess.From(r.Context()).Loaded())
	})
	b := &browser{h: r}
	for _, u := range []string{"https://admin.example.com/", "https://admin.example.com:8443/", "https://www.example.com/"} {
		fmt.Println(u, b.get("GET", u).Body.String())
	}
	// Output:
	// https://admin.example.com/ true
	// https://admin.example.com:8443/ true
	// https://www.example.com/ false
}

// AutoloadFunc by method: requests that change state (a form post, an API
// call) load the session, say for a check of their own, and page views
// stay lazy.
func ExampleAutoloadFunc_method() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.Use(chisess.AutoloadFunc(func(r *http.Request) bool {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return false
		}
		return true
	}))
	r.HandleFunc("/cart", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, chisess.From(r.Context()).Loaded())
	})
	b := &browser{h: r}
	for _, method := range []string{"GET", "POST", "DELETE"} {
		fmt.Println(method, b.get(method, "/cart").Body.String())
	}
	// Output:
	// GET false
	// POST true
	// DELETE true
}

// An app embedded in other sites' pages, such as a support widget in an
// iframe: its cookie is Partitioned, so the browser keeps one per
// embedding site, and SameSite=None, so it is sent in a cross-site iframe
// at all. Both need Secure, which is the default.
func ExampleConfig_partitioned() {
	sessions, err := chisess.New(chisess.Config{
		Secret:      exampleSecret,
		SameSite:    http.SameSiteNoneMode,
		Partitioned: true,
	})
	if err != nil {
		panic(err)
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/widget", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("visitor", "ada")
	})
	rec := (&browser{h: r}).get("GET", "/widget")
	name, rest, _ := strings.Cut(rec.Header().Get("Set-Cookie"), "=")
	_, attrs, _ := strings.Cut(rest, "; ")
	fmt.Println(name)
	fmt.Println(attrs)

	_, err = chisess.New(chisess.Config{Secret: exampleSecret, Partitioned: true, Insecure: true})
	fmt.Println(err)
	// Output:
	// __Host-session
	// Path=/; HttpOnly; Secure; SameSite=None; Partitioned
	// chisess: invalid config: Config.Partitioned needs a Secure cookie, which browsers require of partitioned cookies; drop Insecure
}

// A persistent cookie carries Expires beside Max-Age, both naming the end
// of the session, for the clients and proxies that know only Expires; the
// cookie of a logout expires at once by both.
func ExampleConfig_expires() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret, Lifetime: 2 * time.Hour})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("user", "ada")
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Destroy()
	})
	b := &browser{h: r}
	c := b.get("POST", "/login").Result().Cookies()[0]
	fmt.Println("login: Max-Age", c.MaxAge, "and Expires in", time.Until(c.Expires).Round(time.Minute))
	c = b.get("POST", "/logout").Result().Cookies()[0]
	fmt.Println("logout: Max-Age", c.MaxAge, "and Expires", c.RawExpires)
	// Output:
	// login: Max-Age 7200 and Expires in 2h0m0s
	// logout: Max-Age -1 and Expires Thu, 01 Jan 1970 00:00:00 GMT
}

// A lower limit for the sealed cookie, for a site whose cookies must share
// a proxy's limit on the Cookie header: a value that would take the cookie
// past it is refused at Set, and the session keeps what it had.
func ExampleConfig_maxCookieSize() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret, MaxCookieSize: 1024})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/notes", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		err := s.Set("note", strings.Repeat("x", 2000))
		fmt.Println(errors.Is(err, chisess.ErrCookieTooLarge), errors.Is(err, chisess.ErrTooLarge))
		fmt.Println(s.Set("note", strings.Repeat("x", 500)))
	})
	c := (&browser{h: r}).get("POST", "/notes").Result().Cookies()[0]
	fmt.Println(len(c.Name)+1+len(c.Value) <= 1024)
	// Output:
	// true true
	// <nil>
	// true
}

// A cookie with a Path is sent only under it, so a request elsewhere
// cannot see the session: it gets a new, empty one that it cannot change,
// and its response neither sets nor clears the cookie.
func ExampleConfig_path() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret, Path: "/admin"})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	login := func(w http.ResponseWriter, r *http.Request) {
		if err := chisess.From(r.Context()).Set("user", "ada"); err != nil {
			fmt.Println(err)
			http.Error(w, "sign in under /admin", http.StatusNotFound)
		}
	}
	r.Post("/admin/login", login)
	r.Post("/shop/login", login) // outside the Path
	b := &browser{h: r}
	for _, p := range []string{"/shop/login", "/admin/login"} {
		rec := b.get("POST", p)
		fmt.Println(p, rec.Code, len(rec.Result().Cookies()), "cookie")
	}
	// Output:
	// chisess: request is outside the session cookie's Path: Set on POST /shop/login; Config.Path is "/admin"
	// /shop/login 404 0 cookie
	// /admin/login 200 1 cookie
}

// A stream saves its changes while it runs: each Save stores one at once,
// and another request sees it before the stream ends. With the cookie
// backend, whose cookie left with the headers, Save says it cannot.
func ExampleSession_Save() {
	app := func(sessions *chisess.Manager) http.Handler {
		r := chi.NewRouter()
		r.Use(chisess.Load(sessions), chisess.Autoload)
		r.Get("/events", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			w.Header().Set("Content-Type", "text/event-stream")
			for _, room := range []string{"lobby", "kitchen"} {
				fmt.Fprintf(w, "data: entering %s\n\n", room)
				http.NewResponseController(w).Flush() // the first Flush commits
				err := s.Save(r.Context(), func(s *chisess.Session) error {
					return s.Set("room", room) // saved now, mid-stream
				})
				if err != nil {
					fmt.Println("Save:", errors.Is(err, chisess.ErrHeadersSent))
					return
				}
			}
		})
		r.Get("/room", func(w http.ResponseWriter, r *http.Request) {
			room, _ := chisess.Get[string](chisess.From(r.Context()), "room")
			fmt.Printf("room: %q\n", room)
		})
		return r
	}
	for _, cfg := range []chisess.Config{
		{Backend: backend.NewMemory()}, // server-side: Save saves
		{Secret: exampleSecret},        // the cookie backend: ErrHeadersSent
	} {
		sessions, _ := chisess.New(cfg)
		cookie, _ := sessions.Issue(context.Background(), map[string]any{"user": "ada"})
		b := &browser{h: app(sessions), cookie: cookie}
		b.get("GET", "/events")
		b.get("GET", "/room")
	}
	// Output:
	// room: "kitchen"
	// Save: true
	// room: ""
}

// Two managers on one router: the account on the server, the visitor's
// theme in a small sealed cookie. A handler reaches either session through
// its manager. The middlewares use the nearest Load's session, so the
// account's routes mount Load(accounts) again to aim Require at it.
func ExampleManager_From() {
	accounts, _ := chisess.New(chisess.Config{Backend: backend.NewMemory(), CookieName: "account"})
	prefs, _ := chisess.New(chisess.Config{Secret: exampleSecret, CookieName: "prefs"})
	toLogin := http.RedirectHandler("/login", http.StatusSeeOther)

	r := chi.NewRouter()
	r.Use(chisess.Load(accounts), chisess.Load(prefs)) // prefs's Load is the nearest
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		s := accounts.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			accounts.Error(w, r, err) // through accounts' ErrorHandler
			return
		}
		s.RenewToken()
		s.Set("user", "ada")
	})
	r.With(chisess.Autoload).Post("/theme", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("theme", "dark") // the nearest: prefs's
	})
	r.With(chisess.Load(accounts), chisess.Require("user", toLogin)).Get("/me", func(w http.ResponseWriter, r *http.Request) {
		user, _ := chisess.Get[string](chisess.From(r.Context()), "user") // accounts', the nearest again
		p := prefs.From(r.Context())
		if err := p.Load(r.Context()); err != nil {
			prefs.Error(w, r, err)
			return
		}
		theme, _ := chisess.Get[string](p, "theme")
		fmt.Println(user, theme)
	})

	jar := map[string]*http.Cookie{} // a browser keeps one cookie per name
	send := func(method, target string) int {
		req := httptest.NewRequest(method, target, nil)
		for _, c := range jar {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			jar[c.Name] = c
		}
		return rec.Code
	}
	fmt.Println(send("GET", "/me")) // not signed in: Require sends to /login
	send("POST", "/login")
	send("POST", "/theme")
	send("GET", "/me")
	fmt.Println(len(jar), "cookies")
	// Output:
	// 303
	// ada dark
	// 2 cookies
}
