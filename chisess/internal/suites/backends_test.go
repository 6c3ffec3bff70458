package suites_test

import (
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/internal/swaptest"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/chisess/kit/chisess/sessiontest"
)

// subject is one row of the table: a backend, and how each suite gets a
// fresh store of it. A suite skips a row that lacks what it needs.
type subject struct {
	name string
	// need, when set, finds the row's server once per suite, before any
	// store is opened: it skips the row without one, or fails it when
	// CHISESS_REQUIRE_SERVICES=1.
	need func(t testing.TB)
	// fresh returns a fresh, empty store, closed when t ends.
	fresh func(t *testing.T) backend.Backend
	// pair returns two handles on one fresh store, as two app servers see
	// it: two clients of one server, or the same handle twice for a store
	// that lives in the process.
	pair func(t *testing.T) (backend.Backend, backend.Backend)
	// baseOnly says the store has only the three Backend methods, so that
	// the concurrent-request suite runs only the scenarios such a store
	// must pass too.
	baseOnly bool
	// outage, for a store behind a network connection, returns the
	// addresses of its servers (one, or a cluster's nodes) and a function
	// that opens a store whose client dials via(addr), a proxy to the
	// server at addr, instead.
	outage func(t *testing.T) (targets []string, open func(t *testing.T, via func(string) string) backend.Backend)
	// swap, for a store whose clock a test can move, returns a fresh
	// store on such a clock; swapExtra are the cases only this store has.
	swap      func(t *testing.T) swaptest.Subject
	swapExtra []swaptest.Case
	// histories is how many random histories the model checker runs on
	// the row in CI (-modeltest.n sets it for a long run); zero leaves the
	// row out. Every history of a test shares one store: tokens are
	// random, so histories never meet.
	histories int
}

// subjects is every backend the suites run on.
var subjects = []subject{
	{name: "memory", fresh: memory(backend.NewMemory), histories: 2000},
	{name: "memory, no janitor", fresh: memory(func() *backend.Memory { return backend.NewMemoryWithCleanup(0) })},
	// A janitor that sweeps all the time races every rule and flow.
	{name: "memory, busy janitor", fresh: memory(func() *backend.Memory { return backend.NewMemoryWithCleanup(time.Millisecond) })},
	// The optional interfaces hidden: chisess falls back to reading again
	// before it writes, and the owner index answers ErrNoOwnerIndex.
	{name: "memory, base methods only", fresh: baseOnly(memory(backend.NewMemory)), baseOnly: true},
	// The test kit's fake is held to the contract of every backend, so
	// that what an app's test sees through it is what a real one does.
	{name: "sessiontest fake", fresh: fake(sessiontest.NewBackend), histories: 2000},
	{name: "sessiontest fake, zero value", fresh: fake(func() *sessiontest.Backend { return new(sessiontest.Backend) })},
	// The defaults, fsync included: the Store as it runs in production.
	{name: "bbolt", fresh: bolt(boltbackend.Options{})},
	{name: "bbolt, no sweeper", fresh: bolt(boltbackend.Options{SweepInterval: -1, NoSync: true}), swap: boltSwap, histories: 1000},
	// A sweeper that sweeps all the time, in batches of one.
	{name: "bbolt, busy sweeper", fresh: bolt(boltbackend.Options{SweepInterval: time.Millisecond, SweepBatch: 1, NoSync: true})},
	{name: "Redis", need: needRedis, fresh: redisFresh, pair: redisPair, outage: redisOutage, histories: 1000},
	// A session's key and its owner's index live in different hash slots,
	// usually on different nodes.
	{name: "Redis Cluster", need: needCluster, fresh: clusterFresh, pair: clusterPair, outage: clusterOutage, histories: 800},
	// Two app servers, each with a client and a local cache of its own,
	// kept coherent by the server's invalidations.
	{name: "Redis, client cache", need: needRedis, fresh: cachedFresh, pair: cachedPair, outage: cachedOutage(redisAddrs), histories: 1000},
	{name: "Redis Cluster, client cache", need: needCluster, fresh: cachedClusterFresh, pair: cachedClusterPair, outage: cachedOutage(testenv.RedisClusterNodes), histories: 800},
	// The same on Valkey 8.1, whose native conditional set (SET … IFEQ)
	// replaces the script of a swap.
	{name: "Valkey, client cache, SET IFEQ", need: needValkey, fresh: valkeyFresh, pair: valkeyPair, outage: cachedOutage(valkeyAddrs), histories: 800},
	{name: "Valkey Cluster, client cache, SET IFEQ", need: needValkeyCluster, fresh: valkeyClusterFresh, pair: valkeyClusterPair, outage: cachedOutage(testenv.ValkeyClusterNodes), histories: 600},
	{name: "PostgreSQL", need: needPostgres, fresh: pgFresh, pair: pgPair, outage: pgOutage, swap: pgSwap, histories: 800, swapExtra: []swaptest.Case{{
		// The create statement finds the expired row and leaves it for
		// the sweeper.
		Name: "create of nothing on expired unswept", Stored: []byte("a"), Expire: true, Data: nil, TTL: time.Hour, Want: true, Left: 1,
	}}},
}

// ready runs sub.need, if any.
func (sub subject) ready(t testing.TB) {
	t.Helper()
	if sub.need != nil {
		sub.need(t)
	}
}

// twoHandles returns sub.pair, or, for a store that lives in the process,
// one fresh store handed out twice, as one app server's two managers
// would share it.
func (sub subject) twoHandles() func(t *testing.T) (backend.Backend, backend.Backend) {
	if sub.pair != nil {
		return sub.pair
	}
	return func(t *testing.T) (backend.Backend, backend.Backend) {
		s := sub.fresh(t)
		return s, s
	}
}

// memory returns a fresh func for the memory store that newMemory makes.
func memory(newMemory func() *backend.Memory) func(t *testing.T) backend.Backend {
	return func(t *testing.T) backend.Backend {
		m := newMemory()
		t.Cleanup(func() {
			if err := m.Close(); err != nil {
				t.Errorf("Memory.Close: %v", err)
			}
		})
		return m
	}
}

// fake returns a fresh func for the test kit's fake that newFake makes.
func fake(newFake func() *sessiontest.Backend) func(t *testing.T) backend.Backend {
	return func(*testing.T) backend.Backend { return newFake() }
}

// baseOnly returns fresh with every optional interface of its stores
// hidden.
func baseOnly(fresh func(t *testing.T) backend.Backend) func(t *testing.T) backend.Backend {
	return func(t *testing.T) backend.Backend { return struct{ backend.Backend }{fresh(t)} }
}
