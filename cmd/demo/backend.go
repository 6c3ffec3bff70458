package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
)

// openBackend returns the session store that cfg.Backend names and a
// function that releases it. The cookie backend is a nil Backend: chisess
// then seals the session into the cookie. Stores that talk to a server are
// pinged, so a wrong address fails at start-up, not at the first request.
func openBackend(ctx context.Context, cfg appConfig) (backend.Backend, func() error, error) {
	noop := func() error { return nil }
	switch cfg.Backend {
	case "cookie":
		return nil, noop, nil

	case "memory":
		m := backend.NewMemory()
		return m, m.Close, nil

	case "bolt":
		s, err := boltbackend.Open(cfg.BoltPath, boltbackend.Options{})
		if err != nil {
			return nil, nil, fmt.Errorf("open bolt file %s: %w", cfg.BoltPath, err)
		}
		return s, s.Close, nil

	case "redis":
		if cfg.RedisAddr == "" {
			return nil, nil, errors.New("-backend redis needs -redis-addr or CHISESS_REDIS_ADDR (host:port or redis://...)")
		}
		var client redis.UniversalClient
		if strings.Contains(cfg.RedisAddr, "://") {
			o, err := redis.ParseURL(cfg.RedisAddr)
			if err != nil {
				return nil, nil, fmt.Errorf("-redis-addr: %w", err)
			}
			client = redis.NewClient(o)
		} else {
			// Several comma-separated addresses make a Cluster client.
			client = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: strings.Split(cfg.RedisAddr, ",")})
		}
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := client.Ping(pingCtx).Err(); err != nil {
			client.Close()
			return nil, nil, fmt.Errorf("connect to redis at %s: %w", redactURL(cfg.RedisAddr), err)
		}
		s, err := redisbackend.New(client, redisbackend.Options{})
		if err != nil {
			client.Close()
			return nil, nil, err
		}
		return s, client.Close, nil

	case "postgres":
		if cfg.PostgresURL == "" {
			return nil, nil, errors.New("-backend postgres needs -postgres-url or CHISESS_POSTGRES_URL")
		}
		pool, err := pgxpool.New(ctx, cfg.PostgresURL)
		if err != nil {
			return nil, nil, fmt.Errorf("postgres (-postgres-url): %w", err)
		}
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := pool.Ping(pingCtx); err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("connect to postgres: %w", err)
		}
		s, err := pgbackend.New(pingCtx, pool, pgbackend.Options{CreateTable: true})
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		closeAll := func() error {
			err := s.Close() // stops the sweeper before the pool goes away
			pool.Close()
			return err
		}
		return s, closeAll, nil
	}
	return nil, nil, fmt.Errorf("backend %q is not available in this build", cfg.Backend)
}

// indexedBackends returns the -backend values whose store keeps an owner
// index (backend.Indexer), which the devices page needs, in the order of
// backendNames.
func indexedBackends() []string {
	stores := map[string]any{
		"memory":   (*backend.Memory)(nil),
		"bolt":     (*boltbackend.Store)(nil),
		"redis":    (*redisbackend.Store)(nil),
		"postgres": (*pgbackend.Store)(nil),
	}
	var names []string
	for _, name := range backendNames {
		if _, ok := stores[name].(backend.Indexer); ok {
			names = append(names, name)
		}
	}
	return names
}

// redactURL hides the password in a redis:// URL, for error messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}
