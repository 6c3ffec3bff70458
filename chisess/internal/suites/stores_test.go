package suites_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"go.etcd.io/bbolt"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
	"github.com/chisess/kit/chisess/backend/rueidisbackend"
	"github.com/chisess/kit/chisess/internal/swaptest"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testenv"
)

// How each row of the table opens its stores. Every store, client, pool,
// file and table is the test's own and is closed or dropped when it ends;
// stores on a shared server keep to a fresh key prefix or table, so tests
// can run at once.

// randomName returns prefix followed by 16 random hex digits.
func randomName(prefix string) string {
	var b [8]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return prefix + hex.EncodeToString(b[:])
}

// --- bbolt

// bolt returns a fresh func for a Store on a new file with opts.
func bolt(opts boltbackend.Options) func(t *testing.T) backend.Backend {
	return func(t *testing.T) backend.Backend {
		s, err := boltbackend.Open(filepath.Join(t.TempDir(), "sessions.db"), opts)
		if err != nil {
			t.Fatalf("boltbackend.Open: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Store.Close: %v", err)
			}
		})
		return s
	}
}

// boltSwap returns a Store on a clock of its own, over a DB the test keeps
// so that it can count every record in the file.
func boltSwap(t *testing.T) swaptest.Subject {
	clk := testclock.New()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "sessions.db"), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("bbolt.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s, err := boltbackend.New(db, boltbackend.Options{SweepInterval: -1, Now: clk.Now})
	if err != nil {
		t.Fatalf("boltbackend.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() }) // before the DB: cleanups run last first
	return swaptest.Subject{
		Store:   s,
		Advance: clk.Add,
		// Every record but the bystander, so a record written under a
		// stray key shows too.
		Left: func(t *testing.T, _ string) int {
			n := 0
			err := db.View(func(tx *bbolt.Tx) error {
				if b := tx.Bucket([]byte(boltbackend.DefaultBucket)); b != nil {
					n = b.Stats().KeyN
				}
				return nil
			})
			if err != nil {
				t.Fatalf("count records: %v", err)
			}
			return n - 1
		},
	}
}

// --- Redis

func needRedis(t testing.TB)   { testenv.Lookup(t, testenv.RedisAddr) }
func needCluster(t testing.TB) { testenv.Lookup(t, testenv.RedisClusterAddrs) }
func needValkey(t testing.TB)  { testenv.Lookup(t, testenv.ValkeyAddr) }
func needValkeyCluster(t testing.TB) {
	testenv.Lookup(t, testenv.ValkeyClusterAddrs)
}

// redisClient returns a client of the standalone Redis, checked with PING.
// It keeps go-redis's defaults, ContextTimeoutEnabled false included, so
// that the conformance suite's context rule checks that a context already
// done is honoured even without it.
func redisClient(t *testing.T) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: testenv.Lookup(t, testenv.RedisAddr)})
	return pinged(t, c)
}

// clusterClient returns a client of the Redis Cluster, checked with PING,
// with go-redis's defaults as [redisClient].
func clusterClient(t *testing.T) redis.UniversalClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testenv.RedisClusterNodes(t)})
	return pinged(t, c)
}

// pinged closes c when t ends, and fails t unless c answers PING.
func pinged(t *testing.T, c redis.UniversalClient) redis.UniversalClient {
	t.Helper()
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis does not answer PING: %v", err)
	}
	return c
}

// redisStores returns a Store on each client, all under one fresh key
// prefix.
func redisStores(t *testing.T, clients ...redis.UniversalClient) []backend.Backend {
	t.Helper()
	prefix := randomName("chisess:test:") + ":"
	stores := make([]backend.Backend, len(clients))
	for i, c := range clients {
		s, err := redisbackend.New(c, redisbackend.Options{Prefix: prefix})
		if err != nil {
			t.Fatalf("redisbackend.New: %v", err)
		}
		stores[i] = s
	}
	return stores
}

func redisFresh(t *testing.T) backend.Backend { return redisStores(t, redisClient(t))[0] }

func redisPair(t *testing.T) (backend.Backend, backend.Backend) {
	s := redisStores(t, redisClient(t), redisClient(t))
	return s[0], s[1]
}

func clusterFresh(t *testing.T) backend.Backend { return redisStores(t, clusterClient(t))[0] }

func clusterPair(t *testing.T) (backend.Backend, backend.Backend) {
	s := redisStores(t, clusterClient(t), clusterClient(t))
	return s[0], s[1]
}

// redisOutage: go-redis finds the connections the outage closed by
// itself, as it checks a pooled connection before handing it out.
func redisOutage(t *testing.T) ([]string, func(t *testing.T, via func(string) string) backend.Backend) {
	target := testenv.Lookup(t, testenv.RedisAddr)
	return []string{target}, func(t *testing.T, via func(string) string) backend.Backend {
		c := redis.NewClient(&redis.Options{
			Addr:                  via(target),
			ContextTimeoutEnabled: true, // as the package doc advises
			// One attempt per command. By default (0 means 3) go-redis
			// retries a closed connection with back-off, which only makes
			// each failing request take about half a second.
			MaxRetries: -1,
		})
		t.Cleanup(func() { _ = c.Close() })
		return redisStores(t, c)[0]
	}
}

// clusterOutage: the cluster client dials every node, the seeds and those
// the cluster announces, through its proxy.
func clusterOutage(t *testing.T) ([]string, func(t *testing.T, via func(string) string) backend.Backend) {
	nodes := testenv.RedisClusterNodes(t)
	return nodes, func(t *testing.T, via func(string) string) backend.Backend {
		c := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 nodes,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1, // one attempt per command, as redisOutage
			// No redirects either: with every node down, following
			// MOVED or retrying another node only slows the failure.
			MaxRedirects: -1,
			Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, via(addr))
			},
		})
		t.Cleanup(func() { _ = c.Close() })
		return redisStores(t, c)[0]
	}
}

// --- Redis with a client-side cache (rueidis)

// cachedStores returns n Stores, each on a client and a cache of its own
// to addrs, all under one fresh key prefix: n app servers.
func cachedStores(t *testing.T, addrs []string, n int) []backend.Backend {
	t.Helper()
	prefix := randomName("chisess:test:") + ":"
	stores := make([]backend.Backend, n)
	for i := range stores {
		s, err := rueidisbackend.New(context.Background(), rueidis.ClientOption{InitAddress: addrs}, rueidisbackend.Options{Prefix: prefix})
		if err != nil {
			t.Fatalf("rueidisbackend.New: %v", err)
		}
		t.Cleanup(s.Close)
		stores[i] = s
	}
	return stores
}

// cached returns the fresh and pair functions of a row of Stores with a
// client cache on the servers at addrs.
func cached(addrs func(testing.TB) []string) (func(*testing.T) backend.Backend, func(*testing.T) (backend.Backend, backend.Backend)) {
	fresh := func(t *testing.T) backend.Backend { return cachedStores(t, addrs(t), 1)[0] }
	pair := func(t *testing.T) (backend.Backend, backend.Backend) {
		return syncedPair(cachedStores(t, addrs(t), 2))
	}
	return fresh, pair
}

func redisAddrs(tb testing.TB) []string { return []string{testenv.Lookup(tb, testenv.RedisAddr)} }

func valkeyAddrs(tb testing.TB) []string { return []string{testenv.Lookup(tb, testenv.ValkeyAddr)} }

var (
	cachedFresh, cachedPair               = cached(redisAddrs)
	cachedClusterFresh, cachedClusterPair = cached(testenv.RedisClusterNodes)
	valkeyFresh, valkeyPair               = cached(valkeyAddrs)
	valkeyClusterFresh, valkeyClusterPair = cached(testenv.ValkeyClusterNodes)
)

// syncedPair returns the two Stores of s as two app servers whose every
// change returns only once the other server has applied its invalidation
// (Store.Sync): the suites send a request to one server after a request
// to the other has answered, and a real app server's next request comes
// after the invalidation delay (docs/backends.md), which the rueidisbackend
// tests measure and try apart. Reads are not synced, so a read made while
// a change is under way can still be stale, and a stale write still meets
// the compare-and-swap.
func syncedPair(s []backend.Backend) (backend.Backend, backend.Backend) {
	a, b := s[0].(*rueidisbackend.Store), s[1].(*rueidisbackend.Store)
	return &synced{a, b}, &synced{b, a}
}

// synced is a Store whose changes wait for its peer's Sync.
type synced struct {
	*rueidisbackend.Store
	peer *rueidisbackend.Store
}

// settle returns err, or the peer's Sync error.
func (s *synced) settle(ctx context.Context, err error) error {
	if err != nil {
		return err
	}
	return s.peer.Sync(context.WithoutCancel(ctx))
}

func (s *synced) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	return s.settle(ctx, s.Store.Write(ctx, key, data, ttl))
}

func (s *synced) Delete(ctx context.Context, key string) error {
	return s.settle(ctx, s.Store.Delete(ctx, key))
}

func (s *synced) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	ok, err := s.Store.Swap(ctx, key, old, data, ttl)
	return ok, s.settle(ctx, err)
}

// cachedOutage returns the outage of the servers at addrs for Stores
// with a client cache: rueidis drops a connection the outage reset, and
// its cache with it, as soon as it reads the reset. A cluster client
// dials the nodes the cluster announces through their proxies.
func cachedOutage(addrs func(testing.TB) []string) func(*testing.T) ([]string, func(*testing.T, func(string) string) backend.Backend) {
	return func(t *testing.T) ([]string, func(*testing.T, func(string) string) backend.Backend) {
		targets := addrs(t)
		return targets, func(t *testing.T, via func(string) string) backend.Backend {
			s, err := rueidisbackend.New(context.Background(), rueidis.ClientOption{
				InitAddress: targets,
				// One attempt per command: rueidis retries what failed on
				// a broken connection (and a cluster client refreshes its
				// topology first), which with every server down only ends
				// at the request's deadline.
				DisableRetry: true,
				DialCtxFn: func(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
					return d.DialContext(ctx, "tcp", via(addr))
				},
			}, rueidisbackend.Options{Prefix: randomName("chisess:test:") + ":"})
			if err != nil {
				t.Fatalf("rueidisbackend.New: %v", err)
			}
			t.Cleanup(s.Close)
			return s
		}
	}
}

// --- PostgreSQL

func needPostgres(t testing.TB) { testenv.Lookup(t, testenv.PostgresURL) }

// pgConfig parses CHISESS_POSTGRES_URL.
func pgConfig(t *testing.T) *pgxpool.Config {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.Lookup(t, testenv.PostgresURL))
	if err != nil {
		t.Fatalf("%s: %v", testenv.PostgresURL, err)
	}
	return cfg
}

// pgPool returns a pool with cfg, checked with a ping, closed when t ends.
func pgPool(t *testing.T, cfg *pgxpool.Config) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgxpool: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(context.Background()); err != nil {
		t.Fatalf("%s: cannot reach the server: %v", testenv.PostgresURL, err)
	}
	return pool
}

// pgTable returns the name of a table of the test's own, dropped through
// pool when t ends.
func pgTable(t *testing.T, pool *pgxpool.Pool) string {
	table := randomName("chisess_test_")
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		_, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize())
		if err != nil {
			t.Errorf("drop test table %s: %v", table, err)
		}
	})
	return table
}

// pgStore returns a Store on pool and table, creating the table, with no
// sweeper, closed when t ends.
func pgStore(t *testing.T, pool *pgxpool.Pool, table string, opts pgbackend.Options) *pgbackend.Store {
	t.Helper()
	opts.Table, opts.CreateTable, opts.SweepInterval = table, true, -1
	s, err := pgbackend.New(context.Background(), pool, opts)
	if err != nil {
		t.Fatalf("pgbackend.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pgFresh(t *testing.T) backend.Backend {
	pool := pgPool(t, pgConfig(t))
	return pgStore(t, pool, pgTable(t, pool), pgbackend.Options{})
}

// pgPair returns two app servers' Stores (two pools) on one table.
func pgPair(t *testing.T) (backend.Backend, backend.Backend) {
	a, b := pgPool(t, pgConfig(t)), pgPool(t, pgConfig(t))
	table := pgTable(t, a)
	return pgStore(t, a, table, pgbackend.Options{}), pgStore(t, b, table, pgbackend.Options{})
}

// pgSwap returns a Store on a clock of its own, and counts the rows under
// a key, expired ones included.
func pgSwap(t *testing.T) swaptest.Subject {
	clk := testclock.New()
	pool := pgPool(t, pgConfig(t))
	table := pgTable(t, pool)
	return swaptest.Subject{
		Store:   pgStore(t, pool, table, pgbackend.Options{Now: clk.Now}),
		Advance: clk.Add,
		Left: func(t *testing.T, key string) int {
			var n int
			err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()+" WHERE key = $1", key).Scan(&n)
			if err != nil {
				t.Fatalf("count rows: %v", err)
			}
			return n
		},
	}
}

// pgOutage puts the outage proxy in front of the server's TCP address.
func pgOutage(t *testing.T) ([]string, func(t *testing.T, via func(string) string) backend.Backend) {
	cfg := pgConfig(t)
	host := cfg.ConnConfig.Host
	if strings.HasPrefix(host, "/") {
		t.Fatalf("%s names the Unix socket %s; the outage test needs a TCP host:port to put its proxy in front of", testenv.PostgresURL, host)
	}
	table := pgTable(t, pgPool(t, pgConfig(t)))
	target := net.JoinHostPort(host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	return []string{target}, func(t *testing.T, via func(string) string) backend.Backend {
		host, port, err := net.SplitHostPort(via(target))
		if err != nil {
			t.Fatalf("the proxy's address: %v", err)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			t.Fatalf("the proxy's port: %v", err)
		}
		cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
		cfg.ConnConfig.Fallbacks = nil
		// pgxpool pings a pooled connection before handing it out only
		// after a second idle, longer than this outage lasts, so a
		// connection that the outage reset could be handed out after it
		// and fail one request. Ping every time, as pgxpool would after a
		// real outage of more than a second.
		cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return true }
		return pgStore(t, pgPool(t, cfg), table, pgbackend.Options{})
	}
}
