package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
)

// The app under load mounts every chisess middleware on one chi router:
//
//	Load                    every request
//	Autoload                /read, /stream, /logout-everywhere, /api/...
//	RenewToken              /login and /api/login
//	Require("user")         /logout-everywhere
//	TokenHeader             /api/... (Authorization: Bearer <token>)
//	Session.Save            /stream, a server-sent event stream that changes
//	                        the session after its response has started
//	Destroy                 /logout and /api/logout
//	Manager.DestroyOwner    /logout-everywhere
//
// Every route answers JSON (state), so a virtual user can check what its
// session holds after each request.

// The session's keys.
var (
	userKey   = chisess.NewKey[string]("user") // who logged in
	countKey  = chisess.NewKey[int]("count")   // the browser's counter
	sseKey    = chisess.NewKey[int]("sse")     // saved by the stream
	visitsKey = chisess.NewKey[int]("visits")  // the API's counter
)

// streamTicks is how many Saves a stream makes.
const streamTicks = 3

// state is what every route answers: the session's values as the request
// saw them, after its own change.
type state struct {
	User   string `json:"user"`
	Count  int    `json:"count"`
	SSE    int    `json:"sse"`
	Visits int    `json:"visits"`
	Ended  int    `json:"ended"` // /logout-everywhere: sessions DestroyOwner ended
}

// breaks are the deliberately broken variants of the app, which prove that
// the checker notices: "logout" answers the logouts without destroying the
// session (resurrection), "writes" answers a write without keeping it
// (wrong data), "store" wraps the backend in one that forgets every fifth
// session it is asked to write (lost sessions).
var breaks = []string{"logout", "writes", "store"}

// loadApp is the app: its handler and what releases it.
type loadApp struct {
	m    *chisess.Manager
	brk  string
	errs atomic.Int64 // session errors answered with an error response
}

// newLoadApp builds the app on store. brk is "" or one of breaks; timeout
// bounds each store call (chisess Config.Timeout, 0 for its default).
func newLoadApp(store backend.Backend, brk string, logger *slog.Logger, timeout time.Duration) (*loadApp, http.Handler, error) {
	a := &loadApp{brk: brk}
	if brk == "store" {
		store = newForgetful(store)
	}
	m, err := chisess.New(chisess.Config{
		Backend:     store,
		Insecure:    true, // plain HTTP on 127.0.0.1
		IdleTimeout: time.Hour,
		Timeout:     timeout,
		Logger:      logger,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.errs.Add(1)
			logger.WarnContext(r.Context(), "session error", "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		},
	})
	if err != nil {
		return nil, nil, err
	}
	a.m = m
	return a, a.routes(), nil
}

func (a *loadApp) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(chisess.Load(a.m))
	unauthorized := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "log in first"})
	})

	r.With(chisess.Autoload).Get("/read", a.read)
	r.Post("/write", a.write)
	r.With(chisess.RenewToken).Post("/login", a.login)
	r.Post("/logout", a.logout)
	r.With(chisess.Autoload, chisess.Require(userKey.Name(), unauthorized)).Post("/logout-everywhere", a.logoutEverywhere)
	r.With(chisess.Autoload).Get("/stream", a.stream)

	r.Route("/api", func(r chi.Router) {
		r.Use(chisess.TokenHeader("Authorization"))
		r.Use(chisess.Autoload)
		r.With(chisess.RenewToken).Post("/login", a.login)
		r.Get("/me", a.read)
		r.Post("/visit", a.visit)
		r.Post("/logout", a.logout)
	})
	return r
}

// stateOf reads the session's values. A value of the wrong type is an
// error: the load tool never writes one.
func stateOf(s *chisess.Session) (state, error) {
	var st state
	err := errors.Join(
		get(s, userKey, &st.User),
		get(s, countKey, &st.Count),
		get(s, sseKey, &st.SSE),
		get(s, visitsKey, &st.Visits),
	)
	return st, err
}

// get reads key into dst; an absent key leaves dst as it is.
func get[T any](s *chisess.Session, key chisess.Key[T], dst *T) error {
	v, err := key.Get(s)
	if errors.Is(err, chisess.ErrNoKey) {
		return nil
	}
	*dst = v
	return err
}

// answer writes the session's state, or the error.
func answer(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
	st, err := stateOf(s)
	if err != nil {
		chisess.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// read answers the session as it is, changing nothing.
func (a *loadApp) read(w http.ResponseWriter, r *http.Request) {
	answer(w, r, chisess.From(r.Context()))
}

// write adds one to the browser's counter.
func (a *loadApp) write(w http.ResponseWriter, r *http.Request) {
	a.increment(w, r, countKey)
}

// visit adds one to the API's counter.
func (a *loadApp) visit(w http.ResponseWriter, r *http.Request) {
	a.increment(w, r, visitsKey)
}

func (a *loadApp) increment(w http.ResponseWriter, r *http.Request, key chisess.Key[int]) {
	s := chisess.From(r.Context())
	if err := s.Load(r.Context()); err != nil {
		chisess.Error(w, r, err)
		return
	}
	n, err := key.Get(s)
	if err != nil && !errors.Is(err, chisess.ErrNoKey) {
		chisess.Error(w, r, err)
		return
	}
	if a.brk == "writes" {
		// Broken on purpose: the answer says n+1, the session keeps n.
		st, err := stateOf(s)
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
		if key == countKey {
			st.Count++
		} else {
			st.Visits++
		}
		writeJSON(w, http.StatusOK, st)
		return
	}
	if err := key.Set(s, n+1); err != nil {
		chisess.Error(w, r, err)
		return
	}
	answer(w, r, s)
}

// login runs under RenewToken: the session, with whatever it held, gets a
// new token, the user named in the form, and that user as its owner.
func (a *loadApp) login(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	user := r.PostFormValue("user")
	if user == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "user is empty"})
		return
	}
	if err := errors.Join(userKey.Set(s, user), s.SetOwner(user)); err != nil {
		chisess.Error(w, r, err)
		return
	}
	answer(w, r, s)
}

// logout ends the session (unless the app is broken on purpose).
func (a *loadApp) logout(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	if err := s.Load(r.Context()); err != nil {
		chisess.Error(w, r, err)
		return
	}
	if a.brk != "logout" {
		if err := s.Destroy(); err != nil {
			chisess.Error(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, state{})
}

// logoutEverywhere runs under Require("user"): it ends every other session
// of the user with DestroyOwner, then this one with Destroy.
func (a *loadApp) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	n := 0
	if a.brk != "logout" {
		var err error
		n, err = a.m.DestroyOwner(r.Context(), s.Owner(), s)
		if err == nil {
			err = s.Destroy()
		}
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, state{Ended: n})
}

// stream is a server-sent event stream: a "state" event with the session
// as loaded, then streamTicks "tick" events, each after a Session.Save that
// adds one to the sse counter, then "done". A request without a session
// is refused (409): Save cannot create one once the headers are gone.
func (a *loadApp) stream(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s := chisess.From(ctx)
	if s.IsNew() {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "no session to stream"})
		return
	}
	st, err := stateOf(s)
	if err != nil {
		chisess.Error(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return // chisess has answered with the commit's error
	}
	send := func(event string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send("state", st) != nil {
		return
	}
	for range streamTicks {
		if ctx.Err() != nil {
			return // the client has gone: save nothing more for it
		}
		err := s.Save(ctx, func(s *chisess.Session) error {
			n, err := sseKey.Get(s)
			if err != nil && !errors.Is(err, chisess.ErrNoKey) {
				return err
			}
			return sseKey.Set(s, n+1)
		})
		if err != nil {
			a.errs.Add(1)
			send("error", map[string]string{"error": err.Error()})
			return
		}
		n, _ := sseKey.Get(s)
		if send("tick", n) != nil {
			return
		}
	}
	send("done", struct{}{})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// forgetful is the "store" break: a backend that, every fifth write,
// deletes the session instead of writing it, as a store that loses data
// would. It offers the owner index (DestroyOwner needs it) but not Swap, so
// that every change goes through Write.
type forgetful struct {
	backend.Backend
	ix     backend.Indexer
	writes atomic.Int64
}

func newForgetful(b backend.Backend) *forgetful {
	ix, _ := b.(backend.Indexer)
	return &forgetful{Backend: b, ix: ix}
}

func (f *forgetful) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	if f.writes.Add(1)%5 == 0 {
		return f.Backend.Delete(ctx, key)
	}
	return f.Backend.Write(ctx, key, data, ttl)
}

func (f *forgetful) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	return f.ix.Index(ctx, owner, key, ttl)
}

func (f *forgetful) Unindex(ctx context.Context, owner, key string) error {
	return f.ix.Unindex(ctx, owner, key)
}

func (f *forgetful) Owned(ctx context.Context, owner string) ([]string, error) {
	return f.ix.Owned(ctx, owner)
}
