package modeltest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
	"github.com/chisess/kit/chisess/internal/suites/modeltest"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// target is a backend the checker runs on. open sets up what the test
// needs (a file, a table, a key prefix), cleaned up when t ends, and
// returns what gives each history its backend. n is the number of
// histories of the short run, sized to keep every backend's share of CI
// within a few seconds under -race.
//
// The cookie backend is not a target: it promises last-writer-wins only
// (docs/backends.md), so most of the properties do not hold for it by
// design.
type target struct {
	name string
	n    int
	open func(t *testing.T) modeltest.Open
}

var targets = []target{
	{"memory", 1000, func(*testing.T) modeltest.Open {
		return func() backend.Backend { return backend.NewMemoryWithCleanup(0) }
	}},
	{"fake", 1000, func(*testing.T) modeltest.Open {
		return func() backend.Backend { return sessiontest.NewBackend() }
	}},
	{"bbolt", 600, openBolt},
	{"redis", 600, func(t *testing.T) modeltest.Open { return openRedis(t, redisClient(t)) }},
	{"redis-cluster", 400, func(t *testing.T) modeltest.Open { return openRedis(t, clusterClient(t)) }},
	{"postgres", 400, openPostgres},
}

// requireService returns the value of env, or skips t when it is unset,
// or fails it when CHISESS_REQUIRE_SERVICES=1 says the services must be
// there (CI).
func requireService(t *testing.T, env, what string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	if os.Getenv("CHISESS_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is not set, but CHISESS_REQUIRE_SERVICES=1 requires it: set it to %s", env, what)
	}
	t.Skipf("set %s=%s to run the checker on it (scripts/test.sh starts one)", env, what)
	return ""
}

// openBolt gives every history of t the same Store on a fresh file:
// histories never share a key, and a file per history would cost more
// than the history.
func openBolt(t *testing.T) modeltest.Open {
	s, err := boltbackend.Open(filepath.Join(t.TempDir(), "sessions.db"), boltbackend.Options{SweepInterval: -1, NoSync: true})
	if err != nil {
		t.Fatalf("boltbackend.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close the bbolt store: %v", err)
		}
	})
	return func() backend.Backend { return s }
}

func redisClient(t *testing.T) redis.UniversalClient {
	addr := requireService(t, "CHISESS_REDIS_ADDR", "host:port")
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at CHISESS_REDIS_ADDR=%s does not answer PING: %v", addr, err)
	}
	return c
}

func clusterClient(t *testing.T) redis.UniversalClient {
	addrs := requireService(t, "CHISESS_REDIS_CLUSTER_ADDRS", "host:port,host:port,host:port")
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ","), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis cluster at CHISESS_REDIS_CLUSTER_ADDRS=%s does not answer PING: %v", addrs, err)
	}
	return c
}

// openRedis gives each history a Store under its own key prefix, below one
// prefix for the test, whose keys are deleted when t ends.
func openRedis(t *testing.T, client redis.UniversalClient) modeltest.Open {
	base := "chisess:modeltest:" + randomHex() + ":"
	t.Cleanup(func() { deleteKeys(t, client, base+"*") })
	var n atomic.Int64
	return func() backend.Backend {
		s, err := redisbackend.New(client, redisbackend.Options{Prefix: fmt.Sprintf("%s%d:", base, n.Add(1))})
		if err != nil {
			panic(fmt.Sprintf("redisbackend.New: %v", err))
		}
		return s
	}
}

// deleteKeys deletes the keys matching pattern on every master.
func deleteKeys(t *testing.T, client redis.UniversalClient, pattern string) {
	ctx := context.Background()
	del := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return del(ctx, node) })
	} else {
		err = del(ctx, client)
	}
	if err != nil {
		t.Errorf("delete the test's keys %s: %v", pattern, err)
	}
}

// openPostgres gives every history of t one Store on a table of its own,
// dropped when t ends.
func openPostgres(t *testing.T) modeltest.Open {
	url := requireService(t, "CHISESS_POSTGRES_URL", "postgres://...")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("CHISESS_POSTGRES_URL: %v", err)
	}
	t.Cleanup(pool.Close)
	table := "chisess_modeltest_" + randomHex()
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize()); err != nil {
			t.Errorf("drop the test table %s: %v", table, err)
		}
	})
	s, err := pgbackend.New(ctx, pool, pgbackend.Options{Table: table, CreateTable: true, SweepInterval: -1})
	if err != nil {
		t.Fatalf("pgbackend.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return func() backend.Backend { return s }
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
