package chisess

import (
	"maps"
	"net/http"
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
// Load panics if m is nil.
func Load(m *Manager) func(http.Handler) http.Handler {
	if m == nil {
		panic("chisess: Load needs the *Manager returned by chisess.New, got nil")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if st, ok := r.Context().Value(stateKey).(*requestState); ok && st.m == m {
				next.ServeHTTP(w, r) // mounted twice: the outer one does the work
				return
			}
			st := &requestState{m: m}
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

	// header, set by TokenHeader, is the request header the token travels
	// in instead of a cookie; bearer: it is Authorization, Bearer scheme.
	header string
	bearer bool

	s         atomic.Pointer[Session]
	committed atomic.Bool // the response has started
	failing   atomic.Bool // the ErrorHandler is running for this request
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
		// Created after the response started: it can still be loaded and
		// read, but changes are errors.
		s.mu.Lock()
		s.committed = true
		s.mu.Unlock()
	}
	return s
}

// commit saves the request's session, if it has one, before the response
// starts with status.
func (st *requestState) commit(status int) error {
	st.committed.Store(true)
	if s := st.s.Load(); s != nil {
		return s.commit(status)
	}
	return nil
}
