package bench

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

const (
	envRedis    = "CHISESS_REDIS_ADDR"
	envValkey   = "CHISESS_VALKEY_ADDR" // Valkey 8.1: SET … IFEQ, which chisess-rueidis-valkey uses
	envPostgres = "CHISESS_POSTGRES_URL"
	envRequire  = "CHISESS_REQUIRE_SERVICES"
)

// requireService returns the value of env. When it is unset, it skips tb,
// or fails it when CHISESS_REQUIRE_SERVICES=1 says the services must be
// there (CI, run.sh), so a missing row is never silent.
func requireService(tb testing.TB, env string) string {
	tb.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	if os.Getenv(envRequire) == "1" {
		tb.Fatalf("%s is not set, but %s=1 requires this row: source scripts/services.sh and run services_start", env, envRequire)
	}
	tb.Skipf("%s is not set; scripts/services.sh (services_start) starts the service", env)
	return ""
}

// roundTrips counts the requests a go-redis client sends to the server: one
// per command, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func (rt *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (rt *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		rt.n.Add(1)
		return next(ctx, cmd)
	}
}

func (rt *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		rt.n.Add(1)
		return next(ctx, cmds)
	}
}

// dial is a rueidis DialCtxFn whose connections count a round trip per
// write: every request a rueidis client sends, one command or a pipeline,
// is one write, and a read served from its cache makes none.
func (rt *roundTrips) dial(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return countedConn{c, rt}, nil
}

type countedConn struct {
	net.Conn
	rt *roundTrips
}

func (c countedConn) Write(p []byte) (int, error) {
	c.rt.n.Add(1)
	return c.Conn.Write(p)
}

// load returns the count so far; zero for a nil counter.
func (rt *roundTrips) load() int64 {
	if rt == nil {
		return 0
	}
	return rt.n.Load()
}

// report adds roundtrips/op for the commands sent since start.
func (rt *roundTrips) report(b *testing.B, start int64) {
	if rt == nil || b.N == 0 {
		return
	}
	b.ReportMetric(float64(rt.load()-start)/float64(b.N), "roundtrips/op")
}

// redisClient returns a client of the server at the address in env
// (envRedis or envValkey) that counts its round trips, closed when tb
// ends.
func redisClient(tb testing.TB, env string) (*redis.Client, *roundTrips) {
	tb.Helper()
	addr := requireService(tb, env)
	client := redis.NewClient(&redis.Options{Addr: addr})
	tb.Cleanup(func() { client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis at %s=%s does not answer PING: %v", env, addr, err)
	}
	rt := new(roundTrips)
	client.AddHook(rt)
	return client, rt
}

// redisPrefix returns a key prefix of its own for one instance, and deletes
// the keys under it when tb ends. The server is shared with other tests, so
// nothing is flushed.
func redisPrefix(tb testing.TB, env, lib string) string {
	tb.Helper()
	prefix := "bench:" + lib + ":" + randHex(tb, 6) + ":"
	tb.Cleanup(func() {
		addr := os.Getenv(env)
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return
		}
		client := redis.NewClient(&redis.Options{Addr: addr})
		defer client.Close()
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				client.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			client.Unlink(ctx, keys...)
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("redis cleanup of %s*: %v", prefix, err)
		}
	})
	return prefix
}
