package chisess_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

var (
	userID = chisess.NewKey[int64]("user_id")
	cart   = chisess.NewKey[[]string]("cart")
)

func TestTypedKeys(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		r := chi.NewRouter()
		r.Use(chisess.Load(m), chisess.Autoload)
		r.Post("/set", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			is.NoErr(userID.Set(s, 42))
			is.NoErr(cart.Set(s, []string{"tea", "milk"}))
			is.NoErr(s.Set("count", "not a number"))
		})
		r.Get("/get", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			id, err := userID.Get(s)
			is.NoErr(err)
			is.Equal(id, int64(42)) // the declared type comes back
			items, err := cart.Pop(s)
			is.NoErr(err)
			is.Equal(items, []string{"tea", "milk"})
			is.True(!cart.Has(s)) // Pop removed it
			_, err = chisess.NewKey[int]("count").Get(s)
			is.True(errors.Is(err, chisess.ErrWrongType)) // a clash with other code is still caught
			userID.Delete(s)
			is.True(!userID.Has(s))
			is.Equal(userID.Name(), "user_id")
		})
		c := newClient(t, m, r)
		c.do("POST", "/set")
		c.do("GET", "/get")
	})
}

func ExampleKey() {
	var visits = chisess.NewKey[int]("visits")

	sessions, _ := chisess.New(chisess.Config{Secret: exampleSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, _ := visits.Get(s)
		visits.Set(s, n+1)
		fmt.Fprint(w, n+1)
	})
	b := &browser{h: r}
	b.get("GET", "/")
	fmt.Println(b.get("GET", "/").Body.String())
	// Output: 2
}
