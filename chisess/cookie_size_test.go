package chisess_test

// Config.MaxCookieSize: the sealed cookie's limit, name and value, checked
// by the writer (at Set, and at commit) and by the reader.

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
)

// largestAccepted returns the longest string value that m takes under one
// key of a new session, found by asking Issue (which checks a value as Set
// does) in a binary search.
func largestAccepted(t *testing.T, m *chisess.Manager) int {
	t.Helper()
	fits := func(n int) bool {
		_, err := m.Issue(context.Background(), map[string]any{"v": strings.Repeat("x", n)})
		if err != nil && !errors.Is(err, chisess.ErrCookieTooLarge) {
			t.Fatalf("Issue: %v", err)
		}
		return err == nil
	}
	lo, hi := 0, 4096 // fits(lo), !fits(hi)
	if !fits(lo) || fits(hi) {
		t.Fatalf("no largest value between %d and %d bytes", lo, hi)
	}
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// sizeApp serves /set/{n}, which sets a value of n bytes and keeps Set's
// error, and /get, which answers with the length of the value the session
// holds.
func sizeApp(t *testing.T, m *chisess.Manager, setErr *error) http.Handler {
	r := newRouter(t, m)
	r.Post("/set/{n}", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		n, _ := strconv.Atoi(chi.URLParam(r, "n"))
		*setErr = s.Set("v", strings.Repeat("x", n))
	}))
	r.Get("/get", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		v, _ := chisess.Get[string](s, "v")
		w.Write([]byte(strconv.Itoa(len(v))))
	}))
	return r
}

// TestMaxCookieSizeLargestCookieReadsBack: under each limit, the largest
// value Set accepts makes a cookie within the limit that reads back whole;
// one byte more fails at Set with ErrCookieTooLarge (and ErrTooLarge),
// leaves the session as it was and sends no cookie. Modelled on
// starsessions' test_cookie_max_size_enforced and
// test_cookie_max_size_not_exceeded (tests/backends/test_cookie.py) and
// gorilla/sessions' TestGH2MaxLength (store_test.go), which save a value
// past the limit, then within a raised one.
func TestMaxCookieSizeLargestCookieReadsBack(t *testing.T) {
	tests := []struct {
		name  string
		limit int // Config.MaxCookieSize
		want  int // the limit in force
	}{
		{"default", 0, 4096},
		{"the browsers' limit", 4096, 4096},
		{"lowered", 2000, 2000},
		{"the floor", 512, 512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			m := newManager(t, chisess.Config{Secret: testSecret, MaxCookieSize: tt.limit})
			n := largestAccepted(t, m)
			var setErr error
			c := newClient(t, m, sizeApp(t, m, &setErr))

			rec := c.do("POST", "/set/"+strconv.Itoa(n))
			is.NoErr(setErr)
			is.Equal(rec.Code, http.StatusOK)
			size := len(m.CookieName()) + 1 + len(mustSetCookie(t, rec, m.CookieName()).Value)
			is.True(size <= tt.want)                                     // the cookie, name and value, is within the limit
			is.True(size > tt.want-100)                                  // and the limit is what it says, not much less
			is.Equal(c.do("GET", "/get").Body.String(), strconv.Itoa(n)) // and reads back whole

			rec = c.do("POST", "/set/"+strconv.Itoa(n+1))
			is.True(errors.Is(setErr, chisess.ErrCookieTooLarge)) // one byte more is refused at Set
			is.True(errors.Is(setErr, chisess.ErrTooLarge))       // (ErrTooLarge too, as for every limit)
			is.True(strings.Contains(setErr.Error(), "Config.MaxCookieSize is "+strconv.Itoa(tt.want)))
			is.Equal(rec.Header().Values("Set-Cookie"), nil)             // the session is unchanged: no cookie
			is.Equal(c.do("GET", "/get").Body.String(), strconv.Itoa(n)) // and the value before stays

			fresh := c.withCookie("")
			rec = fresh.do("POST", "/set/"+strconv.Itoa(n+1))
			is.True(errors.Is(setErr, chisess.ErrCookieTooLarge)) // a new session is refused too
			is.Equal(rec.Header().Values("Set-Cookie"), nil)      // and gets no cookie
		})
	}
}

// TestMaxCookieSizeReader: the reader takes every cookie up to the limit,
// and none past it. A cookie of L bytes reads back under a limit of L, and
// is refused under L-1 like a malformed cookie (a new session, the cookie
// deleted, ReasonMalformed), so lowering the limit ends the sessions that
// no longer fit instead of failing their next save. Under a rotated secret,
// the cookie at the limit is sealed again with the new secret, and fits.
func TestMaxCookieSizeReader(t *testing.T) {
	is := is.New(t)
	const oldSecret = testSecret
	writer := newManager(t, chisess.Config{Secret: oldSecret})
	n := largestAccepted(t, writer)
	var setErr error
	rec := newClient(t, writer, sizeApp(t, writer, &setErr)).do("POST", "/set/"+strconv.Itoa(n))
	is.NoErr(setErr)
	value := mustSetCookie(t, rec, writer.CookieName()).Value
	size := len(writer.CookieName()) + 1 + len(value)

	tests := []struct {
		name     string
		cfg      chisess.Config
		reads    bool
		resealed bool
	}{
		{"limit at the cookie", chisess.Config{Secret: oldSecret, MaxCookieSize: size}, true, false},
		{"limit one byte under", chisess.Config{Secret: oldSecret, MaxCookieSize: size - 1}, false, false},
		{"limit at the cookie, secret rotated", chisess.Config{Secret: testSecret + "-new", PreviousSecrets: []string{oldSecret}, MaxCookieSize: size}, true, true},
		{"limit one byte under, secret rotated", chisess.Config{Secret: testSecret + "-new", PreviousSecrets: []string{oldSecret}, MaxCookieSize: size - 1}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			var log eventLog
			cfg := tt.cfg
			cfg.OnEvent = log.hook
			reader := newManager(t, cfg)
			var setErr error
			c := newClient(t, reader, sizeApp(t, reader, &setErr)).withCookie(value)
			rec := c.do("GET", "/get")
			is.Equal(rec.Code, http.StatusOK)
			if !tt.reads {
				is.Equal(rec.Body.String(), "0")                                                   // a cookie past the limit is not read
				is.True(slices.Contains(log.take(), "rejected:"+chisess.ReasonMalformed.String())) // but rejected as malformed
				is.Equal(mustSetCookie(t, rec, reader.CookieName()).MaxAge, -1)                    // and deleted
				return
			}
			is.Equal(rec.Body.String(), strconv.Itoa(n)) // the largest cookie reads back whole
			sc := setCookie(rec, reader.CookieName())
			if !tt.resealed {
				is.Equal(sc, nil) // a read sends nothing
				return
			}
			is.True(sc != nil)                                        // sealed again with the new secret
			is.True(len(reader.CookieName())+1+len(sc.Value) <= size) // and still within the limit
			current := newManager(t, chisess.Config{Secret: testSecret + "-new", MaxCookieSize: size})
			s, err := current.Inspect(context.Background(), sc.Value)
			is.NoErr(err) // it opens without the old secret
			v, _ := chisess.Get[string](s, "v")
			is.Equal(len(v), n)
		})
	}
}

// TestMaxCookieSizeIsForTheCookieBackend: with a server-side backend the
// cookie holds a token, and a low MaxCookieSize limits nothing.
func TestMaxCookieSizeIsForTheCookieBackend(t *testing.T) {
	forEachServerMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		cfg := tm.cfg
		cfg.MaxCookieSize = 512
		m := newManager(t, cfg)
		var setErr error
		c := newClient(t, m, sizeApp(t, m, &setErr))
		c.do("POST", "/set/3000")
		is.NoErr(setErr)                                    // far past the cookie limit, stored on the server
		is.Equal(c.do("GET", "/get").Body.String(), "3000") // and read back
	})
}
