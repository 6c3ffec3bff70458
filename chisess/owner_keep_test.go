package chisess_test

import (
	"net/http"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/matryer/is"
)

// "Log out everywhere else" keeps the current session even when the same
// request also renews its token: the session is kept under the key it was
// loaded with as well as its new one, so its commit still finds it.
func TestDestroyOwnerKeepsASessionRenewedInTheSameRequest(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{Backend: b})
	r := newRouter(t, m)
	r.Post("/login", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		is.NoErr(s.SetOwner("ada"))
	}))
	var ended int
	r.Post("/elsewhere", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		is.NoErr(s.RenewToken())
		var err error
		ended, err = m.DestroyOwner(r.Context(), "ada", s)
		is.NoErr(err)
	}))
	here, there := newClient(t, m, r), newClient(t, m, r)
	here.do("POST", "/login")
	there.do("POST", "/login")
	before := here.cookie
	rec := here.do("POST", "/elsewhere")
	is.Equal(rec.Code, http.StatusOK) // the renewal commits
	is.Equal(ended, 1)                // after ending the other session only
	is.True(here.cookie != before)    // under its new token
	s, err := m.Inspect(t.Context(), here.cookie)
	is.NoErr(err)
	is.Equal(s.Owner(), "ada") // this session lives on
	_, err = m.Inspect(t.Context(), there.cookie)
	is.True(err != nil) // the other one is over
}
