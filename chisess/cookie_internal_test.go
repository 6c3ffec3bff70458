package chisess

import (
	"errors"
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
			for _, age := range []int64{0, 1, 3600, 400 * 24 * 3600} {
				is := is.New(t)
				byHand, err := http.ParseSetCookie(string(c.appendAttrs([]byte(cfg.CookieName+"=v"), age, now)))
				is.NoErr(err)
				viaNetHTTP, err := http.ParseSetCookie(c.httpCookie("v", age, now).String())
				is.NoErr(err)
				byHand.Raw, viaNetHTTP.Raw = "", "" // the attributes' order may differ
				is.Equal(byHand, viaNetHTTP)        // the same cookie
				if age > 0 {
					is.Equal(byHand.Expires, now.Add(time.Duration(age)*time.Second).UTC().Truncate(time.Second)) // Expires is the instant Max-Age names
				}
			}
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
