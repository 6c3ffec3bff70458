package chisess

import "net/http"

// Load returns a middleware that attaches a session to every request and
// saves it just before the response starts. Mount it once, near the top of
// the router:
//
//	r.Use(chisess.Load(sessions))
//
// Load itself does no backend call and decodes nothing: the session is read
// when a handler calls [Session.Load], or eagerly under [Autoload],
// [AutoloadPaths], [Require] or [Rotate]. A route that never touches the
// session costs one small allocation.
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
			if s, ok := r.Context().Value(sessionKey).(*Session); ok && s.m == m {
				next.ServeHTTP(w, r) // mounted twice: the outer one does the work
				return
			}
			st := &requestState{}
			st.s.m = m
			st.w.rw = w
			st.w.s = &st.s
			st.ctx.Context = r.Context()
			st.ctx.s = &st.s
			r = r.WithContext(&st.ctx)
			st.s.r = r
			st.s.w = &st.w
			next.ServeHTTP(&st.w, r)
			st.w.finish()
		})
	}
}

// requestState is everything Load needs per request, in one allocation.
type requestState struct {
	s   Session
	w   writer
	ctx sessionContext
}
