package main

import (
	"context"
	"errors"
	"fmt"
	bolt "go.etcd.io/bbolt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
)

// openManager returns a manager set up as cfg says, on the store it
// names, and a function that releases the store. The store runs no
// sweeper of its own and creates no table: the tool only reads, deletes
// and sweeps when asked.
func openManager(ctx context.Context, cfg config) (*chisess.Manager, func(), error) {
	b, closeStore, err := openBackend(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	m, err := chisess.New(chisess.Config{
		Backend:         b,
		Secret:          cfg.Secret,
		PreviousSecrets: cfg.PreviousSecrets,
		CookieName:      cfg.CookieName,
		Namespace:       cfg.Namespace,
		IdleTimeout:     cfg.Idle,
		Lifetime:        cfg.Lifetime,
		MaxLifetime:     cfg.MaxLifetime,
		RememberFor:     cfg.RememberFor,
		Rolling:         cfg.Rolling,
		Timeout:         cfg.Timeout,
	})
	if err != nil {
		closeStore()
		if cfg.Backend == "cookie" && cfg.Secret == "" {
			return nil, nil, usagef("the cookie backend needs the app's secret: set SESSION_SECRET or -secret-file")
		}
		return nil, nil, usageError{err.Error()}
	}
	return m, closeStore, nil
}

// openBackend returns the store cfg.Backend names, nil for the cookie
// backend, and a function that releases it. Stores on a server are pinged,
// so a wrong address fails here.
func openBackend(ctx context.Context, cfg config) (backend.Backend, func(), error) {
	switch cfg.Backend {
	case "redis":
		return openRedis(ctx, cfg)
	case "postgres":
		return openPostgres(ctx, cfg)
	case "bolt":
		return openBolt(cfg)
	}
	return nil, func() {}, nil
}

func openRedis(ctx context.Context, cfg config) (backend.Backend, func(), error) {
	if cfg.RedisAddr == "" {
		return nil, nil, usagef("-backend redis needs -redis-addr or CHISESS_REDIS_ADDR (host:port, host:port,... for a Cluster, or redis://...)")
	}
	var client redis.UniversalClient
	if strings.Contains(cfg.RedisAddr, "://") {
		o, err := redis.ParseURL(cfg.RedisAddr)
		if err != nil {
			// url.Error quotes the whole URL, password included: keep
			// only its reason.
			if ue := (*url.Error)(nil); errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, nil, usagef("-redis-addr %s: %v", redact(cfg.RedisAddr), err)
		}
		client = redis.NewClient(o)
	} else if addrs := strings.Split(cfg.RedisAddr, ","); len(addrs) > 1 {
		client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	} else {
		client = redis.NewClient(&redis.Options{Addr: cfg.RedisAddr})
	}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("connect to redis at %s: %w", redact(cfg.RedisAddr), err)
	}
	s, err := redisbackend.New(client, redisbackend.Options{Prefix: cfg.RedisPrefix})
	if err != nil {
		client.Close()
		return nil, nil, usageError{err.Error()}
	}
	return s, func() { client.Close() }, nil
}

func openPostgres(ctx context.Context, cfg config) (backend.Backend, func(), error) {
	if cfg.PostgresURL == "" {
		return nil, nil, usagef("-backend postgres needs -postgres-url or CHISESS_POSTGRES_URL")
	}
	pool, err := pgxpool.New(ctx, cfg.PostgresURL)
	if err != nil {
		return nil, nil, usagef("-postgres-url: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s, err := pgbackend.New(ctx, pool, pgbackend.Options{Table: cfg.PostgresTable, SweepInterval: -1})
	if err != nil {
		pool.Close()
		return nil, nil, usageError{err.Error()}
	}
	return s, func() { s.Close(); pool.Close() }, nil
}

func openBolt(cfg config) (backend.Backend, func(), error) {
	if cfg.BoltPath == "" {
		return nil, nil, usagef("-backend bolt needs -bolt-path or CHISESS_BOLT_PATH")
	}
	// bbolt would create a missing file; a typo must not look like an
	// empty store.
	if _, err := os.Stat(cfg.BoltPath); err != nil {
		return nil, nil, usagef("-bolt-path: %v", err)
	}
	// boltbackend.Open would create a missing bucket too: a mistyped
	// -bolt-bucket must be an error, not an empty store written into the
	// app's file.
	if err := checkBucket(cfg.BoltPath, cfg.BoltBucket); err != nil {
		return nil, nil, err
	}
	s, err := boltbackend.Open(cfg.BoltPath, boltbackend.Options{Bucket: cfg.BoltBucket, SweepInterval: -1, Timeout: time.Second})
	if err != nil {
		return nil, nil, fmt.Errorf("open bolt file %s (stop the app first: bbolt lets one process at a time open it): %w", cfg.BoltPath, err)
	}
	return s, func() { s.Close() }, nil
}

// checkBucket reports a usage error when the bbolt file at path, opened
// read-only, has no session bucket of that name ("" for the default).
func checkBucket(path, bucket string) error {
	if bucket == "" {
		bucket = boltbackend.DefaultBucket
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("open bolt file %s (stop the app first: bbolt lets one process at a time open it): %w", path, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bucket)) == nil {
			return usagef("-bolt-bucket: the file %s has no bucket %q (the app's Options.Bucket; the default is %q)", path, bucket, boltbackend.DefaultBucket)
		}
		return nil
	})
}

// redact hides the password in a redis:// URL, for error messages, even
// in a URL that does not parse.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if _, host, ok := strings.Cut(rest, "@"); ok {
			return scheme + "://xxxxx@" + host
		}
	}
	return s
}

// errCookieBackend is the error of the store commands on the cookie
// backend, where sessions live in the browsers.
var errCookieBackend = errors.New("the cookie backend keeps each session in its browser: there is no store to list, revoke, count or sweep; choose -backend redis, postgres or bolt")
