package rueidisbackend_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chisess/kit/chisess/backend/rueidisbackend"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/redis/rueidis"
)

// topology is a kind of Redis the tests run on: the addresses a client
// starts from, and whether its servers have the native conditional set
// (SET … IFEQ), which [rueidisbackend.Store.Swap] then uses in place of
// the script.
type topology struct {
	name   string
	addrs  func(testing.TB) []string
	native bool
}

// topologies are Redis 7.0 (the script) and Valkey 8.1 (SET … IFEQ), each
// as a single node and as a three-node cluster.
var topologies = []topology{
	{"single node", func(tb testing.TB) []string { return []string{testenv.Lookup(tb, testenv.RedisAddr)} }, false},
	{"cluster", testenv.RedisClusterNodes, false},
	{"valkey 8.1", func(tb testing.TB) []string { return []string{testenv.Lookup(tb, testenv.ValkeyAddr)} }, true},
	{"valkey 8.1 cluster", testenv.ValkeyClusterNodes, true},
}

// testPrefix returns a key prefix no other test uses, so that tests can
// run at once against one server without FLUSHDB.
func testPrefix() string {
	var b [8]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return "chisess:test:" + hex.EncodeToString(b[:]) + ":"
}

// writes counts the writes a client makes to its sockets. Every request
// to Redis, one command or a pipeline, is at least one write, and a read
// served from the cache makes none, so the count is the round trips.
type writes struct {
	n     atomic.Int64
	mu    sync.Mutex
	conns []net.Conn // every connection dialled, open or closed
}

func (w *writes) load() int64 { return w.n.Load() }

// dial is a rueidis DialCtxFn that counts the writes of every connection.
func (w *writes) dial(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.conns = append(w.conns, c)
	w.mu.Unlock()
	return countingConn{c, w}, nil
}

// dialled returns every connection the client dialled so far.
func (w *writes) dialled() []net.Conn {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.conns)
}

type countingConn struct {
	net.Conn
	w *writes
}

func (c countingConn) Write(p []byte) (int, error) {
	c.w.n.Add(1)
	return c.Conn.Write(p)
}

// openStore returns a Store on a client of its own to addrs under prefix
// ("" for a fresh one), closed when tb ends, and the counter of its
// client's writes.
func openStore(tb testing.TB, addrs []string, prefix string, opts rueidisbackend.Options) (*rueidisbackend.Store, *writes) {
	tb.Helper()
	if prefix == "" {
		prefix = testPrefix()
	}
	opts.Prefix = prefix
	w := new(writes)
	store, err := rueidisbackend.New(context.Background(), rueidis.ClientOption{InitAddress: addrs, DialCtxFn: w.dial}, opts)
	if err != nil {
		tb.Fatalf("rueidisbackend.New: %v", err)
	}
	tb.Cleanup(store.Close)
	return store, w
}
