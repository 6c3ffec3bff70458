package sessiontest

import (
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/chisess/kit/chisess"
)

// NewRequest returns a new incoming server request, as
// [httptest.NewRequest] does, that already carries a session holding
// values: the session is created and stored with m.Issue, and the request
// carries its cookie. The arguments are those of httptest.NewRequest, with
// the manager first and the values last. Serve the request with an
// [httptest.ResponseRecorder] to test a handler for a signed-in user
// without going through the login:
//
//	req := sessiontest.NewRequest(m, "GET", "/account", nil, map[string]any{"user_id": 42})
//	rec := httptest.NewRecorder()
//	app.ServeHTTP(rec, req)
//
// With no values the request carries no session cookie, as a new visitor's
// does. A form body needs its Content-Type set, as with httptest.NewRequest.
// Get the session cookie back with req.Cookie(m.CookieName()), for example
// as the before cookie of [AssertRenewed].
//
// The store's write is made by the kit, so a [Backend] does not record it.
// NewRequest panics, as httptest.NewRequest does, on a bad method or
// target, on a value m cannot encode, and when the backend fails.
func NewRequest(m *chisess.Manager, method, target string, body io.Reader, values map[string]any) *http.Request {
	if m == nil {
		panic("sessiontest: NewRequest needs the *chisess.Manager the app uses, got nil")
	}
	req := httptest.NewRequest(method, target, body)
	if len(values) == 0 {
		return req
	}
	c, err := m.Issue(kitContext(), values)
	if err != nil {
		panic("sessiontest: NewRequest: " + err.Error())
	}
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	return req
}
