package chisess_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/go-chi/chi/v5"
)

// exampleSecret stands in for os.Getenv("SESSION_SECRET"): at least 32
// random bytes, kept out of source code in a real app.
const exampleSecret = "example-secret-example-secret-32b"

// browser sends requests to h with the session cookie it was last given,
// as a browser would.
type browser struct {
	h      http.Handler
	cookie *http.Cookie
}

func (b *browser) get(method, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			b.cookie = nil
		} else {
			b.cookie = c
		}
	}
	return rec
}

// The quick start from the README: a visit counter on the default sealed
// cookie backend.
func Example() {
	sessions, err := chisess.New(chisess.Config{Secret: exampleSecret})
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			chisess.Error(w, r, err) // answers through Config.ErrorHandler
			return
		}
		n, _ := chisess.Get[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	})

	b := &browser{h: r}
	for range 3 {
		fmt.Println(b.get("GET", "/").Body.String())
	}
	// Output:
	// visit 1
	// visit 2
	// visit 3
}

// A login flow: RenewToken gives the session a new token at login, Require guards
// the members' group, Destroy logs out.
func Example_login() {
	sessions, _ := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("user", "ada")
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	r.With(chisess.Autoload).Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Destroy()
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	r.Group(func(r chi.Router) {
		r.Use(chisess.Require("user", http.RedirectHandler("/login", http.StatusSeeOther)))
		r.Get("/account", func(w http.ResponseWriter, r *http.Request) {
			user, _ := chisess.Get[string](chisess.From(r.Context()), "user")
			fmt.Fprintf(w, "hello, %s", user)
		})
	})

	b := &browser{h: r}
	fmt.Println(b.get("GET", "/account").Header().Get("Location"))
	fmt.Println(b.get("POST", "/login").Header().Get("Location"))
	fmt.Println(b.get("GET", "/account").Body.String())
	fmt.Println(b.get("POST", "/logout").Header().Get("Location"))
	fmt.Println(b.get("GET", "/account").Code)
	// Output:
	// /login
	// /account
	// hello, ada
	// /login
	// 303
}

// The default backend seals the whole session into the cookie: leave
// Config.Backend nil and set Config.Secret. Compiled, not run: it needs
// SESSION_SECRET.
func ExampleConfig_sealedCookie() {
	sessions, err := chisess.New(chisess.Config{Secret: os.Getenv("SESSION_SECRET")}) // ≥ 32 random bytes
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
}

func ExampleNew() {
	_, err := chisess.New(chisess.Config{Secret: exampleSecret, CookieName: "__Host-sid", Path: "/app"})
	fmt.Println(err)
	// Output: chisess: invalid config: Config.Path must be / for a __Host- cookie, got "/app"
}

func ExampleLoad() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.Get("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok") // never loads the session: no decoding, no Set-Cookie
	})
	rec := (&browser{h: r}).get("GET", "/health")
	fmt.Println(rec.Body.String(), len(rec.Result().Cookies()))
	// Output: ok 0
}

func ExampleAutoload() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.Group(func(r chi.Router) {
		r.Use(chisess.Autoload)
		r.Get("/cart", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context()) // already loaded
			items, _ := chisess.Get[[]string](s, "cart")
			fmt.Fprint(w, len(items), " items")
		})
	})
	fmt.Println((&browser{h: r}).get("GET", "/cart").Body.String())
	// Output: 0 items
}

func ExampleAutoloadPaths() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.Use(chisess.AutoloadPaths("/account", "/api/*/me"))
	r.Get("/*", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, chisess.From(r.Context()).Loaded())
	})
	b := &browser{h: r}
	for _, p := range []string{"/", "/account/settings", "/api/v2/me"} {
		fmt.Println(p, b.get("GET", p).Body.String())
	}
	// Output:
	// / false
	// /account/settings true
	// /api/v2/me true
}

// AutoloadFunc with a regular expression: the session is loaded for the
// API's "me" routes of every version, and stays lazy elsewhere.
func ExampleAutoloadFunc() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	me := regexp.MustCompile(`^/api/v[0-9]+/me(/|$)`)
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.Use(chisess.AutoloadFunc(func(r *http.Request) bool {
		return me.MatchString(r.URL.Path)
	}))
	r.Get("/*", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, chisess.From(r.Context()).Loaded())
	})
	b := &browser{h: r}
	for _, p := range []string{"/api/v2/me", "/api/v2/me/orders", "/api/v2/members", "/about"} {
		fmt.Println(p, b.get("GET", p).Body.String())
	}
	// Output:
	// /api/v2/me true
	// /api/v2/me/orders true
	// /api/v2/members false
	// /about false
}

func ExampleRotate() {
	sessions, _ := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.With(chisess.Autoload).Get("/", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("cart", []string{"tea"})
	})
	r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.Set("user", "ada")
		cart, _ := chisess.Get[[]string](s, "cart")
		fmt.Fprint(w, cart) // data survives the new ID
	})
	b := &browser{h: r}
	b.get("GET", "/")
	before := b.cookie.Value
	fmt.Println(b.get("POST", "/login").Body.String(), b.cookie.Value != before)
	// Output: [tea] true
}

func ExampleRequire() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.With(chisess.Require("user", nil)).Get("/api/me", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "me")
	})
	fmt.Println((&browser{h: r}).get("GET", "/api/me").Code) // nil otherwise answers 401
	// Output: 401
}

// Require checks only that a key is there; RequireFunc checks what it
// holds. Here a user name must be a non-empty string.
func ExampleRequireFunc() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	r.With(chisess.Autoload).Post("/login", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("user", r.FormValue("user"))
	})
	signedIn := chisess.RequireFunc(func(s *chisess.Session) bool {
		user, _ := chisess.Get[string](s, "user")
		return user != ""
	}, nil)
	r.With(signedIn).Get("/me", func(w http.ResponseWriter, r *http.Request) {
		user, _ := chisess.Get[string](chisess.From(r.Context()), "user")
		fmt.Fprint(w, user)
	})

	b := &browser{h: r}
	b.get("POST", "/login?user=") // Require("user", nil) would let this one in
	fmt.Println(b.get("GET", "/me").Code)
	b.get("POST", "/login?user=ada")
	fmt.Println(b.get("GET", "/me").Body.String())
	// Output:
	// 401
	// ada
}

func ExampleGet() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.Set("visits", 3)
		n, err := chisess.Get[int](s, "visits")
		fmt.Println(n, err)
		_, err = chisess.Get[string](s, "visits")
		fmt.Println(errors.Is(err, chisess.ErrWrongType))
		_, err = chisess.Get[int](s, "missing")
		fmt.Println(errors.Is(err, chisess.ErrNoKey))
	})
	(&browser{h: r}).get("GET", "/")
	// Output:
	// 3 <nil>
	// true
	// true
}

func ExamplePop() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.Set("return_to", "/checkout")
		to, _ := chisess.Pop[string](s, "return_to")
		fmt.Println(to, s.Has("return_to"))
	})
	(&browser{h: r}).get("GET", "/")
	// Output: /checkout false
}

func ExampleSession_AddFlash() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/save", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).AddFlash("info", "Saved.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		flashes, err := chisess.From(r.Context()).Flashes()
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
		for _, f := range flashes {
			fmt.Fprintf(w, "[%s] %s", f.Kind, f.Message)
		}
	})
	b := &browser{h: r}
	b.get("POST", "/save")
	fmt.Println(b.get("GET", "/").Body.String())
	fmt.Printf("%q\n", b.get("GET", "/").Body.String())
	// Output:
	// [info] Saved.
	// ""
}

func ExampleSession_Destroy() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("user", "ada")
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Destroy()
	})
	b := &browser{h: r}
	b.get("POST", "/login")
	rec := b.get("POST", "/logout")
	fmt.Println(strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0"), b.cookie == nil)
	// Output: true true
}
