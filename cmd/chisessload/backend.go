package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
)

// backendNames lists the -backend values.
var backendNames = []string{"memory", "bolt", "redis", "cluster", "postgres", "sentinel"}

// stores says where the stores on a server are.
type stores struct {
	RedisAddr    string   // -redis-addr
	ClusterAddrs []string // -redis-cluster-addrs
	PostgresURL  string   // -postgres-url
	BoltDir      string   // -bolt-dir; "" for a temporary directory
	// SentinelAddrs are the Sentinels of -backend sentinel, which know
	// its primary as MasterName; none: the tool starts its own.
	SentinelAddrs []string
	MasterName    string
	// ClusterReload is the Cluster client's ClusterStateReloadInterval
	// (-cluster-state-reload); 0 keeps go-redis's default, 60 s.
	ClusterReload time.Duration
}

// openStore opens the store name on a fresh namespace of its own (a Redis
// key prefix, a PostgreSQL table, a bbolt file), so that runs sharing a
// server never meet, and returns a function that removes what the run
// left there and releases the store.
func openStore(ctx context.Context, name string, st stores) (backend.Backend, func() error, error) {
	run := "chisessload_" + randomHex(6)
	switch name {
	case "memory":
		m := backend.NewMemory()
		return m, m.Close, nil

	case "bolt":
		dir, err := os.MkdirTemp(st.BoltDir, run)
		if err != nil {
			return nil, nil, fmt.Errorf("bolt: %w", err)
		}
		s, err := boltbackend.Open(filepath.Join(dir, "sessions.db"), boltbackend.Options{})
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("bolt: %w", err)
		}
		return s, func() error { return errors.Join(s.Close(), os.RemoveAll(dir)) }, nil

	case "redis", "cluster", "sentinel":
		var client redis.UniversalClient
		switch {
		case name == "sentinel" && len(st.SentinelAddrs) == 0:
			return nil, nil, errors.New("-backend sentinel needs the Sentinels' addresses")
		case name == "sentinel":
			// With MasterName, the universal client asks the Sentinels for
			// the primary, and for the new one after a failover.
			client = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: st.SentinelAddrs, MasterName: st.MasterName, ContextTimeoutEnabled: true})
		case name == "cluster" && len(st.ClusterAddrs) == 0:
			return nil, nil, errors.New("-backend cluster needs -redis-cluster-addrs or CHISESS_REDIS_CLUSTER_ADDRS (host:port,host:port,...)")
		case name == "cluster":
			client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: st.ClusterAddrs, ContextTimeoutEnabled: true, ClusterStateReloadInterval: st.ClusterReload})
		case st.RedisAddr == "":
			return nil, nil, errors.New("-backend redis needs -redis-addr or CHISESS_REDIS_ADDR (host:port or redis://...)")
		case strings.Contains(st.RedisAddr, "://"):
			o, err := redis.ParseURL(st.RedisAddr)
			if err != nil {
				return nil, nil, fmt.Errorf("-redis-addr: %w", err)
			}
			o.ContextTimeoutEnabled = true
			client = redis.NewClient(o)
		default:
			client = redis.NewClient(&redis.Options{Addr: st.RedisAddr, ContextTimeoutEnabled: true})
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := client.Ping(pctx).Err(); err != nil {
			client.Close()
			return nil, nil, fmt.Errorf("connect to %s: %w", name, err)
		}
		prefix := run + ":"
		s, err := redisbackend.New(client, redisbackend.Options{Prefix: prefix})
		if err != nil {
			client.Close()
			return nil, nil, err
		}
		return s, func() error { return errors.Join(dropRedis(client, prefix), client.Close()) }, nil

	case "postgres":
		if st.PostgresURL == "" {
			return nil, nil, errors.New("-backend postgres needs -postgres-url or CHISESS_POSTGRES_URL")
		}
		pool, err := pgxpool.New(ctx, st.PostgresURL)
		if err != nil {
			return nil, nil, fmt.Errorf("-postgres-url: %w", err)
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := pool.Ping(pctx); err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("connect to postgres: %w", err)
		}
		s, err := pgbackend.New(pctx, pool, pgbackend.Options{Table: run, CreateTable: true})
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		drop := func() error {
			err := s.Close()
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, derr := pool.Exec(dctx, "DROP TABLE IF EXISTS "+pgx.Identifier{run}.Sanitize())
			pool.Close()
			return errors.Join(err, derr)
		}
		return s, drop, nil
	}
	return nil, nil, fmt.Errorf("-backend %q: choose from %s", name, strings.Join(backendNames, ", "))
}

// dropRedis deletes the run's keys: sessions and owner indexes, which all
// start with prefix.
func dropRedis(client redis.UniversalClient, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	drop := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	switch c := client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, drop)
	case *redis.Client:
		return drop(ctx, c)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
