package modeltest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testhook"
	"github.com/go-chi/chi/v5"
)

// The app under test: two managers with the same Config on one backend (two
// app servers), and a third with another cookie name on the same backend
// (another app, which must never see the first app's sessions). Each has a
// chi router with a cookie group (/c/...) and a TokenHeader group (/h/...).
type app struct {
	managers [3]*chisess.Manager
	routers  [3]http.Handler
	s        *scheduler
	clock    *testclock.Clock
	owner    string        // the one user of the history, unique to the run
	lifetime time.Duration // Config.Lifetime of the managers
}

const (
	cookieName      = "session"
	otherCookieName = "other"
	otherServer     = 2
)

// call is what the checker knows of one request once it has run.
type call struct {
	i   int
	req Request
	tr  Transport

	sent               string // the token the client sent, "" for none
	start, load, end   int    // steps: started, loaded (handler ran), answered
	verified           int    // step of its last read, write, swap or delete of a record
	observed           bool   // the handler ran and recorded the session
	isNew              bool
	loaded             string            // the loaded session's token (after following a forward)
	vals               map[string]string // its values at load
	queued             []string          // its flashes at load
	lifetime           string            // its own lifetime at load, "" for none
	shown              []string          // Flashes: what the handler took
	ended              int               // DestroyOwner: sessions ended
	status             int
	errs               []error // what ErrorHandler and the handler saw
	saveErr            error   // Save: what Session.Save returned
	streaming          bool    // Save: the response has started, and its commit is over
	panicked           any
	newTok             string // the token the response hands out, "" for none
	dropped            bool   // the response tells the client to forget its token
	header             http.Header
	setsToken, hasVary bool
}

func newApp(b backend.Backend, cfg Config, s *scheduler, owner string) (*app, error) {
	a := &app{s: s, clock: testclock.New(), owner: owner, lifetime: cfg.Lifetime}
	// Half a millisecond on: records keep times in milliseconds, so a
	// token made now is already older than a RenewEvery of a nanosecond
	// when the next request reads it, as with a real clock.
	a.clock.Add(time.Millisecond / 2)
	quiet := slog.New(slog.DiscardHandler)
	for i := range a.managers {
		name := cookieName
		if i == otherServer {
			name = otherCookieName
		}
		m, err := chisess.New(chisess.Config{
			Backend:     b,
			CookieName:  name,
			Lifetime:    cfg.Lifetime,
			IdleTimeout: cfg.IdleTimeout,
			Rolling:     cfg.Rolling,
			RenewEvery:  cfg.RenewEvery,
			// Parked calls must never time out: the scheduler decides when
			// they run.
			Timeout:      time.Hour,
			Logger:       quiet,
			ErrorHandler: a.failed,
		})
		if err != nil {
			return nil, err
		}
		testhook.SetClock(m, a.clock.Now)
		a.managers[i] = m
		a.routers[i] = a.router(m)
	}
	return a, nil
}

func (a *app) router(m *chisess.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	for _, prefix := range []string{"/c", "/h"} {
		r.Route(prefix, func(r chi.Router) {
			if prefix == "/h" {
				r.Use(chisess.TokenHeader("Authorization"))
			}
			r.Post("/"+string(DestroyOwner), func(w http.ResponseWriter, r *http.Request) {
				a.destroyOwner(m, w, r)
			})
			r.Group(func(r chi.Router) {
				r.Use(chisess.Autoload, a.observe)
				r.With(chisess.RenewToken).Post("/"+string(Login), a.handle)
				r.Post("/*", a.handle)
			})
		})
	}
	return r
}

// failed is the ErrorHandler of every manager: it records the error and
// answers 409 for a stale session, 500 for anything else.
func (a *app) failed(w http.ResponseWriter, r *http.Request, err error) {
	if c := callOf(r.Context()); c != nil {
		c.errs = append(c.errs, err)
	}
	status := http.StatusInternalServerError
	if isStale(err) {
		status = http.StatusConflict
	}
	http.Error(w, http.StatusText(status), status)
}

// observe records the session as loaded, before the handler (or RenewToken)
// changes anything.
func (a *app) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := callOf(r.Context())
		s := chisess.From(r.Context())
		c.observed = true
		c.load = a.s.current()
		c.isNew = s.IsNew()
		if !c.isNew {
			c.loaded = token(s)
		}
		c.vals = values(s)
		c.queued = queuedFlashes(s)
		c.lifetime = ownLifetime(s, a.lifetime)
		next.ServeHTTP(w, r)
	})
}

func (a *app) handle(w http.ResponseWriter, r *http.Request) {
	c := callOf(r.Context())
	s := chisess.From(r.Context())
	var err error
	switch c.req.Kind {
	case Login: // RenewToken has renewed the token already
		if err = set(s, userKey, userValue(c.i)); err == nil {
			err = setOwner(s, a.owner)
		}
	case Set:
		err = set(s, c.req.Key, value(c.i))
	case Delete:
		err = del(s, c.req.Key)
	case Clear:
		err = clearAll(s)
	case AddFlash:
		err = addFlash(s, flashMessage(c.i))
	case Flashes:
		c.shown, err = takeFlashes(s)
	case Logout:
		err = destroy(s)
	case RenewID:
		err = renewID(s)
	case SetLifetime:
		err = setLifetime(s, lifetime(c.i))
	}
	if err != nil {
		c.errs = append(c.errs, err)
		http.Error(w, "handler failed", http.StatusInternalServerError)
		return
	}
	a.s.park(r.Context(), "commit")
	fmt.Fprint(w, "ok") // commits
	if c.req.Kind == Save {
		c.streaming = true
		c.saveErr = saveSet(r.Context(), s, c.req.Key, value(c.i))
	}
}

func (a *app) destroyOwner(m *chisess.Manager, w http.ResponseWriter, r *http.Request) {
	c := callOf(r.Context())
	n, err := m.DestroyOwner(r.Context(), a.owner, nil)
	c.ended = n
	if err != nil {
		c.errs = append(c.errs, err)
		http.Error(w, "destroy owner failed", http.StatusInternalServerError)
		return
	}
	a.s.park(r.Context(), "commit")
	fmt.Fprint(w, "ok")
}

// newRequest builds request c as its client sends it, carrying the token.
func (a *app) newRequest(c *call) *http.Request {
	path := "/c/"
	if c.tr == Header {
		path = "/h/"
	}
	kind := c.req.Kind
	if kind == OtherApp {
		kind = Get
	}
	ctx := context.WithValue(context.Background(), reqKey{}, c)
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "https://app.test"+path+string(kind), nil)
	if c.sent != "" {
		if c.tr == Header {
			req.Header.Set("Authorization", "Bearer "+c.sent)
		} else {
			name := cookieName
			if c.req.Kind == OtherApp {
				name = otherCookieName // the client pastes its token into the other app's cookie
			}
			req.AddCookie(&http.Cookie{Name: name, Value: c.sent})
		}
	}
	return req
}

// serve runs request c on its goroutine and reports its end to the
// scheduler.
func (a *app) serve(c *call, req *http.Request) {
	rec := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			c.panicked = p
		}
		c.readResponse(rec)
		a.s.events <- event{req: c.i}
	}()
	server := c.req.Server
	if c.req.Kind == OtherApp {
		server = otherServer
	}
	a.routers[server].ServeHTTP(rec, req)
}

// readResponse records the status and what the response tells the client
// about its token.
func (c *call) readResponse(rec *httptest.ResponseRecorder) {
	c.status = rec.Code
	c.header = rec.Header().Clone()
	name := cookieName
	if c.req.Kind == OtherApp {
		name = otherCookieName
	}
	if c.tr == Header {
		if v, ok := c.header["Authorization"]; ok {
			c.setsToken = true
			if t := strings.TrimPrefix(v[0], "Bearer "); t != "" {
				c.newTok = t
			} else {
				c.dropped = true
			}
		}
		c.hasVary = strings.Contains(strings.Join(c.header.Values("Vary"), ","), "Authorization")
		return
	}
	for _, ck := range rec.Result().Cookies() {
		if ck.Name != name {
			continue
		}
		c.setsToken = true
		if ck.MaxAge < 0 || ck.Value == "" {
			c.newTok, c.dropped = "", true
		} else {
			c.newTok, c.dropped = ck.Value, false
		}
	}
	c.hasVary = strings.Contains(strings.Join(c.header.Values("Vary"), ","), "Cookie")
}
