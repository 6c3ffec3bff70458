package chisess_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/internal/testhook"
	"github.com/matryer/is"
)

// Flash messages come back in the order they were added even when the
// clock does not move between them (a coarse clock, or two requests in the
// same nanosecond). Found by the model checker: the queue order came from
// the time of each message alone, and ties were broken at random.
func TestFlashesKeepTheirOrderOnAStillClock(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		still := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		testhook.SetClock(m, func() time.Time { return still })
		r := newRouter(t, m)
		r.Post("/add", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			for _, msg := range r.URL.Query()["m"] {
				is.NoErr(s.AddFlash("info", msg))
			}
		}))
		r.Get("/show", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			flashes, err := s.Flashes()
			is.NoErr(err)
			for _, f := range flashes {
				fmt.Fprint(w, f.Message)
			}
		}))
		r.Get("/peek", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			for _, f := range s.PeekFlashes() {
				fmt.Fprint(w, f.Message)
			}
		}))
		c := newClient(t, m, r)
		c.do("POST", "/add?m=a&m=b&m=c&m=d")
		c.do("POST", "/add?m=e")
		is.Equal(c.do("GET", "/peek").Body.String(), "abcde") // PeekFlashes shows them, oldest first
		is.Equal(c.do("GET", "/show").Body.String(), "abcde") // and leaves them: Flashes takes them all, in the same order
		is.Equal(c.do("GET", "/show").Body.String(), "")      // once
	})
}
