package chisess_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/matryer/is"
)

func TestRememberMe(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			cfg := tm.cfg
			cfg.IdleTimeout = time.Hour
			m := newManager(t, cfg)
			r := newRouter(t, m)
			r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
				s := chisess.From(r.Context())
				s.Set("user", "ada")
				s.RememberMe(r.URL.Query().Get("remember") == "1")
			})
			r.With(chisess.Autoload).Post("/forget", func(w http.ResponseWriter, r *http.Request) {
				chisess.From(r.Context()).RememberMe(false)
			})

			plain := newClient(t, m, r)
			rec := plain.do("POST", "/login")
			is.Equal(mustSetCookie(t, rec, m.CookieName()).MaxAge, 0) // without remember-me: a browser-session cookie

			kept := newClient(t, m, r)
			rec = kept.do("POST", "/login?remember=1")
			is.Equal(mustSetCookie(t, rec, m.CookieName()).MaxAge, int((30 * 24 * time.Hour).Seconds())) // remembered: persists for RememberFor

			time.Sleep(2 * time.Hour)                             // longer than IdleTimeout
			is.Equal(plain.do("GET", "/read").Body.String(), "0") // the plain session idled out
			s, err := m.Inspect(t.Context(), kept.cookie)
			is.NoErr(err) // the remembered one did not
			is.True(s.Remembered())

			rec = kept.do("POST", "/forget")
			is.Equal(mustSetCookie(t, rec, m.CookieName()).MaxAge, 0) // forgetting turns it back into a browser-session cookie
		})
	})
}

func TestRememberForValidated(t *testing.T) {
	is := is.New(t)
	_, err := chisess.New(chisess.Config{Secret: testSecret, RememberFor: -time.Hour})
	is.True(errors.Is(err, chisess.ErrInvalidConfig)) // a negative RememberFor is refused
	is.True(strings.Contains(err.Error(), "Config.RememberFor"))
}
