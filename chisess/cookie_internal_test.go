package chisess

import (
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// The session cookie is written on two paths: by hand (appendAttrs, every
// commit) and as an *http.Cookie that net/http writes (httpCookie, for
// Manager.Issue). For every config and age, both must parse to the same
// cookie.
func TestCookieSpecPathsAgree(t *testing.T) {
	configs := []Config{
		{Secret: strings.Repeat("s", 32)},
		{Secret: strings.Repeat("s", 32), Partitioned: true, SameSite: http.SameSiteNoneMode},
		{Secret: strings.Repeat("s", 32), Path: "/app", Domain: ".example.com", SameSite: http.SameSiteStrictMode, Partitioned: true},
		{Secret: strings.Repeat("s", 32), Insecure: true},
	}
	nows := []time.Time{
		time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2030, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("CEST", 2*3600)),
	}
	for _, cfg := range configs {
		cfg, err := cfg.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		c := newCookieSpec(&cfg)
		for _, now := range nows {
			for _, left := range []time.Duration{0, time.Millisecond, time.Second, time.Hour + 1500*time.Millisecond, 400 * 24 * time.Hour, 200 * 365 * 24 * time.Hour} {
				is := is.New(t)
				end := now.Add(left).Truncate(time.Millisecond) // session ends are whole milliseconds
				life := lifeUntil(left > 0, end, now)
				byHand, err := http.ParseSetCookie(string(c.appendAttrs([]byte(cfg.CookieName+"=v"), life)))
				is.NoErr(err)
				viaNetHTTP, err := http.ParseSetCookie(c.httpCookie("v", life).String())
				is.NoErr(err)
				byHand.Raw, viaNetHTTP.Raw = "", "" // the attributes' order may differ
				is.Equal(byHand, viaNetHTTP)        // the same cookie
				if left == 0 {
					is.Equal(byHand.MaxAge, 0) // a browser-session cookie
					is.True(byHand.Expires.IsZero())
					continue
				}
				is.True(!byHand.Expires.Before(end) && byHand.Expires.Before(end.Add(time.Second)))                 // Expires: the end, rounded up to the second
				is.True(!now.Add(time.Duration(byHand.MaxAge) * time.Second).Before(end))                           // Max-Age never ends the cookie before the session
				is.Equal(lifeUntil(true, end, now.Add(-left/2-999*time.Millisecond)).expires, byHand.Expires.UTC()) // an earlier response names the same instant
			}
			// The longest lifetime (MaxLifetime at the longest Duration)
			// saturates rather than wraps around.
			is := is.New(t)
			end := now.Add(math.MaxInt64)
			life := lifeUntil(true, end, now)
			is.True(life.age >= int64(math.MaxInt64/time.Second)) // not cut short by an overflow
			is.True(!life.expires.Before(end.Truncate(time.Second)))
		}
	}
}

// A commit seals what Set and the merge let through, so the cookie limit is
// checked before; the commit checks the sealed cookie again, as a last
// resort, and never sends one past Config.MaxCookieSize.
func TestSealRefusesACookiePastTheLimit(t *testing.T) {
	is := is.New(t)
	m, err := New(Config{Secret: strings.Repeat("s", 32), MaxCookieSize: 512})
	is.NoErr(err)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := newRecord(now)
	rec.set(-1, "v", []byte(strings.Repeat("x", 400))) // past the limit once sealed, bypassing Set's check
	_, err = m.seal(nil, newToken(), &rec, now)
	is.True(errors.Is(err, ErrCookieTooLarge)) // refused
	is.True(errors.Is(err, ErrTooLarge))

	rec = newRecord(now)
	rec.set(-1, "v", []byte(strings.Repeat("x", 200)))
	b, err := m.seal([]byte(m.cfg.CookieName+"="), newToken(), &rec, now)
	is.NoErr(err)          // within it, sealed
	is.True(len(b) <= 512) // name, "=" and value
}
