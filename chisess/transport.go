package chisess

import (
	"fmt"
	"net/http"
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
// (Autoload, Require, RenewToken). With the Loads of several managers on the
// route, it applies to the nearest one's session (see [Load]); the others
// keep their cookies; two of them cannot share one header. It panics at
// wiring time when name is not a valid header name, and at the first
// request when the session is already loaded, Load is not mounted, or
// another manager's session on the request travels in the same header.
func TokenHeader(name string) func(http.Handler) http.Handler {
	if !validCookieName(name) { // header names are tokens, as cookie names are
		panic(fmt.Sprintf("chisess: TokenHeader: %q is not a valid header name", name))
	}
	name = http.CanonicalHeaderKey(name)
	bearer := name == "Authorization"
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, ok := r.Context().Value(stateKey).(*requestState)
			if !ok {
				panic("chisess: TokenHeader needs chisess.Load(manager) mounted before it")
			}
			if s := st.s.Load(); s != nil && s.Loaded() {
				panic("chisess: TokenHeader must be mounted before the session is loaded (before Autoload, Require or RenewToken)")
			}
			// The other managers' sessions on the request must travel
			// elsewhere: one header carries one token, as a browser keeps
			// one cookie per name.
			inner, _ := r.Context().Value(innerKey).(*requestState)
			for p := inner; p != nil; p = p.parent {
				if p != st && p.header == name {
					panic(fmt.Sprintf("chisess: two managers serving one request both carry their sessions in the header %q: give each its own TokenHeader", name))
				}
			}
			st.header, st.bearer = name, bearer
			next.ServeHTTP(w, r)
		})
	}
}
