package sessiontest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
)

// TestNewRequest checks that the request's session holds the values, in
// both modes, as the handler reads them.
func TestNewRequest(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			is := is.New(t)
			m := newManager(t, mode.cfg(sessiontest.NewBackend()))
			req := sessiontest.NewRequest(m, "GET", "/read", nil, map[string]any{"user": "ada", "visits": 3})
			is.Equal(req.Method, "GET")
			is.Equal(req.URL.Path, "/read")
			is.True(req.RequestURI != "") // an incoming server request, as httptest.NewRequest makes

			resp := serve(newKitApp(m), req)
			is.Equal(resp.StatusCode, http.StatusOK)
			body := readBody(t, resp)
			is.Equal(body, "ada") // the handler sees the session's value
			sessiontest.AssertValue(t, m, resp, "visits", 3)
			sessiontest.AssertNoSession(t, m, resp) // the session was only read
		})
	}
}

func TestNewRequestWithoutValues(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{Backend: b})
	req := sessiontest.NewRequest(m, "GET", "/", nil, map[string]any{})
	is.Equal(len(req.Cookies()), 0) // no values: no session cookie
	is.Equal(b.Len(), 0)            // and nothing stored
}

func TestNewRequestBody(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Secret: testSecret})
	form := url.Values{"user": {"bob"}}
	req := sessiontest.NewRequest(m, "POST", "/login", strings.NewReader(form.Encode()), map[string]any{"cart": "tea"})
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := serve(newKitApp(m), req)
	is.Equal(resp.StatusCode, http.StatusSeeOther)
	sessiontest.AssertValue(t, m, resp, "user", "bob") // the handler read the body
	sessiontest.AssertValue(t, m, resp, "cart", "tea") // and kept the session's value
}

func TestNewRequestPanicsOnBadInput(t *testing.T) {
	m := newManager(t, chisess.Config{Secret: testSecret})
	failing := sessiontest.NewBackend()
	down := newManager(t, chisess.Config{Backend: brokenBackend{failing}})
	tests := []struct {
		name    string
		m       *chisess.Manager
		method  string
		values  map[string]any
		wantMsg string
	}{
		{"nil manager", nil, "GET", nil, "sessiontest: NewRequest needs the *chisess.Manager"},
		{"unencodable value", m, "GET", map[string]any{"f": func() {}}, `sessiontest: NewRequest: chisess: issue: value for "f"`},
		{"backend down", down, "GET", map[string]any{"user": "ada"}, "sessiontest: NewRequest: chisess: issue session: store is down"},
		{"bad method", m, "GET /", nil, "invalid NewRequest arguments"}, // httptest.NewRequest's own panic
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			defer func() {
				msg := panicMessage(recover())
				t.Logf("panic: %s", msg)
				is.True(strings.Contains(msg, tt.wantMsg)) // the panic says what is wrong
			}()
			sessiontest.NewRequest(tt.m, tt.method, "/", nil, tt.values)
		})
	}
}
