package chisess

import (
	"fmt"
	"net/http"
	"strings"
)

// TokenHeader returns a middleware that makes the sessions of its route
// group travel in a request header instead of a cookie, for API and mobile
// clients that keep the token themselves:
//
//	r.Route("/api", func(r chi.Router) {
//		r.Use(chisess.TokenHeader("Authorization")) // Authorization: Bearer <token>
//		r.Use(chisess.Autoload)
//		r.Get("/me", me)
//	})
//
// The client sends its token in the header name; for "Authorization" the
// value is "Bearer <token>". When the token changes (a new session, a
// renewed ID; with the cookie backend, every save) the response carries the
// new one in the same header and form, and the client must keep it. When
// the session ends, the response carries the header with an empty value.
// Under TokenHeader cookies are neither read nor set, so a request is never
// authenticated by both.
//
// CSRF: a browser never adds such a header to a cross-site request by
// itself, so header-carried sessions are not exposed to CSRF the way
// cookies are; but a token kept where page scripts can read it can be
// stolen by XSS, which an HttpOnly cookie cannot. Use cookies for browser
// pages and TokenHeader for API clients.
//
// Mount it after [Load] and before anything that loads the session
// (Autoload, Require, Rotate). It panics at wiring time when name is not a
// valid header name, and at the first request when the session is already
// loaded or Load is not mounted.
func TokenHeader(name string) func(http.Handler) http.Handler {
	if !validCookieName(name) { // header names are tokens, as cookie names are
		panic(fmt.Sprintf("chisess: TokenHeader: %q is not a valid header name", name))
	}
	name = http.CanonicalHeaderKey(name)
	bearer := name == "Authorization"
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, ok := r.Context().Value(sessionKey).(*Session)
			if !ok {
				panic("chisess: TokenHeader needs chisess.Load(manager) mounted before it")
			}
			s.mu.Lock()
			loaded := s.state != stateUnloaded
			s.header, s.bearer = name, bearer
			s.mu.Unlock()
			if loaded {
				panic("chisess: TokenHeader must be mounted before the session is loaded (before Autoload, Require or Rotate)")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// transportName is what the response varies on: the Cookie header, or the
// token header.
func (s *Session) transportName() string {
	if s.header != "" {
		return s.header
	}
	return "Cookie"
}

// requestToken returns the value that carries the request's session, and
// whether the request sent one.
func (s *Session) requestToken() (string, bool) {
	if s.header == "" {
		return requestCookie(s.r, s.m.cfg.CookieName)
	}
	v := s.r.Header.Get(s.header)
	if v == "" {
		return "", false
	}
	if s.bearer {
		scheme, token, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", false // another scheme: not ours
		}
		v = strings.TrimSpace(token)
	}
	return v, true
}
