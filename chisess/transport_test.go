package chisess_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// apiClient keeps its token the way a mobile app would: from the response
// header, sent back in the request header.
type apiClient struct {
	h      http.Handler
	header string
	token  string // the header value, e.g. "Bearer abc"
	cookie string // a cookie the client also sends, which must be ignored
}

func (c *apiClient) do(method, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if c.token != "" {
		req.Header.Set(c.header, c.token)
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	if v, ok := rec.Header()[http.CanonicalHeaderKey(c.header)]; ok {
		c.token = v[0]
	}
	return rec
}

func apiRouter(m *chisess.Manager, header string) http.Handler {
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	r.Route("/api", func(r chi.Router) {
		r.Use(chisess.TokenHeader(header), chisess.Autoload)
		r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
			s := chisess.From(r.Context())
			s.RenewToken()
			s.Set("user", "ada")
		})
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			u, _ := chisess.Get[string](chisess.From(r.Context()), "user")
			n, _ := chisess.Get[int](chisess.From(r.Context()), "calls")
			chisess.From(r.Context()).Set("calls", n+1)
			fmt.Fprint(w, u)
		})
		r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
			chisess.From(r.Context()).Destroy()
		})
	})
	r.With(chisess.Autoload).Get("/page", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("page", true)
	})
	return r
}

func TestTokenHeader(t *testing.T) {
	for _, header := range []string{"Authorization", "X-Session-Token"} {
		t.Run(header, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m := newManager(t, tm.cfg)
				h := apiRouter(m, header)
				c := &apiClient{h: h, header: header}

				rec := c.do("POST", "/api/login")
				is.Equal(rec.Code, http.StatusOK)
				is.Equal(len(rec.Result().Cookies()), 0)                // no cookie on a header route
				is.True(c.token != "")                                  // the token comes back in the header
				is.Equal(rec.Header().Get("Cache-Control"), "no-store") // and is never cached
				is.True(hasHeaderValue(rec.Header(), "Vary", header))   // the response varies on the header
				if header == "Authorization" {
					is.True(strings.HasPrefix(c.token, "Bearer ")) // in the Bearer form
				}
				loginToken := c.token

				rec = c.do("GET", "/api/me")
				is.Equal(rec.Body.String(), "ada") // the header carries the session
				if tm.b != nil {
					is.Equal(c.token, loginToken) // an unchanged token is not sent again
					_, sent := rec.Header()[header]
					is.True(!sent)
				}

				// A cookie never stands in for the header.
				cookieUser := newClient(t, m, h)
				cookieUser.do("GET", "/page")
				thief := &apiClient{h: h, header: header, cookie: "session=" + cookieUser.cookie}
				is.Equal(thief.do("GET", "/api/me").Body.String(), "") // cookies are not read under TokenHeader

				rec = c.do("POST", "/api/logout")
				v, sent := rec.Header()[header]
				is.True(sent && v[0] == "") // logout clears the token
				is.Equal(c.do("GET", "/api/me").Body.String(), "")
			})
		})
	}
}

func TestTokenHeaderWiring(t *testing.T) {
	is := is.New(t)
	func() {
		defer func() { is.True(recover() != nil) }() // a bad header name fails at wiring time
		chisess.TokenHeader("bad header")
	}()
	m := newManager(t, chisess.Config{Secret: testSecret})
	r := chi.NewRouter()
	r.Use(chisess.Load(m), chisess.Autoload, chisess.TokenHeader("X-Token"))
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {})
	defer func() {
		is.True(strings.Contains(fmt.Sprint(recover()), "before the session is loaded")) // too late in the chain
	}()
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}
