package sessiontest

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/chisess/kit/chisess"
)

// The assertions below take the test's t first and report a failure with
// t.Errorf, naming the assertion and saying what differed, so the test goes
// on to its next check as it would with plain if statements. They call
// t.Helper, so the failure points at the line of the test that called them.
// They take testing.TB, and so work beside matryer/is, testify or plain
// testing alike. Their reads of the backend are not recorded by a [Backend].

// AssertValue checks that the session a browser holds after resp (see
// [SessionOf]) has want under key. The value is read with chisess.Get[T],
// where T is the type of want, so an int stored under key is checked as an
// int and a value of another type is reported, never converted; pass
// int64(7), not 7, for an int64. Values are compared with their Equal
// method when T has one (as time.Time has), else with reflect.DeepEqual.
//
//	resp := c.PostForm("/login", url.Values{"user": {"ada"}})
//	sessiontest.AssertValue(t, m, resp, "user", "ada")
func AssertValue[T any](t testing.TB, m *chisess.Manager, resp *http.Response, key string, want T) {
	t.Helper()
	s, err := SessionOf(m, resp)
	if err != nil {
		t.Errorf("sessiontest: AssertValue %q: %v", key, err)
		return
	}
	got, err := chisess.Get[T](s, key)
	switch {
	case errors.Is(err, chisess.ErrNoKey):
		t.Errorf("sessiontest: AssertValue %q: the session has no key %q, want %#v; it holds %q", key, key, want, s.Keys())
	case err != nil:
		t.Errorf("sessiontest: AssertValue %q: %v", key, err)
	case !equal(got, want):
		t.Errorf("sessiontest: AssertValue %q: got %#v, want %#v", key, got, want)
	}
}

func equal[T any](got, want T) bool {
	if eq, ok := any(want).(interface{ Equal(T) bool }); ok {
		return eq.Equal(got)
	}
	return reflect.DeepEqual(got, want)
}

// AssertAbsent checks that the session a browser holds after resp (see
// [SessionOf]) has no value under key. A response that leaves the browser
// with no session at all passes: its session holds nothing.
//
//	resp := c.PostForm("/logout", nil)
//	sessiontest.AssertAbsent(t, m, resp, "user")
func AssertAbsent(t testing.TB, m *chisess.Manager, resp *http.Response, key string) {
	t.Helper()
	s, err := SessionOf(m, resp)
	if errors.Is(err, chisess.ErrUnknownSession) {
		return
	}
	if err != nil {
		t.Errorf("sessiontest: AssertAbsent %q: %v", key, err)
		return
	}
	if got, err := chisess.Get[any](s, key); err == nil {
		t.Errorf("sessiontest: AssertAbsent %q: the session holds %#v under %q, want no value", key, got, key)
	} else if !errors.Is(err, chisess.ErrNoKey) {
		t.Errorf("sessiontest: AssertAbsent %q: the session holds a value under %q (%v), want no value", key, key, err)
	}
}

// AssertRenewed checks that resp gave the session a new token, as
// chisess.RenewToken and Session.RenewToken do at login: resp sets the
// session cookie to a new value that leads to a live session with another
// token than before, the session cookie the request carried (from
// [Client.Cookie] before the request, or req.Cookie of a [NewRequest]).
// On a server-side backend it also checks that the old token no longer loads
// a session, which is what defeats session fixation; a token that
// Config.RenewEvery renewed keeps leading to the new session for
// Config.RenewGrace, and is reported as such. A sealed cookie cannot be
// revoked, so with the cookie backend only the new token is checked.
//
//	before := c.Cookie(m.CookieName())
//	resp := c.PostForm("/login", form)
//	sessiontest.AssertRenewed(t, m, before, resp)
func AssertRenewed(t testing.TB, m *chisess.Manager, before *http.Cookie, resp *http.Response) {
	t.Helper()
	const name = "AssertRenewed"
	if before == nil {
		t.Errorf("sessiontest: %s: before is nil; pass the session cookie the request carried", name)
		return
	}
	c := setCookie(resp, m.CookieName())
	switch {
	case c == nil:
		t.Errorf("sessiontest: %s: the response sets no session cookie %q; a session with a new ID gets a new cookie", name, m.CookieName())
		return
	case expired(c):
		t.Errorf("sessiontest: %s: the response expires the session cookie %q, want a new one; the session was ended, not given a new ID", name, m.CookieName())
		return
	case c.Value == before.Value:
		t.Errorf("sessiontest: %s: the response sets the session cookie %q to the value it had before; the ID was not renewed", name, m.CookieName())
		return
	}
	ctx := kitContext()
	renewed, err := m.Inspect(ctx, c.Value)
	if err != nil {
		t.Errorf("sessiontest: %s: the new session cookie leads to no session: %v", name, err)
		return
	}
	old, err := m.Inspect(ctx, before.Value)
	switch {
	case errors.Is(err, chisess.ErrUnknownSession):
		// Dead, as it should be on a server-side backend.
	case err != nil:
		t.Errorf("sessiontest: %s: reading the session from before: %v", name, err)
	case m.Backend() != nil && old.Token() == renewed.Token():
		t.Errorf("sessiontest: %s: the session ID from before still leads to the renewed session, as Config.RenewEvery leaves it for Config.RenewGrace; a renewal by RenewToken must leave the old ID dead", name)
	case m.Backend() != nil:
		t.Errorf("sessiontest: %s: the session ID from before still loads a live session with keys %q; the old ID must be deleted when the ID is renewed", name, old.Keys())
	case old.Token() == renewed.Token():
		t.Errorf("sessiontest: %s: the new session cookie holds the same session ID as before; the ID was not renewed", name)
	}
}

// AssertDestroyed checks that resp ended the session, as Session.Destroy
// does at logout: resp expires the session cookie (Max-Age=0, or an
// Expires in the past) with the same Path, Domain and Secure attributes as
// the cookies m issues, without which a browser keeps the cookie. On a
// server-side backend it also checks that before, the session cookie the
// request carried, no longer loads a session; a sealed cookie cannot be
// revoked, so with the cookie backend only the cookie is checked.
//
// A handler that stores something in the session after destroying it (a
// "logged out" flash message) gives the browser a new session instead of an
// expired cookie; check that response with [AssertRenewed].
//
//	before := c.Cookie(m.CookieName())
//	resp := c.PostForm("/logout", nil)
//	sessiontest.AssertDestroyed(t, m, before, resp)
func AssertDestroyed(t testing.TB, m *chisess.Manager, before *http.Cookie, resp *http.Response) {
	t.Helper()
	const name = "AssertDestroyed"
	if before == nil {
		t.Errorf("sessiontest: %s: before is nil; pass the session cookie the request carried", name)
		return
	}
	c := setCookie(resp, m.CookieName())
	switch {
	case c == nil:
		t.Errorf("sessiontest: %s: the response sets no session cookie %q; ending a session expires its cookie", name, m.CookieName())
	case !expired(c):
		t.Errorf("sessiontest: %s: the response sets the session cookie %q (%s), want it expired (Max-Age=0)", name, m.CookieName(), describe(c))
	default:
		ctx := kitContext()
		issued, err := m.Issue(ctx, nil) // no values: stores nothing
		if err != nil {
			t.Errorf("sessiontest: %s: %v", name, err)
			break
		}
		if got, want := c.Path, issued.Path; got != want {
			t.Errorf("sessiontest: %s: the expired cookie has Path=%q, want %q; a browser deletes only the cookie with the same Path", name, got, want)
		}
		if got, want := trimDot(c.Domain), trimDot(issued.Domain); got != want {
			t.Errorf("sessiontest: %s: the expired cookie has Domain=%q, want %q; a browser deletes only the cookie with the same Domain", name, got, want)
		}
		if c.Secure != issued.Secure {
			t.Errorf("sessiontest: %s: the expired cookie has Secure=%t, want %t, as the session cookie has", name, c.Secure, issued.Secure)
		}
	}
	if m.Backend() == nil {
		return
	}
	old, err := m.Inspect(kitContext(), before.Value)
	switch {
	case errors.Is(err, chisess.ErrUnknownSession):
	case err != nil:
		t.Errorf("sessiontest: %s: reading the session from before: %v", name, err)
	default:
		t.Errorf("sessiontest: %s: the session ID from before still loads a live session with keys %q; ending a session must delete it from the backend", name, old.Keys())
	}
}

// AssertNoSession checks that resp does not touch the session cookie: no
// Set-Cookie for it at all, neither a new session nor an expiry. Use it
// for pages an anonymous visitor sees, which must not create a session,
// and for requests that only read the session.
//
//	resp := c.Get("/about")
//	sessiontest.AssertNoSession(t, m, resp)
func AssertNoSession(t testing.TB, m *chisess.Manager, resp *http.Response) {
	t.Helper()
	c := setCookie(resp, m.CookieName())
	switch {
	case c == nil:
	case expired(c):
		t.Errorf("sessiontest: AssertNoSession: the response expires the session cookie %q, want no Set-Cookie for it", m.CookieName())
	default:
		t.Errorf("sessiontest: AssertNoSession: the response sets the session cookie %q (%s), want no Set-Cookie for it", m.CookieName(), describe(c))
	}
}

// AssertCookie checks the attributes of the cookie named want.Name that
// resp sets, reporting every one that differs: Path, Domain (a leading
// dot aside), Max-Age, Secure, HttpOnly, SameSite and Partitioned. The
// fields of want mean what they mean in a Set-Cookie, so a zero field
// asks for the attribute to be absent: SameSite 0 means no SameSite
// attribute (chisess always sends one), MaxAge 0 means no Max-Age (a
// browser-session cookie), and a negative MaxAge means an expiry. A
// positive MaxAge passes for a Max-Age up to a minute below it, since
// chisess counts Max-Age down from the session's creation. Value and
// Expires are not compared.
//
//	sessiontest.AssertCookie(t, resp, &http.Cookie{
//		Name: "session", Path: "/", MaxAge: 3600,
//		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
//	})
func AssertCookie(t testing.TB, resp *http.Response, want *http.Cookie) {
	t.Helper()
	c := setCookie(resp, want.Name)
	if c == nil {
		t.Errorf("sessiontest: AssertCookie: the response sets no cookie %q; it sets %q", want.Name, resp.Header.Values("Set-Cookie"))
		return
	}
	var diffs []string
	add := func(attr string, got, want any) {
		diffs = append(diffs, fmt.Sprintf("%s=%v, want %v", attr, got, want))
	}
	if c.Path != want.Path {
		add("Path", fmt.Sprintf("%q", c.Path), fmt.Sprintf("%q", want.Path))
	}
	if trimDot(c.Domain) != trimDot(want.Domain) {
		add("Domain", fmt.Sprintf("%q", c.Domain), fmt.Sprintf("%q", want.Domain))
	}
	if !maxAgeMatches(c.MaxAge, want.MaxAge) {
		wantAge := maxAge(want.MaxAge)
		if want.MaxAge > 0 {
			wantAge = fmt.Sprintf("%d (or up to 60 less)", want.MaxAge)
		}
		add("Max-Age", maxAge(c.MaxAge), wantAge)
	}
	if c.Secure != want.Secure {
		add("Secure", c.Secure, want.Secure)
	}
	if c.HttpOnly != want.HttpOnly {
		add("HttpOnly", c.HttpOnly, want.HttpOnly)
	}
	if c.SameSite != want.SameSite {
		add("SameSite", sameSite(c.SameSite), sameSite(want.SameSite))
	}
	if c.Partitioned != want.Partitioned {
		add("Partitioned", c.Partitioned, want.Partitioned)
	}
	if len(diffs) > 0 {
		t.Errorf("sessiontest: AssertCookie %q: %s", want.Name, strings.Join(diffs, "; "))
	}
}

// maxAgeSlack is how far below the wanted Max-Age AssertCookie accepts one.
const maxAgeSlack = 60

func maxAgeMatches(got, want int) bool {
	switch {
	case want > 0:
		return got <= want && got >= want-maxAgeSlack && got > 0
	case want < 0:
		return got < 0
	default:
		return got == 0
	}
}

// maxAge describes the Max-Age field of a parsed Set-Cookie.
func maxAge(n int) string {
	switch {
	case n < 0:
		return "0 (expired)"
	case n == 0:
		return "none"
	default:
		return fmt.Sprint(n)
	}
}

func sameSite(s http.SameSite) string {
	switch s {
	case 0:
		return "none given"
	case http.SameSiteDefaultMode:
		return "(invalid value)"
	case http.SameSiteLaxMode:
		return "Lax"
	case http.SameSiteStrictMode:
		return "Strict"
	case http.SameSiteNoneMode:
		return "None"
	}
	return fmt.Sprintf("SameSite(%d)", s)
}

// describe summarizes a live Set-Cookie without its value, which is a
// credential.
func describe(c *http.Cookie) string {
	if c.MaxAge == 0 {
		return "a live value with no Max-Age"
	}
	return fmt.Sprintf("a live value with Max-Age=%d", c.MaxAge)
}

func trimDot(domain string) string { return strings.TrimPrefix(domain, ".") }
