package chisess_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// These tests hold Session.Save to its doc: after the response has started
// (a server-sent events stream, a hijacked WebSocket connection), a change
// made in Save is saved at once, returns the backend's error, merges with
// concurrent requests as the commit does, and never needs the headers that
// are gone; with the cookie backend it is a clear error.

// stream is a long-lived response that has started: it runs each change
// the test sends it in a Save, and answers with Save's error, until the
// test closes changes.
type stream struct {
	changes chan func(*chisess.Session) error
	errs    chan error
}

func newStream() *stream {
	return &stream{changes: make(chan func(*chisess.Session) error), errs: make(chan error)}
}

// save has the stream save change, and returns Save's error.
func (st *stream) save(change func(*chisess.Session) error) error {
	st.changes <- change
	return <-st.errs
}

// sse serves the stream as server-sent events: the first event goes out
// (and the session is committed with it) before any Save.
func (st *stream) sse(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	fmt.Fprint(w, "data: open\n\n")
	rc.Flush()
	for change := range st.changes {
		st.errs <- s.Save(r.Context(), change)
		fmt.Fprint(w, "data: saved\n\n")
		rc.Flush()
	}
}

// hijack serves the stream on a hijacked connection, as a WebSocket
// handler would: the commit runs at Hijack, and no response header can
// ever carry a cookie.
func (st *stream) hijack(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
	rw.Flush()
	for change := range st.changes {
		st.errs <- s.Save(r.Context(), change)
		rw.WriteString("saved\n")
		rw.Flush()
	}
}

// serveStream serves events at /events, beside the routes that more adds,
// on a router with m's Load and Autoload, through a test server.
func serveStream(t *testing.T, m *chisess.Manager, events http.HandlerFunc, more func(chi.Router)) (chi.Router, *httptest.Server) {
	r := chi.NewRouter()
	r.Use(chisess.Load(m), chisess.Autoload)
	r.Get("/events", events)
	if more != nil {
		more(r)
	}
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)
	return r, ts
}

// openStream starts a request to path on ts carrying the cookie, and
// returns once the response has started, with its status line and headers;
// end ends it.
func openStream(t *testing.T, ts *httptest.Server, path string, cookie *http.Cookie, st *stream) (firstLine string, header http.Header, end func()) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: app.test\r\nCookie: %s=%s\r\nConnection: close\r\n\r\n", path, cookie.Name, cookie.Value)
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "\r\n" {
			break
		}
		k, v, _ := strings.Cut(strings.TrimRight(l, "\r\n"), ": ")
		h.Add(k, v)
	}
	var once sync.Once
	end = func() {
		once.Do(func() {
			close(st.changes)
			io.Copy(io.Discard, br) // to the end of the response
			conn.Close()
		})
	}
	t.Cleanup(end) // before ts.Close, which waits for the handler
	return line, h, end
}

// A handler whose response has started saves changes with Save, and a
// second request sees each saved value while the first still streams,
// whether the stream is server-sent events or a hijacked connection (as a
// WebSocket is). Modelled on express-session's "req.session.save() should
// save session to store" (the store holds the change when save returns)
// and "should prevent end-of-request save" (the end of the request writes
// nothing more): each Save writes once, the end of the request never. With
// the cookie backend, whose cookie went out with the headers, every Save
// is ErrHeadersSent and nothing changes.
func TestSaveMidStream(t *testing.T) {
	kinds := []struct {
		name  string
		serve func(*stream) http.HandlerFunc
		first string // the response's first line
	}{
		{"server-sent events", func(st *stream) http.HandlerFunc { return st.sse }, "HTTP/1.1 200 OK\r\n"},
		{"hijacked connection", func(st *stream) http.HandlerFunc { return st.hijack }, "HTTP/1.1 101 Switching Protocols\r\n"},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m := newManager(t, tm.cfg)
				login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
				is.NoErr(err)
				st := newStream()
				r, ts := serveStream(t, m, k.serve(st), func(r chi.Router) {
					r.Get("/room", func(w http.ResponseWriter, r *http.Request) {
						room, _ := chisess.Get[string](chisess.From(r.Context()), "room")
						fmt.Fprint(w, room)
					})
				})
				room := func() string { return send(r, "GET", "/room", login.Name, login.Value).Body.String() }

				first, header, end := openStream(t, ts, "/events", login, st)
				is.Equal(first, k.first)
				is.Equal(header.Get("Set-Cookie"), "") // nothing changed before the first byte
				writes := tm.writes()
				for _, want := range []string{"lobby", "kitchen"} {
					err := st.save(func(s *chisess.Session) error { return s.Set("room", want) })
					if tm.b == nil {
						is.True(errors.Is(err, chisess.ErrHeadersSent))     // the cookie backend cannot save mid-stream
						is.True(errors.Is(err, chisess.ErrResponseStarted)) // and says so both ways
						is.Equal(room(), "")                                // and nothing changed
						continue
					}
					is.NoErr(err)
					is.Equal(room(), want) // a second request sees it while the stream goes on
				}
				if err := st.save(nil); tm.b == nil {
					is.True(errors.Is(err, chisess.ErrHeadersSent)) // the cookie backend: always
				} else {
					is.NoErr(err) // a Save with nothing to save
				}
				end()
				if tm.b != nil {
					is.Equal(tm.writes(), writes+2) // one write per Save that changed something, none at the end
				}
				s, err := m.Inspect(context.Background(), login.Value)
				is.NoErr(err)
				is.Equal(s.Keys(), append([]string{"user"}, map[bool][]string{true: {"room"}}[tm.b != nil]...)) // the client's token still leads to the session
			})
		})
	}
}

// Save returns the backend's error, wrapped, and nothing else hears of it
// (no ErrorHandler: the response has started). The session is as it was
// before the Save, and the same change saves on the next try. Modelled on
// scs v2.9.0's TestSessionManager_Commit, "with error committing to store".
func TestSaveReturnsTheBackendsError(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		var reported []error
		cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { reported = append(reported, err) }
		m, login, r := inLobby(t, cfg)
		var first, second error
		var seen string
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			io.WriteString(w, "started")
			tm.b.FailNext(tm.update, 1, errOutage)
			first = s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("room", "kitchen") })
			seen, _ = chisess.Get[string](s, "room")
			second = s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("room", "kitchen") })
		})
		rec := send(r, "GET", "/", login.Name, login.Value)
		is.True(errors.Is(first, errOutage)) // the backend's error, returned
		is.Equal(seen, "lobby")              // and the session as it was
		is.NoErr(second)                     // the next try saves
		is.Equal(len(reported), 0)           // nothing went to the ErrorHandler
		is.Equal(rec.Body.String(), "started")
		s, err := m.Inspect(context.Background(), login.Value)
		is.NoErr(err)
		v, _ := chisess.Get[string](s, "room")
		is.Equal(v, "kitchen")
	})
}

// What Save cannot do after the response started, because it would need a
// cookie or a new token the client can no longer get, it refuses with
// ErrHeadersSent (and ErrResponseStarted), saving nothing: the session
// keeps what it had, and a plain change after it still saves. Outside
// Save, a change after the first byte is refused as before. The contrary
// of scs v2.9.0's TestSessionManager_Commit, "with empty token", where a
// commit by hand mints a token the client never gets: a request whose
// token leads nowhere (a planted one) is a new session, refused too.
func TestSaveRefusesWhatNeedsTheHeaders(t *testing.T) {
	tests := []struct {
		name    string
		issue   bool   // the request carries a live session
		planted string // else, the token it carries, if any
		change  func(*chisess.Session) error
	}{
		{"RenewToken", true, "", func(s *chisess.Session) error { return s.RenewToken() }},
		{"RememberMe", true, "", func(s *chisess.Session) error { return s.RememberMe(true) }},
		{"SetLifetime", true, "", func(s *chisess.Session) error { return s.SetLifetime(time.Minute) }},
		{"SetLifetime(0)", true, "", func(s *chisess.Session) error { return s.SetLifetime(0) }},
		{"ResetLifetime", true, "", func(s *chisess.Session) error { return s.ResetLifetime() }},
		{"values after Destroy", true, "", func(s *chisess.Session) error {
			return errors.Join(s.Destroy(), s.Set("flash", "bye"))
		}},
		{"a new session", false, "", func(s *chisess.Session) error { return s.Set("room", "kitchen") }},
		{"a planted token", false, "planted-token-that-leads-nowhere", func(s *chisess.Session) error { return s.Set("room", "kitchen") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachServerMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m := newManager(t, tm.cfg)
				values := map[string]any{"room": "lobby"}
				if !tt.issue {
					values = nil
				}
				login, err := m.Issue(context.Background(), values)
				cookie := tt.planted
				if tt.issue {
					is.NoErr(err)
					cookie = login.Value
				}
				var refused, outside, after error
				var token, room string
				r := chi.NewRouter()
				r.Use(chisess.Load(m), chisess.Autoload)
				r.Get("/", func(w http.ResponseWriter, r *http.Request) {
					s := chisess.From(r.Context())
					io.WriteString(w, "started")
					before := tm.writes() + tm.deletes()
					refused = s.Save(r.Context(), tt.change)
					is.Equal(tm.writes()+tm.deletes(), before) // nothing was stored
					room, _ = chisess.Get[string](s, "room")
					token = s.Token()
					outside = s.Set("room", "hall")
					after = s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("seen", true) })
				})
				send(r, "GET", "/", m.CookieName(), cookie)
				is.True(errors.Is(refused, chisess.ErrHeadersSent))     // refused
				is.True(errors.Is(refused, chisess.ErrResponseStarted)) // as too late
				is.True(errors.Is(outside, chisess.ErrResponseStarted)) // a change outside Save is refused too
				if !tt.issue {
					is.Equal(room, "")                                // the new session is still empty
					is.True(errors.Is(after, chisess.ErrHeadersSent)) // and any value would need a token
					return
				}
				is.Equal(room, "lobby") // the session as it was
				is.Equal(token, cookie) // with the client's token
				is.NoErr(after)         // and a plain change after it saves
				s, err := m.Inspect(context.Background(), cookie)
				is.NoErr(err)
				is.Equal(s.Keys(), []string{"room", "seen"})
				is.True(!s.Remembered())
			})
		})
	}
}

// Destroy in a Save ends the session on the server: its token leads
// nowhere (no cookie can be cleared, and the client's next request drops
// it); values set after it would need a new token.
func TestSaveDestroyEndsTheSession(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
		is.NoErr(err)
		var destroyed, after error
		var isNew bool
		r := chi.NewRouter()
		r.Use(chisess.Load(m), chisess.Autoload)
		r.Get("/ws", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			w.WriteHeader(http.StatusOK)
			destroyed = s.Save(r.Context(), func(s *chisess.Session) error { return s.Destroy() })
			isNew = s.IsNew()
			after = s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("flash", "bye") })
		})
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			u, _ := chisess.Get[string](chisess.From(r.Context()), "user")
			fmt.Fprint(w, u)
		})
		rec := send(r, "GET", "/ws", login.Name, login.Value)
		is.NoErr(destroyed)
		is.True(isNew)                                    // the session is a new, empty one now
		is.True(errors.Is(after, chisess.ErrHeadersSent)) // which cannot be stored mid-stream
		is.Equal(setCookie(rec, login.Name), nil)         // no cookie went out
		_, err = m.Inspect(context.Background(), login.Value)
		is.True(errors.Is(err, chisess.ErrUnknownSession)) // the session is over
		rec = send(r, "GET", "/me", login.Name, login.Value)
		is.Equal(rec.Body.String(), "") // the old cookie opens nothing
		drop := setCookie(rec, login.Name)
		is.True(drop != nil && drop.MaxAge < 0) // and is dropped by the next request
	})
}

// A Save merges with concurrent requests exactly as the commit does: a key
// another request saved meanwhile is kept, and a token another request
// ended meanwhile (a logout, or a login that renews it) is not brought back
// (ErrStaleSession, returned).
func TestSaveMergesWithConcurrentRequests(t *testing.T) {
	enders := []struct {
		name, path string
		renews     bool // the session lives on under a new token
	}{
		{"a logout", "/logout", false},
		{"a login that renews the token", "/login", true},
	}
	for _, e := range enders {
		t.Run(e.name, func(t *testing.T) {
			forEachServerMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m := newManager(t, tm.cfg)
				login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
				is.NoErr(err)
				st := newStream()
				r, ts := serveStream(t, m, st.sse, func(r chi.Router) {
					r.Post("/cart", func(w http.ResponseWriter, r *http.Request) { chisess.From(r.Context()).Set("cart", "tea") })
					r.Post("/logout", func(w http.ResponseWriter, r *http.Request) { chisess.From(r.Context()).Destroy() })
					r.Post("/login", func(w http.ResponseWriter, r *http.Request) { chisess.From(r.Context()).RenewToken() })
				})
				_, _, end := openStream(t, ts, "/events", login, st)
				defer end()

				is.Equal(send(r, "POST", "/cart", login.Name, login.Value).Code, http.StatusOK) // another request adds a key
				is.NoErr(st.save(func(s *chisess.Session) error { return s.Set("room", "lobby") }))
				s, err := m.Inspect(context.Background(), login.Value)
				is.NoErr(err)
				is.Equal(s.Keys(), []string{"user", "cart", "room"}) // both kept

				rec := send(r, "POST", e.path, login.Name, login.Value) // another request ends the stream's token
				is.Equal(rec.Code, http.StatusOK)
				err = st.save(func(s *chisess.Session) error { return s.Set("room", "kitchen") })
				is.True(errors.Is(err, chisess.ErrStaleSession)) // the Save says so
				_, err = m.Inspect(context.Background(), login.Value)
				is.True(errors.Is(err, chisess.ErrUnknownSession)) // and the token stays dead
				if !e.renews {
					is.Equal(tm.b.Len(), 0) // nothing was written back
					return
				}
				s, err = m.Inspect(context.Background(), mustSetCookie(t, rec, m.CookieName()).Value)
				is.NoErr(err)
				room, _ := chisess.Get[string](s, "room")
				is.Equal(room, "lobby") // the renewed session keeps the saved room, not the refused one
			})
		})
	}
}

// After a response that failed (a 5xx whose changes are not kept, or a
// commit that failed), Save saves nothing and says why; with
// KeepChangesOnServerError a 5xx stream saves.
func TestSaveAfterAFailedResponse(t *testing.T) {
	tests := []struct {
		name    string
		keep    bool
		fail    bool // the commit at the first byte fails
		wantErr bool
	}{
		{"5xx", false, false, true},
		{"5xx, changes kept", true, false, false},
		{"failed commit", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachServerMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				cfg.KeepChangesOnServerError = tt.keep
				var saveErr error
				cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					s := chisess.From(r.Context())
					saveErr = s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("room", "error page") })
					http.Error(w, "error", http.StatusServiceUnavailable)
				}
				m := newManager(t, cfg)
				login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
				is.NoErr(err)
				r := chi.NewRouter()
				r.Use(chisess.Load(m), chisess.Autoload)
				r.Get("/", func(w http.ResponseWriter, r *http.Request) {
					s := chisess.From(r.Context())
					if tt.fail {
						s.Set("x", 1)
						tm.b.FailNext(tm.update, 1, errOutage)
						w.WriteHeader(http.StatusOK) // the commit fails: the ErrorHandler tries to Save
						return
					}
					w.WriteHeader(http.StatusInternalServerError)
					saveErr = s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("room", "kitchen") })
				})
				send(r, "GET", "/", login.Name, login.Value)
				s, err := m.Inspect(context.Background(), login.Value)
				is.NoErr(err)
				if !tt.wantErr {
					is.NoErr(saveErr)
					is.Equal(s.Keys(), []string{"user", "room"})
					return
				}
				is.True(errors.Is(saveErr, chisess.ErrResponseStarted)) // refused, and said so
				is.Equal(s.Keys(), []string{"user"})                    // nothing saved
			})
		})
	}
}

// SetOwner in a Save keeps the owner index in step: the session is listed
// under its new owner, and no longer under the old one.
func TestSaveSetOwnerReindexes(t *testing.T) {
	is := is.New(t)
	tm := newMode("memory")
	m := newManager(t, tm.cfg)
	login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
	is.NoErr(err)
	r := chi.NewRouter()
	r.Use(chisess.Load(m), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		io.WriteString(w, "started")
		for _, owner := range []string{"ada", "bob"} {
			is.NoErr(s.Save(r.Context(), func(s *chisess.Session) error { return s.SetOwner(owner) }))
			list, err := m.Sessions(r.Context(), owner)
			is.NoErr(err)
			is.Equal(len(list), 1) // listed under its owner at once
		}
		list, err := m.Sessions(r.Context(), "ada")
		is.NoErr(err)
		is.Equal(len(list), 0) // and not under the one before
	})
	send(r, "GET", "/", login.Name, login.Value)
}

// The limits hold in a Save: a value past MaxKeys is refused at Set (and
// Save returns it, saving nothing); the largest session the limits allow
// is saved and reads back.
func TestSaveKeepsTheLimits(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.MaxKeys = 3
		m := newManager(t, cfg)
		login, err := m.Issue(context.Background(), map[string]any{"a": 1})
		is.NoErr(err)
		var tooMany, atLimit error
		r := chi.NewRouter()
		r.Use(chisess.Load(m), chisess.Autoload)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			io.WriteString(w, "started")
			tooMany = s.Save(r.Context(), func(s *chisess.Session) error {
				return errors.Join(s.Set("b", 2), s.Set("c", 3), s.Set("d", 4))
			})
			atLimit = s.Save(r.Context(), func(s *chisess.Session) error { return errors.Join(s.Set("b", 2), s.Set("c", 3)) })
		})
		send(r, "GET", "/", login.Name, login.Value)
		is.True(errors.Is(tooMany, chisess.ErrTooLarge)) // refused
		is.NoErr(atLimit)                                // the most the limits allow is saved
		s, err := m.Inspect(context.Background(), login.Value)
		is.NoErr(err)
		is.Equal(s.Keys(), []string{"a", "b", "c"}) // and reads back, without what was refused
	})
}

// A Save runs detached from the request's context, so a client that hangs
// up cannot stop it half-way, and within Config.Timeout, so a hanging
// store cannot hold it for ever.
func TestSaveTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		b := sessiontest.NewBackend()
		m := newManager(t, chisess.Config{Backend: b, Timeout: 2 * time.Second})
		login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
		is.NoErr(err)
		ctx, hangUp := context.WithCancel(context.Background())
		var hungUp, held error
		var took time.Duration
		r := chi.NewRouter()
		r.Use(chisess.Load(m), chisess.Autoload)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			io.WriteString(w, "started")
			hangUp()
			hungUp = s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("room", "lobby") })
			defer b.Hold("swap").Release()
			start := time.Now()
			held = s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("room", "kitchen") })
			took = time.Since(start)
		})
		req := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
		req.AddCookie(login)
		r.ServeHTTP(httptest.NewRecorder(), req)
		is.NoErr(hungUp)                                   // saved, though the client is gone
		is.True(errors.Is(held, context.DeadlineExceeded)) // the hanging store's call gave up
		is.Equal(took, 2*time.Second)                      // after exactly Config.Timeout
		s, err := m.Inspect(context.Background(), login.Value)
		is.NoErr(err)
		v, _ := chisess.Get[string](s, "room")
		is.Equal(v, "lobby") // what the first Save saved is kept
	})
}

// Before the response has started, Save only runs its change: the commit
// at the first byte saves it with the rest, once.
func TestSaveBeforeTheResponse(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		var writesAtSave int
		r := chi.NewRouter()
		r.Use(chisess.Load(m), chisess.Autoload)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			is.NoErr(s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("room", "lobby") }))
			writesAtSave = tm.writes()
			is.NoErr(s.Save(r.Context(), nil))
			io.WriteString(w, "done")
		})
		rec := send(r, "GET", "/", m.CookieName())
		is.Equal(writesAtSave, 0) // nothing stored at Save
		c := mustSetCookie(t, rec, m.CookieName())
		s, err := m.Inspect(context.Background(), c.Value)
		is.NoErr(err) // the commit stored it
		v, _ := chisess.Get[string](s, "room")
		is.Equal(v, "lobby")
	})
}

// A Save with nothing to save records the session's last use when the
// idle refresh is due, so a connection open longer than IdleTimeout keeps
// its session; without it the session ends.
func TestSaveKeepsAnIdleSessionAlive(t *testing.T) {
	for _, keepAlive := range []bool{true, false} {
		t.Run(fmt.Sprint("keep alive ", keepAlive), func(t *testing.T) {
			is := is.New(t)
			tm := newMode("memory")
			cfg := tm.cfg
			cfg.IdleTimeout = 10 * time.Minute
			m := newManager(t, cfg)
			clk := testclock.New()
			testhook.SetClock(m, clk.Now)
			login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
			is.NoErr(err)
			r := chi.NewRouter()
			r.Use(chisess.Load(m), chisess.Autoload)
			r.Get("/ws", func(w http.ResponseWriter, r *http.Request) {
				s := chisess.From(r.Context())
				w.WriteHeader(http.StatusOK)
				for range 3 {
					clk.Add(5 * time.Minute)
					if keepAlive {
						is.NoErr(s.Save(r.Context(), nil))
					}
				}
			})
			send(r, "GET", "/ws", login.Name, login.Value)
			_, err = m.Inspect(context.Background(), login.Value)
			is.Equal(err == nil, keepAlive) // 15 minutes on: alive only if kept alive
		})
	}
}

// A renewal by RenewEvery goes out with the response's first byte when it
// can carry the new token (server-sent events), and the Saves after it
// store into the renewed session; on a hijacked connection, which can
// carry no token, neither the commit nor any Save renews, and the client's
// token keeps leading to what was saved.
func TestSaveAfterARenewalByAge(t *testing.T) {
	kinds := []struct {
		name    string
		serve   func(*stream) http.HandlerFunc
		renewed bool
	}{
		{"server-sent events", func(st *stream) http.HandlerFunc { return st.sse }, true},
		{"hijacked connection", func(st *stream) http.HandlerFunc { return st.hijack }, false},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			forEachServerMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				cfg.RenewEvery = time.Minute
				m := newManager(t, cfg)
				clk := testclock.New()
				testhook.SetClock(m, clk.Now)
				login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
				is.NoErr(err)
				clk.Add(2 * time.Minute) // the renewal is due
				st := newStream()
				_, ts := serveStream(t, m, k.serve(st), nil)
				_, header, end := openStream(t, ts, "/events", login, st)
				tok := login.Value
				if c, err := http.ParseSetCookie(header.Get("Set-Cookie")); err == nil {
					tok = c.Value
				}
				is.Equal(tok != login.Value, k.renewed) // renewed only where the response carries the token
				for _, room := range []string{"lobby", "kitchen"} {
					is.NoErr(st.save(func(s *chisess.Session) error { return s.Set("room", room) }))
					s, err := m.Inspect(context.Background(), tok)
					is.NoErr(err) // the token the client holds leads to the session
					v, _ := chisess.Get[string](s, "room")
					is.Equal(v, room) // which holds what was saved
				}
				end()
			})
		})
	}
}

// A session first loaded after the response started is saved by Save as
// well; two goroutines of one request that Save at once both keep their
// change.
func TestSaveLoadedLateAndFromTwoGoroutines(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
		is.NoErr(err)
		r := chi.NewRouter()
		r.Use(chisess.Load(m))
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "started")
			s := chisess.From(r.Context())
			is.NoErr(s.Load(r.Context()))
			errs := make(chan error, 2)
			for _, k := range []string{"a", "b"} {
				go func() { errs <- s.Save(r.Context(), func(s *chisess.Session) error { return s.Set(k, k) }) }()
			}
			is.NoErr(<-errs)
			is.NoErr(<-errs)
		})
		send(r, "GET", "/", login.Name, login.Value)
		s, err := m.Inspect(context.Background(), login.Value)
		is.NoErr(err)
		is.Equal(len(s.Keys()), 3) // user, a and b
		is.True(s.Has("a") && s.Has("b"))
	})
}

// Save returns its change's own error and keeps nothing of what the
// change did before failing (save.go: "Then nothing of the change is kept
// and the session is as it was before Save"; guide: "On any error nothing
// of the change is kept, and the session is as it was."): no write, the
// session as it was, and what the handler does next is saved without it.
//
// Before the first byte it once failed: Save only ran the change, what the
// change did before its error stayed in the session, and the commit at the
// first byte saved it.
func TestSaveChangeErrorKeepsNothing(t *testing.T) {
	tests := []struct {
		name    string
		each    func(*testing.T, func(*testing.T, mode))
		started bool
	}{
		{"after the first byte", forEachServerMode, true},
		{"before the first byte", forEachMode, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.each(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m, login, r := inLobby(t, tm.cfg)
				refused := errors.New("not that room")
				var saveErr error
				var room string
				var writes int
				r.Get("/", func(w http.ResponseWriter, r *http.Request) {
					if tt.started {
						io.WriteString(w, "started")
					}
					s := chisess.From(r.Context())
					writes = tm.writes()
					saveErr = s.Save(r.Context(), func(s *chisess.Session) error {
						return errors.Join(s.Set("room", "cellar"), s.Set("lamp", "on"), refused)
					})
					writes = tm.writes() - writes
					room, _ = chisess.Get[string](s, "room")
					is.True(!s.Has("lamp"))
					next := func(s *chisess.Session) error { return s.Set("seen", "yes") }
					if tt.started {
						is.NoErr(s.Save(r.Context(), next)) // the handler goes on, through a Save of its own
					} else {
						is.NoErr(next(s)) // the handler goes on, and the commit saves
					}
				})
				rec := send(r, "GET", "/", login.Name, login.Value)
				is.True(errors.Is(saveErr, refused)) // the change's error
				is.Equal(writes, 0)                  // nothing written
				is.Equal(room, "lobby")              // the session as it was before Save
				value := login.Value
				if c := setCookie(rec, m.CookieName()); c != nil {
					value = c.Value // the cookie backend seals the session into a new cookie
				}
				s, err := m.Inspect(context.Background(), value)
				is.NoErr(err)
				is.Equal(s.Keys(), []string{"room", "seen"}) // nothing of the failed change was saved
			})
		})
	}
}

// Save on a session from Manager.Inspect is ErrReadOnly, on every backend;
// Save on a session that is not loaded panics, before and after the
// response started.
func TestSaveMisuse(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		m := newManager(t, tm.cfg)
		login, err := m.Issue(context.Background(), map[string]any{"user": "ada"})
		is.NoErr(err)
		s, err := m.Inspect(context.Background(), login.Value)
		is.NoErr(err)
		is.True(errors.Is(s.Save(context.Background(), nil), chisess.ErrReadOnly))

		for _, started := range []bool{false, true} {
			var msg string
			r := chi.NewRouter()
			r.Use(chisess.Load(m))
			r.Get("/", func(w http.ResponseWriter, r *http.Request) {
				if started {
					io.WriteString(w, "started")
				}
				s := chisess.From(r.Context())
				msg = panicOf(func() { s.Save(r.Context(), func(s *chisess.Session) error { return s.Set("a", "b") }) })
			})
			send(r, "GET", "/", login.Name, login.Value)
			is.True(msg != "") // a Save on a session not loaded panics
		}
	})
}

// inLobby returns a manager made with cfg, the cookie of a session of it
// whose "room" is "lobby", and a router that loads the session on every
// route.
func inLobby(t *testing.T, cfg chisess.Config) (*chisess.Manager, *http.Cookie, *chi.Mux) {
	t.Helper()
	m := newManager(t, cfg)
	login, err := m.Issue(context.Background(), map[string]any{"room": "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(m), chisess.Autoload)
	return m, login, r
}
