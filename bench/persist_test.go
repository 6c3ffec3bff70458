package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/matryer/is"
)

// TestAdaptersPersist runs every scenario once per library through the
// adapters and requests the benchmarks use, and checks that each did its
// job: a fast number must never come from an adapter that reads nothing or
// loses its writes.
func TestAdaptersPersist(t *testing.T) {
	t.Run(bare.name, func(t *testing.T) {
		is := is.New(t)
		inst := bare.setup(t)
		rec := serve(inst.handler, requests(t, inst, scBare, 1)[0])
		is.Equal(rec.Code, http.StatusOK)                   // bare chi serves the untouched route
		is.Equal(rec.Body.String(), "ok")                   // with its body
		is.Equal(len(rec.Header().Values("Set-Cookie")), 0) // and sets no cookie
	})
	for _, lib := range libraries {
		t.Run(lib.name, func(t *testing.T) {
			if lib.needs != "" {
				requireService(t, lib.needs)
			}
			inst := lib.setup(t)

			t.Run("untouched", func(t *testing.T) {
				is := is.New(t)
				rec := serve(inst.handler, requests(t, inst, scUntouched, 1)[0])
				is.Equal(rec.Code, http.StatusOK)                   // untouched route answers
				is.Equal(len(rec.Header().Values("Set-Cookie")), 0) // a route that never uses the session sets no cookie
			})

			t.Run("read", func(t *testing.T) {
				is := is.New(t)
				rec := serve(inst.handler, requests(t, inst, scRead, 1)[0])
				is.Equal(rec.Code, http.StatusOK)     // read answers
				is.Equal(rec.Body.String(), readWant) // read sees the seeded string
			})

			t.Run("rmw", func(t *testing.T) {
				is := is.New(t)
				req := requests(t, inst, scRMW, 1)[0]
				orig := cookieOf(t, req)

				rec := serve(inst.handler, req)
				is.Equal(rec.Code, http.StatusOK) // rmw answers
				after := sessionCookie(rec)
				if lib.cookieStore {
					is.True(after != nil) // a cookie store must send the new cookie, or the write is lost
				}
				if after == nil {
					after = orig
				}
				is.Equal(counter(t, inst, after), "2")       // the incremented counter persisted
				is.Equal(readWith(t, inst, after), readWant) // and the other keys survived the write
				if !lib.cookieStore {
					// The benchmark updates one session in place on every
					// iteration: the cookie it sends must see the write.
					is.Equal(counter(t, inst, orig), "2") // server store updated the session in place
				}

				rec = serve(inst.handler, withCookie(pathRMW, after))
				is.Equal(rec.Code, http.StatusOK) // a second rmw answers
				if c := sessionCookie(rec); c != nil {
					after = c
				}
				is.Equal(counter(t, inst, after), "3") // and increments again
			})

			t.Run("new", func(t *testing.T) {
				is := is.New(t)
				rec := serve(inst.handler, requests(t, inst, scNew, 1)[0])
				is.Equal(rec.Code, http.StatusOK) // new answers
				c := sessionCookie(rec)
				is.True(c != nil)                  // a new session sets its cookie
				is.Equal(counter(t, inst, c), "1") // and a later request sees its key
				is.Equal(readWith(t, inst, c), "") // it is a new session, not a seeded one: there is no string to read
			})
		})
	}
}

func cookieOf(t *testing.T, req *http.Request) *http.Cookie {
	t.Helper()
	c, err := req.Cookie(cookieName)
	if err != nil {
		t.Fatalf("request has no %s cookie: %v", cookieName, err)
	}
	return c
}

func withCookie(path string, c *http.Cookie) *http.Request {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.AddCookie(c)
	return req
}

// counter returns the counter the session of c holds, as the body of
// /counter.
func counter(t *testing.T, inst instance, c *http.Cookie) string {
	t.Helper()
	rec := serve(inst.handler, withCookie(pathCounter, c))
	if rec.Code != http.StatusOK {
		t.Fatalf("/counter: status %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// readWith returns the body of /read with c, or "" when it fails.
func readWith(t *testing.T, inst instance, c *http.Cookie) string {
	t.Helper()
	rec := serve(inst.handler, withCookie(pathRead, c))
	if rec.Code != http.StatusOK {
		return ""
	}
	return rec.Body.String()
}
