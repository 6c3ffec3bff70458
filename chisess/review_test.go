package chisess_test

// Tests written by an outside review: each tries a promise of the docs the
// way an attacker or an unlucky deployment would, and fails while the
// promise does not hold.

import (
	"net/http"
	"testing"

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
	})
}
