package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// requireService returns the environment variable env, or skips the test
// when it is unset, failing it instead under CHISESS_REQUIRE_SERVICES=1
// (CI), so that a missing service never passes silently.
func requireService(t *testing.T, env string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	if os.Getenv("CHISESS_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is not set, but CHISESS_REQUIRE_SERVICES=1 requires it: source scripts/services.sh and run services_start", env)
	}
	t.Skipf("%s is not set; scripts/services.sh (services_start) starts the service", env)
	return ""
}

// storesFor returns the stores the backend needs, from the environment.
func storesFor(t *testing.T, name string) stores {
	var st stores
	switch name {
	case "redis":
		st.RedisAddr = requireService(t, "CHISESS_REDIS_ADDR")
	case "cluster":
		st.ClusterAddrs = strings.Split(requireService(t, "CHISESS_REDIS_CLUSTER_ADDRS"), ",")
	case "postgres":
		st.PostgresURL = requireService(t, "CHISESS_POSTGRES_URL")
	case "bolt":
		st.BoltDir = t.TempDir()
	case "sentinel": // the tool starts its own
		requireCommands(t, "redis-server", "redis-sentinel")
	}
	return st
}

// shortRun is a run bounded by its request count: enough for every
// virtual user's opening, which plays every kind of request, so what a
// run covers does not depend on the machine's speed. The time bound is
// only a backstop.
func shortRun(t *testing.T, name, brk string) Result {
	t.Helper()
	cfg := config{VUs: 20, Duration: 2 * time.Minute, Requests: 3000, Seed: 1,
		Timeout: 30 * time.Second, Break: brk, Stores: storesFor(t, name)}
	res, err := runLoad(t.Context(), cfg, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// allKinds lists every kind of request the tool sends.
var allKinds = []string{kAPILogin, kAPILogout, kAPIRead, kAPIWrite, kLogin, kLogout, kLogoutAll, kProbe, kRead, kStream, kWrite}

// TestCleanRun runs the tool on every backend: every answer must match its
// model, no request may fail, and every kind of request must have run.
func TestCleanRun(t *testing.T) {
	for _, name := range backendNames {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			res := shortRun(t, name, "")
			if !res.clean() || res.AppSessionErrors != 0 {
				t.Fatalf("lost %d, resurrected %d, wrong data %d, errors %v, app session errors %d:\n%s",
					res.Lost, res.Resurrected, res.WrongData, res.Errors, res.AppSessionErrors, strings.Join(res.Problems, "\n"))
			}
			is.Equal(res.Requests, int64(3000)) // the count bound, not the time bound, ended the run
			var kinds []string
			for _, k := range res.Kinds {
				if k.Requests > 0 {
					kinds = append(kinds, k.Name)
				}
			}
			is.Equal(kinds, allKinds) // every kind of request ran
			is.True(len(res.Series) > 0)
			var sum int64
			for _, s := range res.Series {
				sum += s.Requests
			}
			is.Equal(sum, res.Requests) // the series adds up to the run
		})
	}
}

// TestBrokenAppsAreCaught runs the deliberately broken apps: the checker
// must count what each breaks.
func TestBrokenAppsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		brk    string
		caught func(Result) bool
		want   string
	}{
		{"logout", func(r Result) bool { return r.Resurrected > 0 }, "resurrected sessions"},
		{"writes", func(r Result) bool { return r.WrongData+r.Lost > 0 }, "wrong data or lost sessions"},
		{"store", func(r Result) bool { return r.Lost > 0 }, "lost sessions"},
	} {
		t.Run(tc.brk, func(t *testing.T) {
			res := shortRun(t, "memory", tc.brk)
			if !tc.caught(res) {
				t.Fatalf("the app broken by %q: want %s, got lost %d, resurrected %d, wrong data %d, errors %v",
					tc.brk, tc.want, res.Lost, res.Resurrected, res.WrongData, res.Errors)
			}
			if res.clean() {
				t.Fatal("a broken app's run is clean")
			}
		})
	}
}

// TestRun runs the command as a user does: its outputs and exit status.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"clean", []string{"-vus", "4", "-requests", "300", "-seed", "7"}, 0, ""},
		{"broken", []string{"-vus", "4", "-requests", "300", "-break", "logout"}, 1, ""},
		{"no users", []string{"-vus", "0"}, 2, "-vus 0"},
		{"no time bound", []string{"-duration", "0s"}, 2, "-duration 0s"},
		{"unknown backend", []string{"-backend", "memory,mongo"}, 2, `-backend "mongo"`},
		{"unknown break", []string{"-break", "everything"}, 2, `-break "everything"`},
		{"argument", []string{"now"}, 2, `unexpected argument "now"`},
		{"unknown fault", []string{"-backend", "redis", "-fault", "flood"}, 2, `-fault "flood"`},
		{"fault without its server", []string{"-fault", "redis-restart"}, 2, "-backend redis only"},
		{"failover on another backend", []string{"-backend", "redis", "-fault", "sentinel-failover"}, 2, "-backend sentinel only"},
		{"fault after the end", []string{"-backend", "redis", "-fault", "redis-restart", "-fault-at", "2m"}, 2, "-fault-at 2m0s"},
		{"help", []string{"-h"}, 0, "Usage: chisessload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			jsonFile := filepath.Join(dir, tc.name+".json")
			mdFile := filepath.Join(dir, tc.name+".md")
			svgDir := filepath.Join(dir, tc.name+"-svg")
			args := append([]string{"-duration", "1m", "-json", jsonFile, "-report", mdFile, "-svg", svgDir}, tc.args...)
			var stdout, stderr bytes.Buffer
			status := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
			is.Equal(status, tc.status)
			is.True(strings.Contains(stderr.String(), tc.stderr))
			if tc.status == 2 || tc.name == "help" {
				return
			}
			b, err := os.ReadFile(jsonFile)
			is.NoErr(err)
			var rep Report
			is.NoErr(json.Unmarshal(b, &rep))
			is.Equal(len(rep.Runs), 1)
			is.Equal(rep.Runs[0].Requests, int64(300))
			is.Equal(rep.Runs[0].Backend, "memory")
			is.True(rep.Machine.CPUs > 0)
			md, err := os.ReadFile(mdFile)
			is.NoErr(err)
			is.True(strings.Contains(string(md), "| memory"))
			is.True(strings.Contains(stderr.String(), "100%")) // the progress line
			if tc.name == "clean" {
				is.Equal(rep.Runs[0].Seed, uint64(7))
			}
			svgs, err := filepath.Glob(filepath.Join(svgDir, "memory-*.svg"))
			is.NoErr(err)
			is.Equal(len(svgs), 4) // the charts
		})
	}
}

// TestLatencyOf checks the percentiles (nearest rank).
func TestLatencyOf(t *testing.T) {
	is := is.New(t)
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	is.Equal(latencyOf(lat), Latency{P50: 50, P95: 95, P99: 99, Max: 100})
	is.Equal(latencyOf(nil), Latency{})
	is.True(slices.IsSorted(lat))
}
