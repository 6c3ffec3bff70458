package redisbackend_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chisess/kit/chisess/backend/redisbackend"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"
)

// redisClient returns a client of the single-node Redis at
// CHISESS_REDIS_ADDR, closed when tb ends. It flushes nothing: tests share
// the server, so each one keeps to its own key prefix ([testPrefix]). The
// client keeps go-redis's defaults, ContextTimeoutEnabled false included.
func redisClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	addr := testenv.Lookup(tb, testenv.RedisAddr)
	client := redis.NewClient(&redis.Options{Addr: addr})
	tb.Cleanup(func() { _ = client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis at CHISESS_REDIS_ADDR=%s does not answer PING: %v", addr, err)
	}
	return client
}

// clusterClient returns a client of the Redis Cluster whose nodes
// CHISESS_REDIS_CLUSTER_ADDRS lists, closed when tb ends. Like
// [redisClient], it keeps go-redis's defaults.
func clusterClient(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	addrs := testenv.RedisClusterNodes(tb)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	tb.Cleanup(func() { _ = client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis cluster at CHISESS_REDIS_CLUSTER_ADDRS=%s does not answer PING: %v", addrs, err)
	}
	return client
}

// testPrefix returns a key prefix no other test uses, so that tests can
// run at once against one server without FLUSHDB.
func testPrefix() string {
	var b [8]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return "chisess:test:" + hex.EncodeToString(b[:]) + ":"
}

// newStore returns a Store over client under a fresh [testPrefix], and
// that prefix.
func newStore(tb testing.TB, client redis.UniversalClient) (*redisbackend.Store, string) {
	tb.Helper()
	prefix := testPrefix()
	store, err := redisbackend.New(client, redisbackend.Options{Prefix: prefix})
	if err != nil {
		tb.Fatalf("redisbackend.New: %v", err)
	}
	return store, prefix
}

// commandLog is a go-redis hook that records every command a client sends
// and every connection it dials. Add it with client.AddHook.
type commandLog struct {
	mu        sync.Mutex
	cmds      [][]any // the arguments of each command, the name first
	pipelines int     // pipelines and transactions sent
	dials     int
}

var _ redis.Hook = (*commandLog)(nil)

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		l.mu.Lock()
		l.dials++
		l.mu.Unlock()
		return next(ctx, network, addr)
	}
}

func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.mu.Lock()
		l.cmds = append(l.cmds, cmd.Args())
		l.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.mu.Lock()
		l.pipelines++
		for _, cmd := range cmds {
			l.cmds = append(l.cmds, cmd.Args())
		}
		l.mu.Unlock()
		return next(ctx, cmds)
	}
}

// reset forgets everything recorded so far.
func (l *commandLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cmds, l.pipelines, l.dials = nil, 0, 0
}

// names returns the lower-case name of each command recorded, in order.
func (l *commandLog) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, len(l.cmds))
	for i, args := range l.cmds {
		if s, ok := args[0].(string); ok {
			names[i] = strings.ToLower(s)
		}
	}
	return names
}

// snapshot returns the commands, pipelines and dials recorded so far.
func (l *commandLog) snapshot() (cmds [][]any, pipelines, dials int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.cmds), l.pipelines, l.dials
}

// last returns the arguments of the last command recorded.
func (l *commandLog) last() []any {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cmds) == 0 {
		return nil
	}
	return l.cmds[len(l.cmds)-1]
}

// silentAddr returns the address of a loopback server that accepts
// connections and never answers, like a Redis that has hung. It stops when
// tb ends.
func silentAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	tb.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// topologies are the two kinds of Redis the round-trip tests run on.
var topologies = []struct {
	name   string
	client func(testing.TB) redis.UniversalClient
}{
	{"single node", redisClient},
	{"cluster", func(tb testing.TB) redis.UniversalClient { return clusterClient(tb) }},
}

// assertSpread asks each master of client, directly, which of keys it
// holds (a key owned by another master answers MOVED, which counts as not
// held there), and checks that the three masters of the test cluster each
// hold some of them and that every key is on exactly one. what names the
// keys in the log and the failures.
func assertSpread(t *testing.T, client *redis.ClusterClient, keys []string, what string) {
	t.Helper()
	is := is.New(t)
	is.Helper()
	var mu sync.Mutex
	held := map[string]int{} // master address → keys it holds
	err := client.ForEachMaster(t.Context(), func(ctx context.Context, node *redis.Client) error {
		cmds, _ := node.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Exists(ctx, k)
			}
			return nil
		})
		n := 0
		for _, cmd := range cmds {
			if cmd.(*redis.IntCmd).Val() == 1 {
				n++
			}
		}
		mu.Lock()
		held[node.Options().Addr] = n
		mu.Unlock()
		return nil
	})
	is.NoErr(err) // every master answered
	t.Logf("%s per master: %v", what, held)
	is.Equal(len(held), 3) // the test cluster has three masters
	total := 0
	for _, n := range held {
		is.True(n > 0) // every master holds some
		total += n
	}
	is.Equal(total, len(keys)) // each is on exactly one master
}
