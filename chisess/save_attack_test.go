package chisess_test

// Attacks on the promises of Session.Save, each quoting the promise it
// tries to break; each failed on the version it was written against unless
// it says it held.

import (
	"net/http"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
)

// save.go: "a Save with a nil change records the session's last use when
// the IdleTimeout or Rolling refresh is due, which keeps a long-lived
// connection's session alive"; guide, "The refresh throttle": "for a
// session with a lifetime of its own and Rolling, the shorter of that
// lifetime and IdleTimeout" is the window.
//
// A kiosk session given 45 seconds with Rolling streams, and calls
// Save(nil) every 20 seconds; its client keeps the token past the cookie's
// Max-Age, as an API client under TokenHeader (which has no Max-Age) does. It failed when Save judged the refresh due by
// the configured window (a minute, from Lifetime) rather than the
// session's own (4.5 seconds): no Save recorded a use, and the session
// ended 45 seconds into the stream.
func TestSaveKeepsARollingSessionOfItsOwnLifetimeAlive(t *testing.T) {
	forEachServerModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = time.Hour
		cfg.Rolling = true
		m := newManager(t, cfg)
		r := lifetimeRouter(t, m)
		var errs []error
		r.Get("/stream", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			w.WriteHeader(http.StatusOK)
			for range 4 {
				time.Sleep(20 * time.Second)
				errs = append(errs, s.Save(r.Context(), nil))
			}
		}))
		c := newClient(t, m, r)
		c.do("GET", "/")                                     // visits 1
		c.do("POST", "/lifetime?d=45s")                      // the kiosk's lifetime, rolling
		is.Equal(c.do("GET", "/stream").Code, http.StatusOK) // 80 seconds of stream
		for _, err := range errs {
			is.NoErr(err) // every Save(nil) went through
		}
		is.Equal(c.do("GET", "/read").Body.String(), "1") // last used 0 s ago by the stream's last Save: alive
	})
}
