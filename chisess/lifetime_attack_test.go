package chisess_test

// Attacks on the promises of Session.SetLifetime, each quoting the promise
// it tries to break; each failed on the first version of the feature (the
// second paragraph says how) unless it says it held.

import (
	"math"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
)

// guide.md, "A lifetime of the session's own": "asking for a
// browser-session cookie never makes a session live longer."
//
// It failed when SetLifetime(0) counted the configured lifetime from the
// call, not from the session's creation: a session created under Lifetime
// 2h that asked for a browser-session cookie at 1h50m lived to 3h50m.
func TestBrowserSessionNeverLivesLonger(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = 2 * time.Hour
		_, c := newLifetimeApp(t, cfg) // created now, with visits 1
		time.Sleep(110 * time.Minute)
		is.Equal(c.do("POST", "/lifetime?d=0s").Code, http.StatusOK)
		time.Sleep(15 * time.Minute)                      // 2h05m after creation: past the configured lifetime
		is.Equal(c.do("GET", "/read").Body.String(), "0") // the session must be over, as it would be without SetLifetime(0)
	})
}

// lifetime.go: "When concurrent requests change the lifetime, the last to
// commit wins; a request that changes only values leaves it as it is", and
// "the cookie's Max-Age matches it"; guide: "A d of zero makes the cookie a
// browser-session cookie, dropped when the browser closes" (the kiosk).
//
// With Rolling, a read-only request B loads the session before A's
// SetLifetime(0) commits, and records the last use after it. It failed
// when B answered with a Set-Cookie built from its stale copy: a
// persistent Max-Age of the configured lifetime, so that the cookie
// outlived the browser session A asked for.
func TestConcurrentTouchKeepsBrowserSessionCookie(t *testing.T) {
	forEachServerModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = time.Hour
		cfg.Rolling = true
		m := newManager(t, cfg)
		a := newHeldApp(t, m)
		c := a.c
		c.do("GET", "/")            // visits 1, a persistent cookie of an hour
		time.Sleep(2 * time.Minute) // the last use is due to be recorded

		done := a.start("GET", "/read")       // B: a page view, loaded now
		rec := c.do("POST", "/lifetime?d=0s") // A: the kiosk asks for a browser-session cookie
		is.Equal(maxAge(t, rec, m.CookieName()), time.Duration(0))
		a.release()
		b := <-done
		is.Equal(b.Body.String(), "1")
		if sc := setCookie(b, m.CookieName()); sc != nil {
			is.Equal(sc.MaxAge, 0) // B must not make the cookie persistent again
		}
	})
}

// SetLifetime: "A d longer than Config.MaxLifetime is cut to it", and
// record.go: "a record it cannot read in full is malformed to it, never
// misread"; errors.go: "What a commit saves is always within the limits, so
// it can always be read back."
//
// With MaxLifetime at the longest Duration (an app that "turns it off"),
// SetLifetime(math.MaxInt64) once rounded the lifetime up to a millisecond
// past the longest a record may carry: the commit wrote a record that the
// next request refused, and the session was gone.
func TestLongestLifetimeReadsBack(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.MaxLifetime = math.MaxInt64
		_, c := newLifetimeApp(t, cfg)
		rec := c.do("POST", "/lifetime?d=2562047h47m16.854775807s") // math.MaxInt64; with 16.854s (a whole ms) it reads back
		is.Equal(rec.Code, http.StatusOK)
		is.Equal(c.do("GET", "/read").Body.String(), "1") // the session lives on
	})
}

// guide.md, "Expires beside Max-Age": "a later response (a change, a new
// token) names the same instant, or a later one with Rolling."
//
// It failed when Max-Age was rounded to the second from each response's
// now and Expires was now+Max-Age truncated: two responses 600ms apart
// named instants a second apart.
func TestExpiresSameInstantAcrossResponses(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = 2 * time.Hour
		m := newManager(t, cfg)
		c := newClient(t, m, lifetimeRouter(t, m))
		first := mustSetCookie(t, c.do("GET", "/"), m.CookieName())
		time.Sleep(600 * time.Millisecond)
		second := mustSetCookie(t, c.do("GET", "/"), m.CookieName()) // a change: visits 2
		is.Equal(second.Expires, first.Expires)                      // the same instant
	})
}

// Destroy drops the lifetime, and a session created after it in the
// same request has the configured one; SetLifetime after Destroy in the
// same request applies to the new session.
func TestDestroyThenSetLifetime(t *testing.T) {
	forEachModeSynced(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.Lifetime = time.Hour
		m := newManager(t, cfg)
		r := lifetimeRouter(t, m)
		r.Post("/relogin", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			is.NoErr(s.SetLifetime(10 * time.Minute))
			is.NoErr(s.Destroy())
			is.NoErr(s.Set("visits", 7))
			is.Equal(s.Lifetime(), time.Hour)
			is.NoErr(s.SetLifetime(5 * time.Minute))
		}))
		c := newClient(t, m, r)
		c.do("GET", "/")
		rec := c.do("POST", "/relogin")
		is.Equal(maxAge(t, rec, m.CookieName()), 5*time.Minute)
		is.Equal(c.do("GET", "/lifetime").Body.String(), "5m0s 5m0s")
	})
}

// Request B loads the session and is held; A gives it a lifetime of its
// own and commits; B, which changed only values, commits after. On a
// server-side backend B's merge keeps A's lifetime; on the cookie backend
// the last response the browser receives wins, B's sealed copy included,
// as the guide's rules table and SetLifetime's doc say.
func TestLifetimeAgainstAConcurrentValuesOnlyRequest(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  chisess.Config
		want time.Duration
	}{
		{"memory", chisess.Config{Backend: backend.NewMemory(), Lifetime: time.Hour, Insecure: true}, 10 * time.Minute},
		{"cookie", chisess.Config{Secret: testSecret, Lifetime: time.Hour}, time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				m := newManager(t, tt.cfg)
				a := newHeldApp(t, m)
				c := a.c
				c.do("GET", "/")
				done := a.start("GET", "/")     // B: visits 2
				c.do("POST", "/lifetime?d=10m") // A commits first
				a.release()
				b := <-done
				s, err := m.Inspect(t.Context(), mustSetCookie(t, b, m.CookieName()).Value)
				is.NoErr(err)
				is.Equal(s.Lifetime(), tt.want) // server-side: B changed only values, the lifetime stays; cookie: B's copy wins
			})
		})
	}
}

// A session given a 60-day lifetime under one config is read by a manager
// whose MaxLifetime is 30 days (a config lowered after the fact, or
// another app server on the newer config): Lifetime reports no more than
// that manager's cap, as ExpiresAt does.
func TestLifetimeReportedWithinTheReadersMaxLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		store := backend.NewMemory()
		t.Cleanup(func() { store.Close() })
		long, c := newLifetimeApp(t, chisess.Config{Backend: store, Insecure: true, MaxLifetime: 90 * 24 * time.Hour})
		is.Equal(c.do("POST", "/lifetime?d=1440h").Code, http.StatusOK)
		s, err := long.Inspect(t.Context(), c.cookie)
		is.NoErr(err)
		is.Equal(s.Lifetime(), 60*24*time.Hour) // the writer sees the 60 days

		short := newManager(t, chisess.Config{Backend: store, Insecure: true, CookieName: long.CookieName(), MaxLifetime: 30 * 24 * time.Hour})
		s, err = short.Inspect(t.Context(), c.cookie)
		is.NoErr(err)
		is.Equal(s.Lifetime(), 30*24*time.Hour)                            // the reader reports its own cap
		is.True(!s.ExpiresAt().After(time.Now().Add(30 * 24 * time.Hour))) // and ends the session there
	})
}

// lifetime.go: "The lifetime stays through token renewals", and the guide:
// "The lifetime is stored in the session's record (in the sealed cookie
// with the cookie backend)"; Config.PreviousSecrets: "older secrets that
// still open cookies but never seal new ones".
//
// A cookie sealed with a lifetime of its own under the old secret is
// opened after a rotation, and sealed again with the new secret by a
// request that only reads it: its lifetime, Max-Age and end stay. HOLDS.
func TestLifetimeAcrossASecretRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		const oldSecret = testSecret + "-old"
		old, c := newLifetimeApp(t, chisess.Config{Secret: oldSecret, Lifetime: time.Hour})
		is.Equal(c.do("POST", "/lifetime?d=10m").Code, http.StatusOK)
		time.Sleep(2 * time.Minute)

		rotated := newManager(t, chisess.Config{Secret: testSecret, PreviousSecrets: []string{oldSecret}, Lifetime: time.Hour})
		c = newClient(t, rotated, lifetimeRouter(t, rotated)).withCookie(c.cookie)
		rec := c.do("GET", "/read")
		is.Equal(rec.Body.String(), "1")
		is.Equal(maxAge(t, rec, rotated.CookieName()), 8*time.Minute) // sealed again, still ten minutes from when it was set
		_, err := old.Inspect(t.Context(), c.cookie)
		is.True(err != nil) // with the new secret only
		is.Equal(c.do("GET", "/lifetime").Body.String(), "10m0s 8m0s")
		endsIn(t, c, 8*time.Minute)
	})
}
