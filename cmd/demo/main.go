// Command demo is a small web app that shows what chisess does: a visit
// counter, sign-in with a new session token (RenewToken), a members-only route
// group (Autoload and Require), flash messages, typed keys, session
// metadata, a server-sent event stream that changes the session, "keep me
// signed in" (RememberMe), a "your devices" page that logs other devices
// out (owner index: every backend but the cookie), and a small JSON API
// whose sessions travel in the Authorization header (TokenHeader).
//
// Run it from the repository root:
//
//	go run ./cmd/demo                     # cookie backend, http://127.0.0.1:8080
//	go run ./cmd/demo -backend memory
//	go run ./cmd/demo -backend bolt -bolt-path /tmp/sessions.db
//	CHISESS_REDIS_ADDR=localhost:6379 go run ./cmd/demo -backend redis
//	CHISESS_POSTGRES_URL=postgres://localhost/demo go run ./cmd/demo -backend postgres
//
// Sign in with any user name and the password "demo". Add -log-events to
// log every session event (chisess.LogEvents), and -otel stdout to write
// the sessions' OpenTelemetry spans and metrics (otelchisess) to stdout.
//
// The cookie backend seals sessions with SESSION_SECRET. In development
// (the default) a missing secret is replaced by a random one for the run;
// with -dev=false or DEMO_ENV=production the demo refuses to start without
// it. Generate one with `openssl rand -base64 32`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chisess/kit/chisess"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// shutdownTimeout bounds the wait for in-flight requests (a running event
// stream included) when the demo is asked to stop.
const shutdownTimeout = 10 * time.Second

// run starts the demo and blocks until SIGINT or SIGTERM. It returns the
// exit code: 2 for bad flags or configuration, 1 when the server cannot
// start or fails.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 2
	}
	// -log-events turns on debug logging, where chisess.LogEvents logs
	// each load and commit (and the demo each static file).
	level := slog.LevelInfo
	if cfg.LogEvents {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	generated, err := cfg.checkSecret()
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 2
	}
	if generated {
		logger.Warn("SESSION_SECRET is not set: using a random secret for this run, so sessions will not survive a restart; generate one with `openssl rand -base64 32`")
	}

	if cfg.OTel != "" {
		obs, shutdown, err := newTelemetry(cfg.OTel, stdout)
		if err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 2
		}
		cfg.Observer = obs
		defer func() {
			if err := shutdown(context.Background()); err != nil {
				logger.Error("flush the OpenTelemetry exporters", "err", err)
			}
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	handler, closeStore, err := newApp(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		if errors.Is(err, chisess.ErrInvalidConfig) {
			return 2 // such as -idle longer than -lifetime
		}
		return 1
	}
	defer func() {
		if err := closeStore(); err != nil {
			logger.Error("close the session backend", "err", err)
		}
		logger.Info("stopped")
	}()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "chisess demo on %s (backend: %s)\n", displayURL(ln.Addr().String()), cfg.Backend)
	if host, _, _ := net.SplitHostPort(cfg.Addr); !cfg.Insecure && !isLoopback(host) {
		logger.Warn("the session cookie is Secure: browsers keep it over https, and over plain http only on localhost or 127.0.0.1; add -insecure to serve plain http under another name")
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second, // the event stream sets its own deadline
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		logger.Error("server stopped", "err", err)
		return 1
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C now kills at once
	logger.Info("shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Error("shutdown", "err", err)
		srv.Close()
		return 1
	}
	return 0
}

// displayURL turns a listen address into a URL a browser can open.
func displayURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// isLoopback reports whether host is one browsers treat as a secure origin
// over plain http.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
