// Package testenv finds the servers the repository's tests need, through
// the environment variables that scripts/services.sh exports, and decides
// what a test does when one is missing: it is skipped on a developer's
// machine, and fails when CHISESS_REQUIRE_SERVICES=1 (CI, where a skip
// would hide a broken service).
package testenv

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// The variables, as scripts/services.sh exports them. The CHISESS_ prefix
// keeps the tests, which create and drop their own keys and tables, from
// ever picking up an app's REDIS_ADDR or DATABASE_URL.
const (
	RedisAddr         = "CHISESS_REDIS_ADDR"          // host:port of a standalone Redis
	RedisClusterAddrs = "CHISESS_REDIS_CLUSTER_ADDRS" // host:port,host:port,... of a Redis Cluster's nodes
	PostgresURL       = "CHISESS_POSTGRES_URL"        // postgres://... of a database the tests may create tables in
	// Valkey 8.1, which has the native conditional set (SET … IFEQ) that
	// Redis 7.0 lacks.
	ValkeyAddr         = "CHISESS_VALKEY_ADDR"          // host:port of a standalone Valkey 8.1
	ValkeyClusterAddrs = "CHISESS_VALKEY_CLUSTER_ADDRS" // host:port,host:port,... of a Valkey 8.1 Cluster's nodes
	RequireServices    = "CHISESS_REQUIRE_SERVICES"     // "1": a missing variable fails the test instead of skipping it
)

// what describes the value each variable holds, for the messages.
var what = map[string]string{
	RedisAddr:          "host:port",
	RedisClusterAddrs:  "host:port,host:port,host:port",
	PostgresURL:        "postgres://...",
	ValkeyAddr:         "host:port",
	ValkeyClusterAddrs: "host:port,host:port,host:port",
}

// Lookup returns the value of the environment variable name, one of the
// constants above. When it is empty, Lookup skips tb, or fails it when
// CHISESS_REQUIRE_SERVICES=1.
func Lookup(tb testing.TB, name string) string {
	tb.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if os.Getenv(RequireServices) == "1" {
		tb.Fatalf("%s is not set, but %s=1 requires this test to run: set it to %s (scripts/services.sh starts one)", name, RequireServices, what[name])
	}
	tb.Skipf("set %s=%s to run this test (scripts/services.sh starts one)", name, what[name])
	return ""
}

// RedisClusterNodes returns the addresses in CHISESS_REDIS_CLUSTER_ADDRS,
// as [Lookup] does.
func RedisClusterNodes(tb testing.TB) []string {
	tb.Helper()
	return strings.Split(Lookup(tb, RedisClusterAddrs), ",")
}

// ValkeyClusterNodes returns the addresses in CHISESS_VALKEY_CLUSTER_ADDRS,
// as [Lookup] does.
func ValkeyClusterNodes(tb testing.TB) []string {
	tb.Helper()
	return strings.Split(Lookup(tb, ValkeyClusterAddrs), ",")
}

// DeadAddr returns the address of a loopback port nothing listens on: it
// listens on a free port and closes the listener at once.
func DeadAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		tb.Fatalf("close listener: %v", err)
	}
	return addr
}

// Await checks cond every millisecond until it holds, and fails tb if it
// does not within the given time: for a test that waits on something that
// happens when it happens (a server's push, a statement ending on the
// server), bounded above, never a sleep that stands for an order of
// events. what says what the test waits for.
func Await(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(time.Millisecond)
	}
}
