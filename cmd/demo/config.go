package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
)

// appConfig is everything the demo needs to build its handler. parseConfig
// fills it from flags and environment variables; tests build it directly.
type appConfig struct {
	Addr        string // listen address
	Backend     string // cookie, memory, bolt, redis or postgres
	BoltPath    string // bbolt file for -backend bolt
	RedisAddr   string // host:port or redis:// URL for -backend redis
	PostgresURL string // connection string for -backend postgres
	Dev         bool   // development mode: a missing secret is generated
	Insecure    bool   // drop the cookie's Secure attribute
	IdleTimeout time.Duration
	Lifetime    time.Duration
	Rolling     bool
	// LogEvents logs every session event (chisess.LogEvents): creation,
	// renewal, destruction, rejected cookies and errors at Info and above,
	// every load and commit at Debug. run turns the log level down to
	// Debug for it.
	LogEvents bool
	// OTel names where the sessions' traces and metrics go (otelchisess):
	// "" for nowhere, "stdout". run makes Observer from it.
	OTel string
	// Observer, when set, is the chisess.Config.Observer: run's from
	// -otel, or a test's.
	Observer chisess.Observer

	// Secret seals cookie-backend sessions. It comes from SESSION_SECRET
	// only, never from a flag, so it does not show up in ps output.
	Secret string

	// TickEvery and Ticks shape the /stream/events endpoint: Ticks events,
	// the first at once and the others TickEvery apart. Tests shorten it.
	TickEvery time.Duration
	Ticks     int
}

// backendNames lists the -backend values, in the order the help shows them.
var backendNames = []string{"cookie", "memory", "bolt", "redis", "postgres"}

// errNoSecret is returned by checkSecret in production mode when the cookie
// backend has no secret.
var errNoSecret = errors.New("SESSION_SECRET is not set: generate one with `openssl rand -base64 32`")

// parseConfig reads the flags in args, falling back to environment
// variables (through getenv) for their defaults. Help output and flag
// errors go to stderr. It does not check the secret: see checkSecret.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (appConfig, error) {
	cfg := appConfig{TickEvery: time.Second, Ticks: 5}
	var envErr error
	envDuration := func(key string, def time.Duration) time.Duration {
		v := getenv(key)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil && envErr == nil {
			envErr = fmt.Errorf("%s=%q: %v", key, v, err)
		}
		return d
	}
	envOr := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}

	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: demo [flags]\n\nA small web app that shows every chisess feature.\n"+
			"The session secret comes from SESSION_SECRET (cookie backend).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Addr, "addr", envOr("DEMO_ADDR", "127.0.0.1:8080"), "listen `address` (env DEMO_ADDR)")
	fs.StringVar(&cfg.Backend, "backend", envOr("DEMO_BACKEND", "cookie"),
		"session `store`: "+strings.Join(backendNames, ", ")+" (env DEMO_BACKEND)")
	fs.StringVar(&cfg.BoltPath, "bolt-path", envOr("DEMO_BOLT_PATH", "demo-sessions.db"), "bbolt `file` for -backend bolt (env DEMO_BOLT_PATH)")
	fs.StringVar(&cfg.RedisAddr, "redis-addr", getenv("CHISESS_REDIS_ADDR"), "Redis `host:port` or redis:// URL for -backend redis (env CHISESS_REDIS_ADDR)")
	fs.StringVar(&cfg.PostgresURL, "postgres-url", getenv("CHISESS_POSTGRES_URL"), "PostgreSQL connection `URL` for -backend postgres (env CHISESS_POSTGRES_URL)")
	fs.BoolVar(&cfg.Dev, "dev", getenv("DEMO_ENV") != "production",
		"development mode: without SESSION_SECRET, use a random one for this run (env DEMO_ENV=production turns it off)")
	fs.BoolVar(&cfg.Insecure, "insecure", false,
		"drop the cookie's Secure attribute; needed only when serving plain HTTP on a host name other than localhost or 127.0.0.1")
	fs.DurationVar(&cfg.IdleTimeout, "idle", envDuration("DEMO_IDLE", 30*time.Minute), "end sessions unused for this `long`; 0 disables (env DEMO_IDLE)")
	fs.DurationVar(&cfg.Lifetime, "lifetime", envDuration("DEMO_LIFETIME", 0),
		"absolute session `lifetime`; 0 = browser-session cookie, ended by the server after 24h (env DEMO_LIFETIME)")
	fs.BoolVar(&cfg.Rolling, "rolling", false, "count the lifetime from the last request instead of from login")
	fs.BoolVar(&cfg.LogEvents, "log-events", false,
		"log every session event with chisess.LogEvents: created, renewed, destroyed, rejected cookies and errors, and (at debug level, which this turns on) every load and commit")
	fs.StringVar(&cfg.OTel, "otel", getenv("DEMO_OTEL"),
		"export the sessions' OpenTelemetry traces and metrics (otelchisess) to `where`: "+strings.Join(otelExporters, ", ")+"; empty for nowhere (env DEMO_OTEL)")
	if envErr != nil {
		return cfg, envErr
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	known := false
	for _, b := range backendNames {
		known = known || cfg.Backend == b
	}
	if !known {
		return cfg, fmt.Errorf("-backend %q: choose one of %s", cfg.Backend, strings.Join(backendNames, ", "))
	}
	if cfg.OTel != "" && !slices.Contains(otelExporters, cfg.OTel) {
		return cfg, fmt.Errorf("-otel %q: choose one of %s, or leave it empty", cfg.OTel, strings.Join(otelExporters, ", "))
	}
	cfg.Secret = getenv("SESSION_SECRET")
	return cfg, nil
}

// checkSecret makes sure the cookie backend has a secret, and that a secret
// that is set is long enough. In development
// mode a missing secret is replaced by a random one and generated reports
// true, so the caller can warn that sessions will not survive a restart; in
// production mode it is an error. Server-side backends keep the data on the
// server and need no secret; one that is set is still passed to chisess,
// which checks its length.
func (cfg *appConfig) checkSecret() (generated bool, err error) {
	if cfg.Secret != "" && len(cfg.Secret) < backend.MinSecretLen {
		return false, fmt.Errorf("SESSION_SECRET is %d bytes, too short: use at least %d random bytes, for example from `openssl rand -base64 32`",
			len(cfg.Secret), backend.MinSecretLen)
	}
	if cfg.Secret != "" || cfg.Backend != "cookie" {
		return false, nil
	}
	if !cfg.Dev {
		return false, errNoSecret
	}
	b := make([]byte, 32)
	rand.Read(b) // never fails: crypto/rand panics rather than return an error
	cfg.Secret = base64.StdEncoding.EncodeToString(b)
	return true, nil
}
