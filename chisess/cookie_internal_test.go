package chisess

import (
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
