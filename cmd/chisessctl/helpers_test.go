package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chisess/kit/chisess"
)

// The variables scripts/services.sh exports, as chisess/internal/testenv
// reads them (an internal package this module cannot import).
const (
	envRedis    = "CHISESS_REDIS_ADDR"
	envCluster  = "CHISESS_REDIS_CLUSTER_ADDRS"
	envPostgres = "CHISESS_POSTGRES_URL"
	envRequire  = "CHISESS_REQUIRE_SERVICES"
)

// requireService returns the value of env. When it is unset, it skips t,
// or fails it when CHISESS_REQUIRE_SERVICES=1.
func requireService(t testing.TB, env string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	if os.Getenv(envRequire) == "1" {
		t.Fatalf("%s is not set, but %s=1 requires this test: source scripts/services.sh and run services_start", env, envRequire)
	}
	t.Skipf("%s is not set; scripts/services.sh (services_start) starts the service", env)
	return ""
}

// randomName returns prefix followed by 16 random hex digits.
func randomName(prefix string) string {
	var b [8]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return prefix + hex.EncodeToString(b[:])
}

// result is what one run of chisessctl gave.
type result struct {
	code           int
	stdout, stderr string
}

// ctl runs chisessctl with args and only the environment in env; stdin
// is empty.
func ctl(env map[string]string, args ...string) result {
	return ctlStdin(env, "", args...)
}

func ctlStdin(env map[string]string, stdin string, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// decodeJSON parses a run's stdout into v, failing t with the run's output.
func decodeJSON(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not the JSON expected (%v):\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
}

// signIn runs one request through m that loads a session and lets setup
// change it, and returns the session cookie's value.
func signIn(t *testing.T, m *chisess.Manager, setup func(s *chisess.Session) error) string {
	t.Helper()
	h := chisess.Load(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			t.Errorf("load: %v", err)
			return
		}
		if err := setup(s); err != nil {
			t.Errorf("setup: %v", err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), "GET", "https://example.com/", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == m.CookieName() && c.Value != "" {
			return c.Value
		}
	}
	t.Fatalf("the sign-in response set no %s cookie (status %d)", m.CookieName(), rec.Code)
	return ""
}

// owned returns a setup for signIn that ties the session to owner with a
// description, a value, and RememberMe when remember is set.
func owned(owner, desc string, remember bool) func(s *chisess.Session) error {
	return func(s *chisess.Session) error {
		if err := s.Set("user", owner); err != nil {
			return err
		}
		if err := s.SetOwner(owner); err != nil {
			return err
		}
		if err := s.SetDescription(desc); err != nil {
			return err
		}
		if remember {
			return s.RememberMe(true)
		}
		return nil
	}
}
