package sessiontest_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
)

// TestSessionOf reads the session a browser holds after each kind of
// response, in both modes.
func TestSessionOf(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		target   string
		values   map[string]any // the session the request carries
		noReq    bool           // drop resp.Request, as httptest.ResponseRecorder.Result does
		wantUser string         // "" when SessionOf must fail with ErrUnknownSession
		wantMsg  string
	}{
		{name: "set by the response", method: "POST", target: "/login", wantUser: "ada"},
		{name: "set, recorder response", method: "POST", target: "/login", noReq: true, wantUser: "ada"},
		{name: "kept from the request", method: "GET", target: "/read", values: map[string]any{"user": "bob"}, wantUser: "bob"},
		{name: "kept, recorder response", method: "GET", target: "/read", values: map[string]any{"user": "bob"}, noReq: true,
			wantMsg: `the response sets no session cookie "__Host-session" and its request carried none`},
		{name: "none", method: "GET", target: "/about",
			wantMsg: `the response sets no session cookie "__Host-session" and its request carried none`},
		{name: "expired", method: "POST", target: "/logout", values: map[string]any{"user": "bob"},
			wantMsg: `the response expires the session cookie "__Host-session"`},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					is := is.New(t)
					m := newManager(t, mode.cfg(sessiontest.NewBackend()))
					resp := serve(newKitApp(m), sessiontest.NewRequest(m, tt.method, tt.target, nil, tt.values))
					if tt.noReq {
						resp.Request = nil
					}
					s, err := sessiontest.SessionOf(m, resp)
					if tt.wantUser == "" {
						is.True(errors.Is(err, chisess.ErrUnknownSession)) // no session to read
						is.True(strings.Contains(err.Error(), tt.wantMsg)) // says why
						return
					}
					is.NoErr(err)
					user, err := chisess.Get[string](s, "user")
					is.NoErr(err)
					is.Equal(user, tt.wantUser)
				})
			}
		})
	}
}

func TestSessionOfForgedCookie(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			is := is.New(t)
			m := newManager(t, mode.cfg(sessiontest.NewBackend()))
			_, err := sessiontest.SessionOf(m, setCookieResponse("__Host-session=forged; Path=/"))
			is.True(errors.Is(err, chisess.ErrUnknownSession)) // a cookie chisess did not issue leads nowhere
		})
	}
}

func TestSessionOfBackendDown(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Backend: brokenBackend{sessiontest.NewBackend()}})
	token := strings.Repeat("A", 43) // the shape of a token, so that chisess asks the backend
	_, err := sessiontest.SessionOf(m, setCookieResponse("__Host-session="+token+"; Path=/"))
	is.True(errors.Is(err, errDown))                    // the backend's error comes back
	is.True(!errors.Is(err, chisess.ErrUnknownSession)) // and is not mistaken for no session
}

func TestSessionOfPanicsOnNil(t *testing.T) {
	m := newManager(t, chisess.Config{Secret: testSecret})
	resp := httptest.NewRecorder().Result()
	tests := []struct {
		name string
		m    *chisess.Manager
		resp *http.Response
	}{
		{"nil manager", nil, resp},
		{"nil response", m, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			defer func() {
				is.True(strings.HasPrefix(panicMessage(recover()), "sessiontest: SessionOf")) // a wiring mistake panics
			}()
			sessiontest.SessionOf(tt.m, tt.resp)
		})
	}
}
