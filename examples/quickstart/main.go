// Command quickstart is the README's quick start: a visit counter, a login
// that gives the session a new token, and a members-only page. Run it with a
// secret of 32 random bytes or more:
//
//	SESSION_SECRET=$(openssl rand -base64 32) go run ./examples/quickstart
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/chisess/kit/chisess"
	"github.com/go-chi/chi/v5"
)

func main() {
	sessions, err := chisess.New(chisess.Config{Secret: os.Getenv("SESSION_SECRET")}) // ≥ 32 random bytes
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions)) // a lazy session on every request, saved before the first byte

	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			chisess.Error(w, r, err) // answers through Config.ErrorHandler
			return
		}
		n, _ := chisess.Get[int](s, "visits") // typed: an int stays an int
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d\n", n+1)
	})
	r.With(chisess.RenewToken).Post("/login", login) // new session token when privileges change
	r.Group(func(r chi.Router) {
		r.Use(chisess.Require("user_id", http.RedirectHandler("/login", http.StatusSeeOther)))
		r.Get("/account", account)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", r))
}

func login(w http.ResponseWriter, r *http.Request) {
	chisess.From(r.Context()).Set("user_id", 42) // after checking a password, in a real app
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func account(w http.ResponseWriter, r *http.Request) {
	id, _ := chisess.Get[int](chisess.From(r.Context()), "user_id")
	fmt.Fprintf(w, "account %d\n", id)
}
