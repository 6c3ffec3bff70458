package chisess

import (
	"context"
	"net/http"
)

// contextKey is the type of the context key under which [Load] stores the
// session. A pointer to it is unique, and String makes it readable in
// debuggers, as chi's own context keys are.
type contextKey struct{ name string }

func (k *contextKey) String() string { return "chisess context value " + k.name }

var (
	sessionKey = &contextKey{"session"}
	stateKey   = &contextKey{"request state"}
	innerKey   = &contextKey{"innermost request state"}
)

// sessionContext carries the request's session. It is allocated together
// with the rest of the request's state, saving an allocation per request
// over context.WithValue. It answers sessionKey and stateKey (the nearest
// Load's session) and its manager's own key (that manager's session, for
// Manager.From, whatever Loads of other managers are mounted inside it).
// It also answers innerKey: the state of the innermost Load that attached
// a session. That is st when c is st's own context; a context that Load
// mounted again below another manager's makes to bring st's session
// nearest again attaches none, and asks the contexts it wraps.
type sessionContext struct {
	context.Context
	st *requestState
}

func (c *sessionContext) Value(key any) any {
	switch key {
	case sessionKey:
		return c.st.session()
	case stateKey, &c.st.m.key:
		return c.st
	case innerKey:
		if c == &c.st.ctx {
			return c.st
		}
	}
	return c.Context.Value(key)
}

// From returns the session that [Load] attached to the request's context:
// when Loads of several managers serve the request, the nearest one's, the
// Load mounted last above the caller (use [Manager.From] for another). It
// panics when there is none, which means Load is not mounted on the route:
//
//	r.Use(chisess.Load(sessions))
func From(ctx context.Context) *Session {
	s, ok := ctx.Value(sessionKey).(*Session)
	if !ok {
		panic("chisess: no session in the request context: mount chisess.Load(manager) on the router before using the session")
	}
	return s
}

// From returns the session of m on the request, wherever m's [Load] is
// mounted among the Loads of other managers: the way to reach two sessions
// from one handler, such as a server-side session beside a small
// preferences cookie, or an admin area's session inside a public one:
//
//	account := sessions.From(r.Context())
//	prefs := preferences.From(r.Context())
//
// With one manager it is the session [From] returns. It panics when m's
// Load is not mounted on the route.
func (m *Manager) From(ctx context.Context) *Session {
	return m.mustState(ctx).session()
}

// state returns what m's Load keeps for the request of ctx, or nil.
func (m *Manager) state(ctx context.Context) *requestState {
	st, _ := ctx.Value(&m.key).(*requestState)
	return st
}

func (m *Manager) mustState(ctx context.Context) *requestState {
	st := m.state(ctx)
	if st == nil {
		panic("chisess: no session of this manager in the request context: mount chisess.Load(manager) with it before using its session")
	}
	return st
}

// Error answers the request through the Config.ErrorHandler of the manager
// whose [Load] serves it (the nearest, as for [From]), as Autoload does when
// loading fails. Use it when a handler's own call to [Session.Load] fails:
//
//	if err := s.Load(r.Context()); err != nil {
//		chisess.Error(w, r, err)
//		return
//	}
//
// It panics when [Load] is not mounted on the route.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	From(r.Context()).m.fail(w, r, err)
}

// Error is [Error] through m's Config.ErrorHandler: for an error of m's
// session when the nearest Load is another manager's. It panics when m's
// [Load] is not mounted on the route.
func (m *Manager) Error(w http.ResponseWriter, r *http.Request, err error) {
	m.mustState(r.Context())
	m.fail(w, r, err)
}

// loadFor loads the session of r for a middleware, answering through the
// ErrorHandler when the backend fails. It reports whether to go on.
func loadFor(w http.ResponseWriter, r *http.Request, middleware string) (*Session, bool) {
	s, ok := r.Context().Value(sessionKey).(*Session)
	if !ok {
		panic("chisess: " + middleware + " needs chisess.Load(manager) mounted before it")
	}
	if err := s.Load(r.Context()); err != nil {
		s.m.fail(w, r, err)
		return s, false
	}
	return s, true
}
