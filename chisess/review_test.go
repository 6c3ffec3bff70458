package chisess_test

// Tests written by an outside review: each tries a promise of the docs the
// way an attacker or an unlucky deployment would, and fails while the
// promise does not hold.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testhook"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// A sibling subdomain (or a page over plain HTTP) that can toss cookies
// plants several cookies of the session's name, each for a deeper Path of
// the victim's URL, so that the browser sends all of them before the
// victim's own Path=/ cookie (RFC 6265 sorts longer paths first). chisess
// reads at most four cookies of the name (maxPresented), so with four
// planted the victim's cookie is never looked at:
//
//   - four dead planted values: the request is "rejected", and chisess
//     expires the cookie with Path=/, the victim's own: one visit to that
//     subtree logs the victim out;
//   - four copies of the attacker's own live token: the victim is served
//     the attacker's session.
//
// docs/security.md promises, whatever the name: "the one that leads to a
// live session is used; no cookie is expired because another of the same
// name was dead; two that lead to different live sessions are both
// ignored ..., so the victim never lands in the attacker's session". It
// should hold however many cookies are planted: when more cookies come
// than chisess will try, it should neither drop the cookie nor pick a
// session (treat it as ambiguous), or try them all.
//
// A browser refuses planted cookies named __Host-session, the default;
// the test sends the Cookie header itself, as a browser does for any name
// without the prefix (a Domain, a Path, or a CookieName of the app's).
func TestCookieTossingWithMoreCookiesThanAreRead(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		m := newManager(t, tm.cfg)
		h := newRouter(t, m)
		victim := newClient(t, m, h)
		victim.do("GET", "/")
		victim.do("GET", "/") // visits 2
		attacker := newClient(t, m, h)
		attacker.do("GET", "/") // visits 1: the attacker's own session
		name := m.CookieName()

		t.Run("dead planted cookies", func(t *testing.T) {
			is := is.New(t)
			rec := send(h, http.MethodGet, "/read", name, "dead1", "dead2", "dead3", "dead4", victim.cookie)
			is.Equal(setCookie(rec, name), nil) // no cookie is expired because others of the name were dead
			is.Equal(rec.Body.String(), "2")    // the cookie that leads to a session is used
		})
		t.Run("attacker's live cookies", func(t *testing.T) {
			is := is.New(t)
			a := attacker.cookie
			rec := send(h, http.MethodGet, "/read", name, a, a, a, a, victim.cookie)
			is.True(rec.Body.String() != "1") // never the attacker's session
		})
		t.Run("more planted cookies than are tried", func(t *testing.T) {
			is := is.New(t)
			values := []string{attacker.cookie}
			for i := range 20 {
				values = append(values, fmt.Sprint("dead", i))
			}
			rec := send(h, http.MethodGet, "/read", name, append(values, victim.cookie)...)
			is.Equal(rec.Body.String(), "0")    // neither the attacker's session nor a guess: a new one
			is.Equal(setCookie(rec, name), nil) // and nothing expired, the victim's cookie included
		})
	})
}

// reviewRouter is newRouter with the routes the review's tests need:
// ?owner= on /own ties the session to an owner (an account page that links
// the session to the user, or a login that keeps its token).
func reviewRouter(t *testing.T, m *chisess.Manager) *chi.Mux {
	r := newRouter(t, m)
	r.Post("/own", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if err := s.SetOwner(r.URL.Query().Get("owner")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	return r
}

// reindex promises (owner.go): "its failure fails the request: an
// unindexed session would escape 'log out everywhere'". Failing the
// request does not undo the write that came before the index call:
//
//   - SetOwner on a session the request loaded (same token): the record
//     with the owner is swapped in, Index fails, the response is an error
//     page, but the client still holds the token, the session is live with
//     its owner, and it is in no index. No later commit indexes it again
//     (reindex indexes only when the key, the owner or the flags change, or
//     with Rolling), so DestroyOwner ("log out everywhere", ASVS 7.4.2 when
//     an account is disabled) never finds it.
//   - a periodic renewal (RenewEvery) whose Index fails: the new record is
//     written and the old token's record is already the loadable forward
//     record, so the client, still holding the old token, follows it to
//     the new token on its next request. DestroyOwner finds the session
//     through the old key's forward record only for RenewGrace; after that
//     the session lives on, unindexed, until the next renewal.
//
// What should happen: a session that is live with an owner is always in
// that owner's index (or DestroyOwner ends it anyway): a failed index call
// should roll the write back, or be retried by the next commit.
func TestFailedIndexDoesNotLeaveOwnedSessionUnindexed(t *testing.T) {
	tests := []struct {
		name string
		cfg  chisess.Config
		// owned: the session is ada's (and indexed) before fail runs.
		owned bool
		// fail makes the client's session commit a write and then fail
		// to index it, and returns the response.
		fail func(c *client) *httptest.ResponseRecorder
	}{
		{"SetOwner on a loaded session", chisess.Config{}, false, func(c *client) *httptest.ResponseRecorder {
			return c.do("POST", "/own?owner=ada")
		}},
		{"periodic renewal", chisess.Config{RenewEvery: time.Minute}, true, func(c *client) *httptest.ResponseRecorder {
			time.Sleep(2 * time.Minute) // the token is due for renewal
			return c.do("GET", "/read")
		}},
	}
	// How the index call fails: with an error, or by outlasting
	// Config.Timeout (a backend slow under load), after which the
	// commit's context is done and cannot serve the clean-up.
	failures := []struct {
		name string
		arm  func(b *sessiontest.Backend)
	}{
		{"error", func(b *sessiontest.Backend) { b.FailNext("index", 1, errOutage) }},
		{"timeout", func(b *sessiontest.Backend) { b.Hold("index") }}, // never released: the call ends at its deadline
	}
	for _, tt := range tests {
		for _, f := range failures {
			t.Run(tt.name+", "+f.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					is := is.New(t)
					ctx := context.Background()
					b := sessiontest.NewBackend()
					cfg := tt.cfg
					cfg.Backend = b
					m := newManager(t, cfg)
					c := newClient(t, m, reviewRouter(t, m))
					c.do("GET", "/") // visits 1
					if tt.owned {
						is.Equal(c.do("POST", "/own?owner=ada").Code, http.StatusOK) // indexed under ada
					}

					f.arm(b)
					rec := tt.fail(c)
					is.True(rec.Code >= 500) // the request fails, as reindex promises

					c.do("GET", "/read")                                // the client goes on with the token it holds
					time.Sleep(chisess.DefaultRenewGrace + time.Second) // the old token's forward record expires
					_, err := m.DestroyOwner(ctx, "ada", nil)           // log out everywhere
					is.NoErr(err)
					s, err := m.Inspect(ctx, c.cookie)
					if err == nil {
						is.True(s.Owner() != "ada") // no session of ada's outlives "log out everywhere"
					}
				})
			})
		}
	}
}

// A login while signed in renews the token (RenewToken) and moves the
// session's owner-index entry from the old key to the new one; when the
// removal of the old entry fails (it is only logged: a stale entry is
// allowed), the index still lists the old key, whose forward record leads
// to the session under its new key. "Log out everywhere else" followed it
// there and ended the very session it keeps (a 1,000-user load run on a
// slow bbolt found "log out everywhere" ending one session more than the
// user had). The kept session must survive, nothing else of the owner's
// may, and "log out everywhere" (no keep) still ends it through the old
// key.
func TestDestroyOwnerKeepsKeepBehindAStaleIndexEntry(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			is := is.New(t)
			ctx := context.Background()
			b := sessiontest.NewBackend()
			m := newManager(t, chisess.Config{Backend: b})
			r := reviewRouter(t, m)
			r.With(chisess.RenewToken).Post("/login", func(w http.ResponseWriter, r *http.Request) {
				chisess.From(r.Context()).SetOwner("ada")
			})
			r.Post("/logout-everywhere", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				var k *chisess.Session
				if keep {
					k = s
				}
				n, err := m.DestroyOwner(r.Context(), "ada", k)
				if err != nil {
					chisess.Error(w, r, err)
					return
				}
				fmt.Fprint(w, n)
			}))
			laptop, phone := newClient(t, m, r), newClient(t, m, r)
			for _, c := range []*client{laptop, phone} {
				c.do("GET", "/")
				is.Equal(c.do("POST", "/login").Code, http.StatusOK) // signed in
			}
			b.FailNext("unindex", 1, errOutage)
			is.Equal(laptop.do("POST", "/login").Code, http.StatusOK) // signed in again; the old entry stays

			rec := laptop.do("POST", "/logout-everywhere")
			is.Equal(rec.Code, http.StatusOK)
			_, err := m.Inspect(ctx, phone.cookie)
			is.True(errors.Is(err, chisess.ErrUnknownSession)) // the phone is logged out
			_, err = m.Inspect(ctx, laptop.cookie)
			if keep {
				is.NoErr(err)                    // the laptop keeps its session
				is.Equal(rec.Body.String(), "1") // and only the phone's was ended
			} else {
				is.True(errors.Is(err, chisess.ErrUnknownSession)) // everywhere: the laptop's too
				is.Equal(rec.Body.String(), "2")                   // two sessions, each once
			}
		})
	}
}

// "Log out everywhere else" (DestroyOwner with keep) skips keep's key as
// keep loaded it, and its key now. When another request of the same
// browser (a parallel fetch, a second tab) renews the token by age
// (RenewEvery) between keep's load and the DestroyOwner call, the owner
// index lists the session under the renewal's new key, which is neither,
// so DestroyOwner ends the very session it was told to keep: the user who
// clicked "log out my other devices" is logged out too, and keep's own
// commit fails with ErrStaleSession.
//
// What should happen: DestroyOwner "ends every live session of the owner
// except keep", wherever renewals have moved keep (it can follow keep's
// forward records, as a logout does).
func TestDestroyOwnerKeepsKeepAcrossAConcurrentRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx := context.Background()
		m := newManager(t, chisess.Config{Backend: sessiontest.NewBackend(), RenewEvery: time.Minute})
		r := reviewRouter(t, m)
		loadedGate, goOn := make(chan struct{}), make(chan struct{})
		r.Post("/logout-others", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			close(loadedGate)
			<-goOn
			if _, err := m.DestroyOwner(r.Context(), "ada", s); err != nil {
				chisess.Error(w, r, err)
			}
		}))
		phone, laptop := newClient(t, m, r), newClient(t, m, r)
		for _, c := range []*client{phone, laptop} {
			c.do("GET", "/")
			is.Equal(c.do("POST", "/own?owner=ada").Code, http.StatusOK)
		}
		time.Sleep(2 * time.Minute) // the laptop's token is due for renewal

		done := make(chan *httptest.ResponseRecorder)
		token := laptop.cookie
		go func() { done <- send(r, "POST", "/logout-others", laptop.name, token) }()
		<-loadedGate
		laptop.do("GET", "/read") // a parallel request of the laptop renews its token
		close(goOn)
		rec := <-done

		is.Equal(rec.Code, http.StatusOK)                      // log out everywhere else
		is.Equal(laptop.do("GET", "/read").Body.String(), "1") // the laptop keeps its session
		_, err := m.Inspect(ctx, phone.cookie)
		is.True(errors.Is(err, chisess.ErrUnknownSession)) // the phone's is ended
	})
}

// When DestroyOwner (or DestroySession) follows an old key's forward
// record to a session that has changed owner meanwhile, it rightly leaves
// that session alone, but still deletes the forward records it passed
// (endFrom returns them on an owner mismatch, destroyKeyOf drops them).
// Those records are how a logout that loaded the session under the old
// token finds it (Session.end): with them gone, the logout finds nothing
// under its key, and having loaded less than RenewGrace/2 ago it answers
// 200 as if the session had ended, while it lives on under the new token.
//
// The interleaving: the browser's logout request loads the session
// (alice's, token T0); a login as bob in the same browser commits
// RenewToken + SetOwner(bob) (T0 → T1), and while it is between indexing
// T1 under bob and unindexing T0 from alice, an admin disables alice
// (DestroyOwner(alice)), which lists T0's key; then the logout commits.
//
// docs/guide.md: a logout "ends the session where it lives now. If it
// cannot tell ..., it fails with ErrStaleSession: a logout never answers
// 2xx while the session lives on". What should happen: the logout ends the
// session under T1, or fails. A forward record that leads to a live
// session should not be dropped (one line: return ending{} instead of
// ending{passed: e.passed} on the owner mismatch in endFrom).
func TestDestroyOwnerOfPreviousOwnerDoesNotBlindALogout(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{Backend: b})
	r := reviewRouter(t, m)
	logoutLoaded, goOn := make(chan struct{}), make(chan struct{})
	r.Post("/logout", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		close(logoutLoaded)
		<-goOn
		if err := s.Destroy(); err != nil {
			chisess.Error(w, r, err)
		}
	}))
	r.With(chisess.RenewToken).Post("/login-as-bob", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).SetOwner("bob")
	})
	browser := newClient(t, m, r)
	browser.do("GET", "/")
	is.Equal(browser.do("POST", "/own?owner=alice").Code, http.StatusOK)
	t0 := browser.cookie

	logout := make(chan *httptest.ResponseRecorder)
	go func() { logout <- send(r, "POST", "/logout", browser.name, t0) }()
	<-logoutLoaded

	g := b.Hold("unindex") // the login, between indexing T1 and unindexing T0
	login := make(chan *httptest.ResponseRecorder)
	go func() { login <- send(r, "POST", "/login-as-bob", browser.name, t0) }()
	<-g.Reached()
	n, err := m.DestroyOwner(ctx, "alice", nil) // alice's account is disabled
	is.NoErr(err)
	is.Equal(n, 0) // the session is bob's now: left alone
	g.Release()
	t1 := mustSetCookie(t, <-login, browser.name).Value

	close(goOn)
	rec := <-logout
	if rec.Code < 300 { // the logout says it worked
		_, err := m.Inspect(ctx, t1)
		is.True(errors.Is(err, chisess.ErrUnknownSession)) // so the session must be over
	}
}

// docs/security.md tells operators to "lower the limits for your app".
// Sessions stored before the limit was lowered stay over it, and on a
// server-side backend every commit that changes them is then refused with
// ErrTooLarge, even one that only makes them smaller: a Delete (which
// itself returns nil), taking the flash messages, a login's RenewToken.
// The commit checks the whole merged session against the limits, not
// whether this request's changes take it past them, so such a session is
// frozen (every change answers an error page) until it expires, up to
// MaxLifetime. The cookie backend has no such check at commit, so the same
// Delete goes through there: the limits are not "the same on every
// backend".
//
// What should happen: ErrTooLarge is documented for "a change [that]
// would take a session past" a limit, and for a commit whose merge with
// concurrent changes passes it; a change that leaves the session no
// larger than it was should be saved, on every backend.
func TestLoweredMaxKeysDoesNotFreezeSessionsAboveIt(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		before := newManager(t, tm.cfg) // the deployment before the limit was lowered
		cookie, err := before.Issue(context.Background(), map[string]any{"a": 1, "b": 2, "c": 3, "d": 4})
		is.NoErr(err)

		cfg := tm.cfg
		cfg.MaxKeys = 2
		after := newManager(t, cfg)
		r := newRouter(t, after)
		r.Post("/forget", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
			if err := s.Delete("a"); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		}))
		c := newClient(t, after, r).withCookie(cookie.Value)
		rec := c.do("POST", "/forget")
		is.Equal(rec.Code, http.StatusOK) // deleting a key is saved
		s, err := after.Inspect(context.Background(), c.cookie)
		is.NoErr(err)
		is.Equal(slices.Sorted(slices.Values(s.Keys())), []string{"b", "c", "d"}) // Issue sets its map's keys in no order
	})
}

// Config.ErrorHandler's documentation says "It may read the session, and
// render a page with the site's layout", the layout that shows pending
// flash messages (PeekFlashes, or Has("user") for the menu). The
// ErrorHandler also answers when *loading* fails (Autoload, Require and
// RenewToken report a backend outage through it), and then the session is
// not loaded, so every reader panics with "session not loaded": the error
// page of a backend outage is a panic, turned into a bare 500 (or a
// dropped connection) by whatever recovers it.
//
// What should happen: a documented way to render the error page works for
// every error it is given: readers of an unloaded session in the
// ErrorHandler return the empty session (or the doc says to check
// Session.Loaded first, and the error page of the guide does).
func TestErrorHandlerMayReadTheSessionWhenLoadingFailed(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{
		Backend: b,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The site layout shows pending messages, when there is a
			// loaded session to read them from: as Config.ErrorHandler
			// says, after a failed load there is none.
			var flashes []chisess.Flash
			if s := chisess.From(r.Context()); s.Loaded() {
				flashes = s.PeekFlashes()
			}
			http.Error(w, fmt.Sprintf("try again later (%d messages)", len(flashes)), http.StatusServiceUnavailable)
		},
	})
	r := chi.NewRouter()
	r.Use(recoverAs(599), chisess.Load(m), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("visits", 1)
	})
	c := newClient(t, m, r)
	c.do("GET", "/")

	b.FailNext("read", 1, errOutage)
	is.Equal(c.do("GET", "/").Code, http.StatusServiceUnavailable) // the ErrorHandler's page, not a panic
}

// recoverAs answers code when the handler panics, as a Recoverer does.
func recoverAs(code int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if recover() != nil {
					w.WriteHeader(code)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// The same hole as TestFailedIndexDoesNotLeaveOwnedSessionUnindexed, by the
// path where it is deliberate: with Rolling, an idle refresh (touch) moves
// the session's end and re-indexes it, and a failed Index there is only
// logged ("a failed refresh ... costs at most some idle time"). It costs
// more: the index entry keeps its old end, the session its new one, and
// once the entry has expired DestroyOwner no longer finds a session that
// is live. The Indexer contract says the index "must never miss a live
// one".
//
// What should happen: DestroyOwner ends every live session of the owner.
// A touch whose Index fails should fail too, or not move the session's end
// beyond its index entry's.
func TestFailedIndexOnRollingRefreshDoesNotHideTheSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx := context.Background()
		b := sessiontest.NewBackend()
		m := newManager(t, chisess.Config{Backend: b, Lifetime: time.Hour, Rolling: true})
		c := newClient(t, m, reviewRouter(t, m))
		c.do("GET", "/")
		is.Equal(c.do("POST", "/own?owner=ada").Code, http.StatusOK) // indexed for an hour

		time.Sleep(50 * time.Minute)
		b.FailNext("index", 1, errOutage)
		is.Equal(c.do("GET", "/read").Body.String(), "1") // the refresh moves the end to 1h50
		time.Sleep(15 * time.Minute)                      // 1h05: the index entry has expired

		_, err := m.DestroyOwner(ctx, "ada", nil)
		is.NoErr(err)
		_, err = m.Inspect(ctx, c.cookie)
		is.True(errors.Is(err, chisess.ErrUnknownSession)) // ada's session is over
	})
}

// Config.RenewEvery renews a token "on the next request that uses it",
// whatever that request is. When it is a connection upgrade (a WebSocket
// handshake that loads the session to authenticate the socket, then
// hijacks), the commit at Hijack moves the session to a new token, but the
// hijacked response never carries chisess's Set-Cookie (documented), so
// the client keeps the old token, which leads on only for RenewGrace. The
// handler never asked for a new token (the Hijack doc only warns handlers
// not to change it themselves), yet an app that talks over the socket for
// more than RenewGrace (30 s) finds its user logged out at the next page
// load.
//
// What should happen: a response that cannot carry the new token does not
// get one: the periodic renewal waits for a response that can (or the
// client can still follow the old token after RenewGrace).
func TestPeriodicRenewalIsNotLostOnAHijackedResponse(t *testing.T) {
	for _, hj := range hijackers {
		t.Run(hj.name, func(t *testing.T) {
			is := is.New(t)
			clk := testclock.New()
			m := newManager(t, chisess.Config{Backend: sessiontest.NewBackend(), RenewEvery: time.Minute})
			testhook.SetClock(m, clk.Now)
			r := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				s.Set("k", "v")
			}))
			r.Get("/socket", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				if !s.Has("k") {
					http.Error(w, "sign in first", http.StatusUnauthorized)
					return
				}
				conn, brw, err := hj.hijack(w)
				if err != nil {
					return
				}
				defer conn.Close()
				brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsocket")
				brw.Flush()
			}))
			ts := writerServer(t, r, false)
			res, _ := serverGet(t, ts, m.CookieName(), "/set", "")
			token := responseCookie(res, m.CookieName()).Value

			clk.Add(2 * time.Minute) // the token is due for renewal
			res, body := serverGet(t, ts, m.CookieName(), "/socket", token)
			is.Equal(body, "socket")                           // the socket is open
			is.Equal(responseCookie(res, m.CookieName()), nil) // and the client has no new token

			clk.Add(chisess.DefaultRenewGrace + time.Second) // the user works over the socket for a while
			_, body = serverGet(t, ts, m.CookieName(), "/get", token)
			is.Equal(body, "v") // and is still signed in at the next page load
		})
	}
}

// docs/guide.md: a refused change (ErrTooLarge, ...) may be passed "to
// chisess.Error", and an ErrorHandler that answers it with its own status
// (413 for ErrTooLarge, 400 for bad input) writes that response through
// chisess's writer, which commits the session first. When that commit
// fails (a backend outage, a logout that raced the request: ErrStaleSession),
// the failure is reported while the ErrorHandler is already running, so
// Manager.fail only logs it ("no error path can recurse"); but the commit
// failure has also swallowed the ErrorHandler's own response (its
// WriteHeader and Write return ErrResponseReplaced), and nobody answers:
// net/http sends an empty 200 OK for a request whose change was not saved.
//
// What should happen: "a failed save becomes an error response instead
// of a 200 with lost changes": when the nested failure cannot run the
// ErrorHandler again, chisess should answer it itself (the default 500),
// or let the outer ErrorHandler's response through.
func TestFailedSaveInsideErrorHandlerIsNotA200(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{
		Backend:      b,
		MaxValueSize: 100,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			code := http.StatusInternalServerError
			switch {
			case errors.Is(err, chisess.ErrTooLarge):
				code = http.StatusRequestEntityTooLarge
			case errors.Is(err, chisess.ErrStaleSession):
				code = http.StatusConflict
			}
			http.Error(w, http.StatusText(code), code)
		},
	})
	r := newRouter(t, m)
	r.Post("/note", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		if err := errors.Join(s.Set("cart", "tea"), s.Set("note", strings.Repeat("x", 200))); err != nil {
			chisess.Error(w, r, err) // as the guide says: pass it to chisess.Error
		}
	}))
	c := newClient(t, m, r)
	c.do("GET", "/") // a session

	b.FailNext("swap", 1, errOutage) // the save of "cart" fails
	rec := c.do("POST", "/note")
	is.True(rec.Code >= 400) // an error response, never a 200 for a change that was not saved
}

// With two cookies of the session's name that lead to different live
// sessions (one planted by a sibling subdomain, for a name without the
// __Host- prefix), chisess uses neither (ReasonAmbiguous). When that
// request is the victim's logout, Destroy returns nil, the commit has
// nothing to end, the response is a 200 ("you have been signed out"), no
// cookie is dropped, and the victim's session lives on in the browser (on
// a shared computer, for the next person at it).
//
// What should happen: docs/guide.md, "a logout never answers 2xx while the
// session lives on". A logout on an ambiguous request should end the
// sessions the client presented (the client holds both tokens, and asked
// to log out), or fail (ErrStaleSession) rather than answer as if the
// logout had worked.
func TestLogoutWithAmbiguousCookiesEndsTheSessionOrFails(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		h := newRouter(t, m)
		victim, attacker := newClient(t, m, h), newClient(t, m, h)
		victim.do("GET", "/")
		attacker.do("GET", "/")

		rec := send(h, "POST", "/destroy", m.CookieName(), attacker.cookie, victim.cookie) // the victim logs out
		if rec.Code < 300 {
			_, err := m.Inspect(context.Background(), victim.cookie)
			is.True(errors.Is(err, chisess.ErrUnknownSession)) // a logout that answers 2xx has ended the victim's session
		}

		// The same behind more planted cookies than a load tries.
		again := newClient(t, m, h)
		again.do("GET", "/")
		values := []string{attacker.cookie}
		for i := range 20 {
			values = append(values, fmt.Sprint("dead", i))
		}
		rec = send(h, "POST", "/destroy", m.CookieName(), append(values, again.cookie)...)
		if rec.Code < 300 {
			_, err := m.Inspect(context.Background(), again.cookie)
			is.True(errors.Is(err, chisess.ErrUnknownSession)) // a logout that answers 2xx has ended the session
		}
	})
}
