package chisess_test

import (
	"fmt"
	"net/http"

	"github.com/chisess/kit/chisess"
)

// The middlewares are plain func(http.Handler) http.Handler, so they work
// on the standard library's http.ServeMux as they do on chi: Load wraps
// the whole mux, and Rotate, Require (or Autoload) wrap the handlers that
// need them.
func Example_serveMux() {
	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			chisess.Error(w, r, err)
			return
		}
		n, _ := chisess.Get[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	})
	mux.Handle("POST /login", chisess.RenewToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("user", "ada")
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})))
	members := chisess.Require("user", http.RedirectHandler("/login", http.StatusSeeOther))
	mux.Handle("GET /account", members(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := chisess.Get[string](chisess.From(r.Context()), "user")
		fmt.Fprintf(w, "hello, %s", user)
	})))

	b := &browser{h: chisess.Load(sessions)(mux)}
	fmt.Println(b.get("GET", "/").Body.String())
	fmt.Println(b.get("GET", "/account").Header().Get("Location"))
	b.get("POST", "/login")
	fmt.Println(b.get("GET", "/account").Body.String())
	fmt.Println(b.get("GET", "/").Body.String())
	// Output:
	// visit 1
	// /login
	// hello, ada
	// visit 2
}
