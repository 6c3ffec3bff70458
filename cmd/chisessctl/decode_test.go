package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/matryer/is"
)

const (
	secretOld   = "the-old-secret-0123456789-abcdefghijklmn"
	secretNew   = "the-new-secret-0123456789-abcdefghijklmn"
	secretWrong = "a-wrong-secret-0123456789-abcdefghijklmn"
)

// decoded is decode's JSON output.
type decoded struct {
	Owner       string            `json:"owner"`
	Description string            `json:"description"`
	Created     time.Time         `json:"created"`
	Expires     time.Time         `json:"expires"`
	Remembered  bool              `json:"remembered"`
	Lifetime    string            `json:"lifetime"`
	Values      map[string]any    `json:"values"`
	Types       map[string]string `json:"types"`
}

// cookieManager returns a cookie-backend manager sealing with secret.
func cookieManager(t *testing.T, secret string, lifetime time.Duration) *chisess.Manager {
	t.Helper()
	m, err := chisess.New(chisess.Config{Secret: secret, Lifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDecode: decode opens a sealed cookie with the secret, or a previous
// secret, from the environment or a file, and shows what the session
// holds; a wrong secret, a forged cookie and an expired session are each a
// clear error with exit code 3, and a missing secret exit code 2.
func TestDecode(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secretNew+"\n"+secretOld+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		sealWith string
		env      map[string]string
		args     []string
		forge    bool
		wantCode int
		wantErr  string // a piece of stderr
	}{
		{name: "the secret", sealWith: secretNew, env: map[string]string{"SESSION_SECRET": secretNew}},
		{name: "a previous secret", sealWith: secretOld, env: map[string]string{"SESSION_SECRET": secretNew, "SESSION_PREVIOUS_SECRETS": secretWrong + "," + secretOld}},
		{name: "a previous secret from a file", sealWith: secretOld, args: []string{"-secret-file", secretFile}},
		{name: "a wrong secret", sealWith: secretNew, env: map[string]string{"SESSION_SECRET": secretWrong}, wantCode: exitNotFound, wantErr: "tampered"},
		{name: "the old secret dropped", sealWith: secretOld, env: map[string]string{"SESSION_SECRET": secretNew}, wantCode: exitNotFound, wantErr: "sealed with a secret not given"},
		{name: "a forged cookie", sealWith: secretNew, env: map[string]string{"SESSION_SECRET": secretNew}, forge: true, wantCode: exitNotFound, wantErr: "tampered"},
		{name: "another cookie name", sealWith: secretNew, env: map[string]string{"SESSION_SECRET": secretNew, "CHISESS_COOKIE_NAME": "other"}, wantCode: exitNotFound, wantErr: `for a cookie name other than "other"`},
		{name: "no secret", sealWith: secretNew, wantCode: exitUsage, wantErr: "needs the app's secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			m := cookieManager(t, tt.sealWith, 0)
			value := signIn(t, m, func(s *chisess.Session) error {
				if err := s.Set("visits", 3); err != nil {
					return err
				}
				if err := owned("ada", "Firefox on Linux", true)(s); err != nil {
					return err
				}
				return s.AddFlash("info", "welcome")
			})
			if tt.forge {
				value = forge(value)
			}
			args := append(append([]string{"-json"}, tt.args...), "decode", value)
			r := ctl(tt.env, args...)
			is.Equal(r.code, tt.wantCode) // the exit code
			if tt.wantCode != exitOK {
				is.Equal(r.stdout, "")                              // nothing on stdout
				is.True(strings.Contains(r.stderr, tt.wantErr))     // stderr says why
				is.True(strings.HasPrefix(r.stderr, "chisessctl:")) // as chisessctl
				t.Log(r.stderr)
				return
			}
			var got decoded
			decodeJSON(t, r, &got)
			is.Equal(got.Owner, "ada")
			is.Equal(got.Description, "Firefox on Linux")
			is.True(got.Remembered)                        // RememberMe(true) was stored
			is.Equal(got.Values["user"], "ada")            // a string value
			is.Equal(got.Values["visits"], float64(3))     // an int, as JSON
			is.Equal(got.Types["visits"], "int")           // whose Go type is kept
			is.True(got.Expires.After(got.Created))        // the session ends after it began
			is.True(time.Since(got.Created) < time.Minute) // created just now
		})
	}
}

// forge changes one character in the middle of a sealed cookie, keeping it
// valid base64url.
func forge(v string) string {
	b := []byte(v)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestDecodeExpired: a session past its lifetime, as -lifetime counts it,
// is an error with exit code 3. The clock is the synctest bubble's.
func TestDecodeExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		m := cookieManager(t, secretNew, time.Hour)
		value := signIn(t, m, owned("ada", "phone", false))
		env := map[string]string{"SESSION_SECRET": secretNew, "CHISESS_LIFETIME": "1h"}
		is.Equal(ctl(env, "decode", value).code, exitOK) // live at first
		time.Sleep(2 * time.Hour)
		r := ctl(env, "decode", value)
		is.Equal(r.code, exitNotFound)                                 // expired
		is.True(strings.Contains(r.stderr, "the session has expired")) // and says so
	})
}

// TestDecodeTable: without -json, decode prints the metadata and a table
// of values; the value may come on stdin, pasted with the cookie's name.
func TestDecodeTable(t *testing.T) {
	is := is.New(t)
	m := cookieManager(t, secretNew, 0)
	value := signIn(t, m, owned("ada", "Firefox on Linux", false))
	r := ctlStdin(map[string]string{"SESSION_SECRET": secretNew}, m.CookieName()+"="+value+"\n", "decode", "-")
	is.Equal(r.code, exitOK) // decode of stdin
	for _, want := range []string{"owner", "ada", "Firefox on Linux", "remembered", "no", "KEY", "TYPE", "VALUE", "user", "string", "lifetime", "browser-session"} {
		is.True(strings.Contains(r.stdout, want)) // the table shows each field
	}
}
