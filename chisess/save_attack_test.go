package chisess_test

// Attacks on the promises of Session.Save, each quoting the promise it
// tries to break; each failed on the version it was written against unless
// it says it held.

import (
	"context"
	"errors"
	"io"
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
// Max-Age, as an API client under TokenHeader (which has no Max-Age) does.
// It failed when Save judged the refresh due by the configured window (a
// minute, from Lifetime) rather than the session's own (4.5 seconds): no
// Save recorded a use, and the session ended 45 seconds into the stream.
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

// guide, "Saving after the response started": "Outside Save, a change after
// the first byte is still refused with ErrResponseStarted", and "Calls may
// come from several goroutines; they run one at a time"; design: "A change
// after the commit is an error (logged and reported), never a silent
// drop."
//
// One goroutine of a stream runs a Save whose change fails; meanwhile the
// handler's own goroutine, outside any Save, sets a key. It failed when
// the session took every change as part of the running Save while one ran:
// the handler's Set returned nil, and the failed Save then undid it, so a
// change reported as made was dropped without a word.
func TestChangeOutsideSaveWhileAnotherGoroutineSaves(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m, login, r := inLobby(t, tm.cfg)
		refused := errors.New("not that room")
		var outside, saveErr error
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "started")
			s := chisess.From(r.Context())
			entered, proceed, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				saveErr = s.Save(r.Context(), func(s *chisess.Session) error {
					close(entered)
					<-proceed
					return refused
				})
			}()
			<-entered
			outside = s.Set("lamp", "on") // the handler's goroutine, outside any Save
			close(proceed)
			<-done
		})
		send(r, "GET", "/", login.Name, login.Value)
		is.True(errors.Is(saveErr, refused)) // the Save's change failed
		if outside == nil {
			s, err := m.Inspect(context.Background(), login.Value)
			is.NoErr(err)
			is.True(s.Has("lamp")) // a Set that returned nil must not be dropped
		}
		is.True(errors.Is(outside, chisess.ErrResponseStarted)) // a change outside Save is refused after the first byte
	})
}

// A Save inside a Save's change on the session the change is given, which
// once waited for itself for ever. After the response started it returns
// ErrResponseStarted and saves nothing, and the outer Save goes on; before,
// it runs as any change does, and the commit saves both.
func TestSaveInsideASavesChange(t *testing.T) {
	tests := []struct {
		name      string
		each      func(*testing.T, func(*testing.T, mode))
		started   bool
		wantInner error
	}{
		{"after the first byte", forEachServerMode, true, chisess.ErrResponseStarted},
		{"before the first byte", forEachMode, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.each(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m, login, r := inLobby(t, tm.cfg)
				var inner, outer error
				r.Get("/", func(w http.ResponseWriter, r *http.Request) {
					if tt.started {
						io.WriteString(w, "started")
					}
					outer = chisess.From(r.Context()).Save(r.Context(), func(s *chisess.Session) error {
						inner = s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("lamp", "on") })
						return s.Set("room", "kitchen")
					})
				})
				rec := send(r, "GET", "/", login.Name, login.Value)
				is.Equal(errors.Is(inner, chisess.ErrResponseStarted), tt.wantInner != nil)
				is.Equal(inner == nil, tt.wantInner == nil)
				is.NoErr(outer)
				value := login.Value
				for _, c := range rec.Result().Cookies() {
					if c.Name == login.Name {
						value = c.Value // the cookie backend seals the change into a new cookie
					}
				}
				s, err := m.Inspect(context.Background(), value)
				is.NoErr(err)
				room, _ := chisess.Get[string](s, "room")
				is.Equal(room, "kitchen")                    // the outer change saved
				is.Equal(s.Has("lamp"), tt.wantInner == nil) // the inner one with it, or not at all
			})
		})
	}
}
