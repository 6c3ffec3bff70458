package sessiontest

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Client is a browser for multi-request flows: it sends requests to an
// [httptest.Server] serving the app and keeps the cookies the app sets in a
// cookie jar, so a test can log in, visit a page and log out in sequence.
// Make one with [NewClient].
//
// Its methods return the response with the body already read and closed:
// resp.Body reads from memory, so reading it cannot fail and closing it is
// optional. Redirects are not followed; check the status and the Location
// header, then Get the next page. Every method fails the test with
// t.Fatalf when the request cannot be sent or its response read, so call
// them from the test's goroutine, or from goroutines that signal their end
// with defer (t.Fatalf ends only the goroutine that calls it).
//
// A Client is safe for concurrent use, like the browser tabs of one user.
type Client struct {
	t    testing.TB
	hc   *http.Client
	base *url.URL

	mu    sync.Mutex
	paths map[string]string // cookie name → the Path it was set for
}

// NewClient starts an HTTPS [httptest.Server] that serves h, closes it with
// t.Cleanup, and returns a [Client] of it with an empty cookie jar. The
// server is HTTPS, as a server that sets Secure cookies (the chisess
// default) is in production, so the app's handlers see r.TLS as they will
// there.
//
// The jar keeps host-only cookies, the default of chisess: the server is
// reached at an IP address, which a cookie with a Domain attribute does not
// match, so for an app whose Config.Domain is set, test with that Domain
// left empty.
func NewClient(t testing.TB, h http.Handler) *Client {
	t.Helper()
	if h == nil {
		t.Fatalf("sessiontest: NewClient: the handler is nil")
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(quietHandshakes{}, "", log.LstdFlags)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("sessiontest: NewClient: %v", err)
	}
	hc := srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatalf("sessiontest: NewClient: %v", err)
	}
	return &Client{t: t, hc: hc, base: base, paths: map[string]string{}}
}

// Get sends a GET request for path, such as "/account?tab=2", and returns
// the response.
func (c *Client) Get(path string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		c.t.Fatalf("sessiontest: Client.Get: %v", err)
	}
	return c.Do(req)
}

// PostForm sends a POST request for path with form as its
// application/x-www-form-urlencoded body, and returns the response.
func (c *Client) PostForm(path string, form url.Values) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatalf("sessiontest: Client.PostForm: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

// Do sends req with the client's cookies and returns the response. A
// request URL that is only a path, as in
// http.NewRequest("DELETE", "/items/7", nil), goes to the test server; Do
// does not change req.
func (c *Client) Do(req *http.Request) *http.Response {
	c.t.Helper()
	req = req.Clone(req.Context()) // the client adds its cookies to the request it sends
	if !req.URL.IsAbs() {
		req.URL = c.base.ResolveReference(req.URL)
		req.Host = ""
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("sessiontest: Client: %s %s: %v", req.Method, req.URL.RequestURI(), err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatalf("sessiontest: Client: %s %s: reading the body: %v", req.Method, req.URL.RequestURI(), err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c.mu.Lock()
	for _, ck := range resp.Cookies() {
		c.paths[ck.Name] = cookiePath(ck)
	}
	c.mu.Unlock()
	return resp
}

// Cookie returns the cookie named name that the client holds and would
// send to the path the cookie was set for, or nil when it holds none (it
// was never set, or was expired). Like a browser's cookie jar, it knows
// only the name and the value.
func (c *Client) Cookie(name string) *http.Cookie {
	c.mu.Lock()
	path, ok := c.paths[name]
	c.mu.Unlock()
	if !ok {
		path = "/"
	}
	for _, ck := range c.hc.Jar.Cookies(c.base.ResolveReference(&url.URL{Path: path})) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// SetCookie puts cookie into the client's jar, as if the server had set it:
// to start the client signed in with a cookie from m.Issue, or to plant a
// token an attacker chose. The Domain attribute is dropped, so the cookie
// is host-only; an empty Path means "/".
func (c *Client) SetCookie(cookie *http.Cookie) {
	ck := *cookie
	ck.Domain = ""
	if ck.Path == "" {
		ck.Path = "/"
	}
	c.hc.Jar.SetCookies(c.base, []*http.Cookie{&ck})
	c.mu.Lock()
	c.paths[ck.Name] = ck.Path
	c.mu.Unlock()
}

// quietHandshakes writes the server's log to the standard logger's output,
// as a server without an ErrorLog does, except for TLS handshakes cut short
// when the client drops a spare connection or the server closes at cleanup:
// they say nothing about the app under test.
type quietHandshakes struct{}

func (quietHandshakes) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("http: TLS handshake error")) {
		return len(p), nil
	}
	return log.Writer().Write(p)
}

// cookiePath is the path a Set-Cookie applies to, for looking it up in the
// jar: its Path, or the root when it has none (chisess always sends one).
func cookiePath(c *http.Cookie) string {
	if strings.HasPrefix(c.Path, "/") {
		return c.Path
	}
	return "/"
}
