package chisess

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync/atomic"
)

// Load returns a middleware that attaches a session to every request and
// saves it just before the response starts. Mount it once, near the top of
// the router (it works the same on an [http.ServeMux]):
//
//	r.Use(chisess.Load(sessions))
//
// The middleware Load does no backend call and decodes nothing: it only
// attaches the session. The session is read when a handler calls the method
// [Session.Load], or eagerly under [Autoload], [AutoloadPaths],
// [AutoloadFunc], [Require] or [RenewToken]. A route that never touches the
// session costs the request's new context and one small allocation.
//
// The session is committed once, before the first byte of the response
// (the first WriteHeader with a final status, Write, Flush or ReadFrom) or
// when the handler returns without writing, so a failed save becomes an
// error response instead of a success whose changes were lost. The body is
// not buffered: streaming, server-sent events, http.Flusher, http.Hijacker,
// io.ReaderFrom and http.ResponseController all keep working. A handler that
// panics commits nothing.
//
// Several managers can serve one request, each through its own Load: an
// admin area's inside a public site's, or a server-side session beside a
// small preferences cookie. Each session has its own cookie and is committed
// before the first byte, the innermost first. [From], [Error], [Autoload],
// [AutoloadPaths], [Require], [RequireFunc], [RenewToken] and [TokenHeader]
// use the session of the nearest Load above them; [Manager.From] and
// [Manager.Error] reach a given manager's wherever its Load is. Mounting
// Load(m) again below another manager's Load attaches no second session: it
// makes m's the nearest again, so that the middlewares after it use m's:
//
//	r.Use(chisess.Load(site), chisess.Load(prefs))
//	r.With(chisess.Load(site), chisess.Require("user", login)).Get("/account", account)
//
// When one of the sessions fails to save, its manager's ErrorHandler answers
// instead: the sessions nested inside it, saved already, keep their cookies
// on that answer, and those outside it commit with its status (after a 5xx,
// nothing, unless Config.KeepChangesOnServerError). Two managers serving one
// request must have different cookie names, since a browser keeps one cookie
// per name: Load panics at the first request that reaches two with the same
// one.
//
// Load panics if m is nil.
func Load(m *Manager) func(http.Handler) http.Handler {
	if m == nil {
		panic("chisess: Load needs the *Manager returned by chisess.New, got nil")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			near, _ := r.Context().Value(stateKey).(*requestState)
			var inner *requestState
			if near != nil {
				if near.m == m {
					next.ServeHTTP(w, r) // mounted twice: the outer one does the work
					return
				}
				if st := m.state(r.Context()); st != nil {
					// m's Load is further out, another manager's nearer:
					// m's session becomes the nearest again below here.
					next.ServeHTTP(w, r.WithContext(&sessionContext{Context: r.Context(), st: st}))
					return
				}
				// The Load this one is nested in is the innermost that
				// attached a session, which the nearest is not when it was
				// mounted again.
				inner, _ = r.Context().Value(innerKey).(*requestState)
				inner.checkCookie(m)
			}
			st := &requestState{m: m, parent: inner}
			if h := w.Header(); len(h) > 0 {
				// What outer middlewares set (security headers and the
				// like) stays on an error response that replaces this one.
				st.outer = maps.Clone(h)
			}
			st.w.rw = w
			st.w.st = st
			st.ctx.Context = r.Context()
			st.ctx.st = st
			r = r.WithContext(&st.ctx)
			st.r = r
			next.ServeHTTP(&st.w, r)
			st.w.finish()
		})
	}
}

// requestState is what Load keeps per request, in one small allocation. The
// Session itself is allocated only when the request asks for it, so a route
// that never touches the session pays for little more than the context.
type requestState struct {
	w     writer
	ctx   sessionContext
	m     *Manager
	r     *http.Request
	outer http.Header // the response headers set before Load ran, if any

	// parent is the state of the innermost Load of another manager that
	// this one is nested in, if any (not one mounted again to be the
	// nearest, which attaches no session and wraps no writer). The inner
	// session commits first (its writer is the one the handler writes
	// to); kept holds the headers
	// that the commits of sessions nested inside this one set (merged as
	// addHeaders merges them), so that an error response replacing this
	// one after they were saved still carries their cookies.
	parent *requestState
	kept   http.Header

	// header, set by TokenHeader, is the request header the token travels
	// in instead of a cookie; bearer: it is Authorization, Bearer scheme.
	header string
	bearer bool

	s         atomic.Pointer[Session]
	committed atomic.Bool  // the response has started
	status    atomic.Int32 // with this status, set before committed
	failing   atomic.Bool  // the ErrorHandler is running for this request
}

// session returns the request's session, creating it on first use.
func (st *requestState) session() *Session {
	if s := st.s.Load(); s != nil {
		return s
	}
	s := &Session{m: st.m, st: st}
	if !st.s.CompareAndSwap(nil, s) {
		return st.s.Load()
	}
	if st.committed.Load() {
		// Created after the response started: it can still be loaded,
		// read and changed through Session.Save, and other changes are
		// errors.
		s.mu.Lock()
		s.committed, s.status = true, int16(st.status.Load())
		s.mu.Unlock()
	}
	return s
}

// commit saves the request's session, if it has one, before the response
// starts with status.
func (st *requestState) commit(status int) error {
	st.status.Store(int32(status))
	st.committed.Store(true)
	s := st.s.Load()
	switch {
	case s == nil:
		return nil
	case st.parent == nil:
		return s.commit(status, st.w.Header())
	}
	// Nested in another manager's Load: what this commit sets is kept for
	// the outer ones too (see requestState.kept).
	sent := make(http.Header)
	if err := s.commit(status, sent); err != nil {
		return err
	}
	addHeaders(st.w.Header(), sent)
	for p := st.parent; p != nil; p = p.parent {
		if p.kept == nil {
			p.kept = make(http.Header)
		}
		addHeaders(p.kept, sent)
	}
	return nil
}

// addHeaders adds the headers of a commit, sent, to h.
func addHeaders(h, sent http.Header) {
	for k, v := range sent {
		switch k {
		case "Set-Cookie", "Vary":
			h[k] = append(h[k], v...)
		default: // Cache-Control, the token header of TokenHeader
			h[k] = slices.Clone(v)
		}
	}
}

// checkCookie panics when m, mounted inside the Loads of st and its
// parents, shares a cookie name with one of their managers: a browser keeps
// one cookie per name (for a Path and Domain), so the two sessions would
// overwrite, and drop, each other's cookie on every response.
func (st *requestState) checkCookie(m *Manager) {
	for p := st; p != nil; p = p.parent {
		if p.m.cfg.CookieName == m.cfg.CookieName {
			panic(fmt.Sprintf("chisess: two managers serving one request both use the cookie %q: give each its own Config.CookieName", m.cfg.CookieName))
		}
	}
}
