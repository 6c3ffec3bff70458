package chisess_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// ownerRouter logs in as ?user= from device ?device=, lists the user's
// sessions, and logs out everywhere else.
func ownerRouter(t *testing.T, m *chisess.Manager) *chi.Mux {
	r := newRouter(t, m)
	r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		s.SetOwner(r.URL.Query().Get("user"))
		s.SetDescription(r.URL.Query().Get("device"))
	})
	r.With(chisess.Autoload).Get("/devices", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		infos, err := m.Sessions(r.Context(), s.Owner())
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
		for _, in := range infos {
			mark := ""
			if in.Handle == s.Handle() {
				mark = "*"
			}
			fmt.Fprintf(w, "%s%s;", in.Description, mark)
		}
	})
	r.With(chisess.Autoload).Post("/logout-others", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, err := m.DestroyOwner(r.Context(), s.Owner(), s)
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
		fmt.Fprint(w, n)
	})
	r.With(chisess.Autoload).Get("/owner", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, chisess.From(r.Context()).Owner())
	})
	return r
}

func TestOwnerIndex(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		mem := backend.NewMemoryWithCleanup(0)
		m := newManager(t, chisess.Config{Backend: mem, Lifetime: 24 * time.Hour})
		r := ownerRouter(t, m)
		laptop, phone, tablet, other := newClient(t, m, r), newClient(t, m, r), newClient(t, m, r), newClient(t, m, r)
		laptop.do("POST", "/login?user=ada&device=laptop")
		time.Sleep(time.Minute)
		phone.do("POST", "/login?user=ada&device=phone")
		time.Sleep(time.Minute)
		tablet.do("POST", "/login?user=ada&device=tablet")
		other.do("POST", "/login?user=bob&device=desktop")

		is.Equal(phone.do("GET", "/devices").Body.String(), "tablet;phone*;laptop;") // newest first, the current one marked
		is.Equal(other.do("GET", "/devices").Body.String(), "desktop*;")             // only the owner's own
		is.Equal(phone.do("GET", "/owner").Body.String(), "ada")

		// A renewed ID stays listed once, under its new handle.
		time.Sleep(time.Minute)
		phone.do("POST", "/renew")
		is.Equal(phone.do("GET", "/devices").Body.String(), "phone*;tablet;laptop;")

		is.Equal(phone.do("POST", "/logout-others").Body.String(), "2") // log out everywhere else
		is.Equal(laptop.do("GET", "/owner").Body.String(), "")          // the laptop is logged out
		is.Equal(tablet.do("GET", "/owner").Body.String(), "")
		is.Equal(phone.do("GET", "/devices").Body.String(), "phone*;")
		is.Equal(other.do("GET", "/devices").Body.String(), "desktop*;") // another owner is untouched

		time.Sleep(25 * time.Hour)
		infos, err := m.Sessions(context.Background(), "ada")
		is.NoErr(err)
		is.Equal(len(infos), 0) // expired sessions drop out of the listing
	})
}

// Ending a session through the index ends its generation: a slow request
// that loaded it before cannot bring it back.
func TestDestroyOwnerBeatsSlowWriter(t *testing.T) {
	is := is.New(t)
	mem := backend.NewMemoryWithCleanup(0)
	var reported error
	m := newManager(t, chisess.Config{Backend: mem, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		reported = err
		w.WriteHeader(http.StatusConflict)
	}})
	r := ownerRouter(t, m)
	loaded, release := make(chan struct{}), make(chan struct{})
	r.With(chisess.Autoload).Post("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(loaded)
		<-release
		chisess.From(r.Context()).Set("cart", "tea")
	})
	laptop := newClient(t, m, r)
	laptop.do("POST", "/login?user=ada&device=laptop")
	done := make(chan int)
	go func() { done <- laptop.do("POST", "/slow").Code }()
	<-loaded
	n, err := m.DestroyOwner(context.Background(), "ada", nil)
	is.NoErr(err)
	is.Equal(n, 1)
	close(release)
	is.Equal(<-done, http.StatusConflict)                  // the slow request fails
	is.True(errors.Is(reported, chisess.ErrStaleSession))  // because its session is gone
	is.Equal(laptop.do("GET", "/owner").Body.String(), "") // and stays gone
}

func TestDestroySessionByHandle(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Backend: backend.NewMemoryWithCleanup(0)})
	r := ownerRouter(t, m)
	a, b := newClient(t, m, r), newClient(t, m, r)
	a.do("POST", "/login?user=ada&device=a")
	b.do("POST", "/login?user=bob&device=b")
	ctx := context.Background()
	bobs, err := m.Sessions(ctx, "bob")
	is.NoErr(err)
	is.NoErr(m.DestroySession(ctx, "ada", bobs[0].Handle)) // a handle of another owner...
	is.Equal(b.do("GET", "/owner").Body.String(), "bob")   // ...ends nothing
	is.NoErr(m.DestroySession(ctx, "bob", bobs[0].Handle))
	is.Equal(b.do("GET", "/owner").Body.String(), "") // the right owner's handle ends it
}

func TestOwnerIndexNeedsIndexer(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Secret: testSecret})
	_, err := m.Sessions(context.Background(), "ada")
	is.True(errors.Is(err, chisess.ErrNoOwnerIndex)) // the cookie backend cannot list sessions
}

// Sessions ended through the owner index are reported like any other end,
// under the same hash the session had when it was created.
func TestDestroyOwnerReportsEvents(t *testing.T) {
	is := is.New(t)
	log := &eventLog{}
	m := newManager(t, chisess.Config{Backend: backend.NewMemoryWithCleanup(0), OnEvent: log.hook})
	r := ownerRouter(t, m)
	laptop := newClient(t, m, r)
	laptop.do("POST", "/login?user=ada&device=laptop")
	var created string
	for _, e := range log.all() {
		if e.Kind == chisess.EventCreated {
			created = e.Session
		}
	}
	is.True(created != "") // the login created a session
	log.take()

	n, err := m.DestroyOwner(context.Background(), "ada", nil)
	is.NoErr(err)
	is.Equal(n, 1)
	evs := log.all()
	is.Equal(len(evs), 1)
	is.Equal(evs[0].Kind, chisess.EventDestroyed) // the end is reported
	is.Equal(evs[0].Session, created)             // under the session's own hash
}
