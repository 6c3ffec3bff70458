package sessiontest

import (
	"fmt"
	"net/http"
	"time"

	"github.com/chisess/kit/chisess"
)

// SessionOf returns the session that a browser holds after receiving resp:
// the one in the session cookie the response sets or, when it sets none,
// the one in the cookie its request carried (resp.Request, as a [Client]
// response has). It works on every backend, the sealed cookie included,
// since m opens the cookie as a request would. The session is read-only;
// read it with chisess.Get and the other readers of a [chisess.Session].
//
// It returns an error wrapping [chisess.ErrUnknownSession] when the response
// expires the session cookie, when neither the response nor its request
// carries one, and when the cookie leads to no live session; and the
// backend's error when the backend fails.
//
// SessionOf panics if m or resp is nil.
func SessionOf(m *chisess.Manager, resp *http.Response) (*chisess.Session, error) {
	if m == nil {
		panic("sessiontest: SessionOf needs the *chisess.Manager the app uses, got nil")
	}
	if resp == nil {
		panic("sessiontest: SessionOf: resp is nil")
	}
	name := m.CookieName()
	value := ""
	if c := setCookie(resp, name); c != nil {
		if expired(c) {
			return nil, fmt.Errorf("%w: the response expires the session cookie %q", chisess.ErrUnknownSession, name)
		}
		value = c.Value
	} else if resp.Request != nil {
		if c, err := resp.Request.Cookie(name); err == nil {
			value = c.Value
		}
	}
	if value == "" {
		return nil, fmt.Errorf("%w: the response sets no session cookie %q and its request carried none", chisess.ErrUnknownSession, name)
	}
	return m.Inspect(kitContext(), value)
}

// setCookie returns the last cookie named name that resp sets, or nil.
func setCookie(resp *http.Response, name string) *http.Cookie {
	var found *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == name {
			found = c
		}
	}
	return found
}

// expired reports whether a Set-Cookie deletes the cookie it names. As in
// a browser, Max-Age wins over Expires (RFC 6265, section 5.3).
func expired(c *http.Cookie) bool {
	return c.MaxAge < 0 || c.Value == "" || c.MaxAge == 0 && !c.Expires.IsZero() && !c.Expires.After(time.Now())
}
