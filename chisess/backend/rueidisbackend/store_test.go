package rueidisbackend_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/rueidisbackend"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/matryer/is"
	"github.com/redis/rueidis"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opt     rueidis.ClientOption
		opts    rueidisbackend.Options
		wantErr string
	}{
		{name: "cache off", opt: rueidis.ClientOption{DisableCache: true}, wantErr: "ClientOption.DisableCache is true; leave it false"},
		{name: "RESP2", opt: rueidis.ClientOption{AlwaysRESP2: true}, wantErr: "ClientOption.AlwaysRESP2 is true; leave it false"},
		{name: "no pipelining", opt: rueidis.ClientOption{DisableAutoPipelining: true}, wantErr: "ClientOption.DisableAutoPipelining is true; leave it false"},
		{name: "space in prefix", opts: rueidisbackend.Options{Prefix: "my app:"}, wantErr: `Options.Prefix "my app:" contains a space; pass printable text`},
		{name: "control character", opts: rueidisbackend.Options{Prefix: "app\x00"}, wantErr: "contains the control character U+0000"},
		{name: "invalid UTF-8", opts: rueidisbackend.Options{Prefix: "app\xff"}, wantErr: "is not valid UTF-8"},
		{name: "hash tag", opts: rueidisbackend.Options{Prefix: "{app}:"}, wantErr: "contains a Redis Cluster hash tag"},
		{name: "negative CacheFor", opts: rueidisbackend.Options{CacheFor: -time.Second}, wantErr: "Options.CacheFor is -1s; pass a positive value, or 0 for 5m0s"},
		{name: "negative CacheEntries", opts: rueidisbackend.Options{CacheEntries: -1}, wantErr: "Options.CacheEntries is -1; pass a positive value, or 0 for 100000"},
		{name: "negative CacheBytes", opts: rueidisbackend.Options{CacheBytes: -1}, wantErr: "Options.CacheBytes is -1; pass a positive value, or 0 for 67108864"},
		{name: "own tracking", opt: rueidis.ClientOption{ClientTrackingOptions: []string{"OPTIN"}}, wantErr: "ClientOption.ClientTrackingOptions is set; leave it nil"},
		{name: "own invalidation hook", opt: rueidis.ClientOption{OnInvalidations: func([]rueidis.RedisMessage) {}}, wantErr: "ClientOption.OnInvalidations is set; leave it nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			tt.opt.InitAddress = []string{"127.0.0.1:1"} // never dialled: the options are checked first
			store, err := rueidisbackend.New(t.Context(), tt.opt, tt.opts)
			is.True(store == nil)                                     // no Store comes back with an error
			is.True(errors.Is(err, rueidisbackend.ErrInvalidOptions)) // bad options wrap ErrInvalidOptions
			is.True(strings.Contains(err.Error(), tt.wantErr))        // the error names the field and what to do
			is.True(strings.HasPrefix(err.Error(), "chisess: "))      // errors carry the package prefix
		})
	}
	t.Run("no server", func(t *testing.T) {
		is := is.New(t)
		store, err := rueidisbackend.New(t.Context(), rueidis.ClientOption{InitAddress: []string{testenv.DeadAddr(t)}}, rueidisbackend.Options{})
		is.True(store == nil)                                                    // no Store without a server
		is.True(strings.HasPrefix(err.Error(), "chisess: rueidisbackend.New: ")) // the error says where it came from
	})
}

// TestRoundTrips counts the socket writes of each call: a read of a cached
// session makes none, a read right after this Store's own write none, and
// every other call one. A read-modify-write, the request chisess serves
// most, is a cached read and a swap: one round trip.
func TestRoundTrips(t *testing.T) {
	for _, top := range topologies {
		t.Run(top.name, func(t *testing.T) {
			is := is.New(t)
			store, w := openStore(t, top.addrs(t), "", rueidisbackend.Options{})
			ctx := t.Context()
			// Make each node cache both scripts, so every count below is
			// the steady state.
			for i := range 64 {
				k := fmt.Sprintf("warm%d", i)
				is.NoErr(store.Write(ctx, k, []byte("v"), time.Minute))
				_, err := store.Swap(ctx, k, []byte("v"), []byte("w"), time.Minute)
				is.NoErr(err)                                 // warm-up swap
				is.NoErr(store.Index(ctx, k, k, time.Minute)) // warm-up index
			}
			const key = "k43charactersxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			tests := []struct {
				name string
				call func() error
				want int64
			}{
				{"write", func() error { return store.Write(ctx, key, []byte("a"), time.Minute) }, 1},
				{"read after own write", func() error { return readIs(store, key, "a") }, 0},
				{"delete", func() error { return store.Delete(ctx, key) }, 1},
				{"read after own delete", func() error { _, err := store.Read(ctx, key); return notFound(err) }, 1},
				{"write again", func() error { return store.Write(ctx, key, []byte("a"), time.Minute) }, 1},
				{"cached read", func() error { return readIs(store, key, "a") }, 0},
				{"cached read again", func() error { return readIs(store, key, "a") }, 0},
				{"swap", func() error { return swapErr(store.Swap(ctx, key, []byte("a"), []byte("b"), time.Minute)) }, 1},
				{"read after own swap", func() error { return readIs(store, key, "b") }, 0},
				{"swap of what was just read", func() error { return swapErr(store.Swap(ctx, key, []byte("b"), []byte("c"), time.Minute)) }, 1},
				{"read-modify-write: read", func() error { return readIs(store, key, "c") }, 0},
				{"read-modify-write: swap", func() error { return swapErr(store.Swap(ctx, key, []byte("c"), []byte("c2"), time.Minute)) }, 1},
				{"swap that deletes", func() error { return swapErr(store.Swap(ctx, key, []byte("c2"), nil, 0)) }, 1},
				{"create", func() error { return swapErr(store.Swap(ctx, key, nil, []byte("d"), time.Minute)) }, 1},
				{"read after create", func() error { return readIs(store, key, "d") }, 0},
				{"read of a missing key", func() error { _, err := store.Read(ctx, "missing"); return notFound(err) }, 1},
				{"read of a missing key again", func() error { _, err := store.Read(ctx, "missing"); return notFound(err) }, 1},
				{"delete of a cached key", func() error { return store.Delete(ctx, key) }, 1},
				{"index", func() error { return store.Index(ctx, "ada", key, time.Minute) }, 1},
				{"owned", func() error { _, err := store.Owned(ctx, "ada"); return err }, 1},
				{"unindex", func() error { return store.Unindex(ctx, "ada", key) }, 1},
			}
			for _, tt := range tests { // in order: each row starts where the last one left the key
				t.Run(tt.name, func(t *testing.T) {
					is := is.New(t)
					before := w.load()
					is.NoErr(tt.call()) // the call succeeds
					if w.load()-before != tt.want {
						t.Logf("stats %+v", store.Stats())
					}
					is.Equal(w.load()-before, tt.want) // round trips of this call
				})
			}
		})
	}
}

func swapErr(ok bool, err error) error {
	if err == nil && !ok {
		return errors.New("not swapped")
	}
	return err
}

// readIs reads key from store and returns an error unless it holds want.
func readIs(store *rueidisbackend.Store, key, want string) error {
	got, err := store.Read(context.Background(), key)
	if err == nil && string(got) != want {
		err = fmt.Errorf("read %q, want %q", got, want)
	}
	return err
}

func notFound(err error) error {
	if errors.Is(err, backend.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("want ErrNotFound, got %v", err)
}

// TestReadsOwnWrites reads a session back right after each change this
// Store makes to it, while the session is in its cache: the read must see
// the change, never the cached value it replaced. The server sends the
// invalidation of a client's own change, if at all, after the reply to it
// (and with NOLOOP, which the Store asks for, not at all), so this holds
// only because every write puts what it wrote, or nothing, in the cache.
func TestReadsOwnWrites(t *testing.T) {
	for _, top := range topologies {
		t.Run(top.name, func(t *testing.T) {
			is := is.New(t)
			store, _ := openStore(t, top.addrs(t), "", rueidisbackend.Options{})
			ctx := t.Context()
			is.NoErr(store.Write(ctx, "k", []byte("0"), time.Minute))
			for i := range 300 {
				old, err := store.Read(ctx, "k") // cached from the second round on
				is.NoErr(err)
				is.Equal(string(old), fmt.Sprint(i)) // the last change, not what the cache held before it
				var ok bool
				switch i % 3 {
				case 0:
					ok, err = store.Swap(ctx, "k", old, []byte(fmt.Sprint(i+1)), time.Minute)
				case 1:
					ok, err = true, store.Write(ctx, "k", []byte(fmt.Sprint(i+1)), time.Minute)
				case 2:
					ok, err = true, store.Delete(ctx, "k")
					is.NoErr(err)
					_, err = store.Read(ctx, "k")
					is.True(errors.Is(err, backend.ErrNotFound)) // a deleted session is gone at once
					ok, err = store.Swap(ctx, "k", nil, []byte(fmt.Sprint(i+1)), time.Minute)
				}
				is.NoErr(err) // the change is made
				is.True(ok)   // the change is made
			}
		})
	}
}

// TestNativeCompare: New finds SET … IFEQ on Valkey 8.1, on every node of
// its cluster, and not on Redis 7.0, where every swap goes through the
// script; NoNativeCompare keeps the script on any server.
func TestNativeCompare(t *testing.T) {
	for _, top := range topologies {
		t.Run(top.name, func(t *testing.T) {
			is := is.New(t)
			store, _ := openStore(t, top.addrs(t), "", rueidisbackend.Options{})
			is.Equal(store.NativeCompare(), top.native) // Valkey 8.1 has SET … IFEQ, Redis 7.0 the script only
			store, _ = openStore(t, top.addrs(t), "", rueidisbackend.Options{NoNativeCompare: true})
			is.True(!store.NativeCompare()) // opted out
		})
	}
}

// TestStaleCacheNeverWins: app server B holds a session in its cache
// when app server A changes or destroys it. Whether or not A's
// invalidation has reached B yet, B's swap against what it cached fails,
// B's next read finds A's change, or nothing, and B's swap of that
// succeeds; a destroyed session is never brought back.
func TestStaleCacheNeverWins(t *testing.T) {
	tests := []struct {
		name   string
		change func(a *rueidisbackend.Store, key string) error
		want   string // what B reads after the failed swap; "" for not found
	}{
		{"changed", func(a *rueidisbackend.Store, key string) error {
			return swapErr(a.Swap(context.Background(), key, []byte("v1"), []byte("theirs"), time.Minute))
		}, "theirs"},
		{"written", func(a *rueidisbackend.Store, key string) error {
			return a.Write(context.Background(), key, []byte("theirs"), time.Minute)
		}, "theirs"},
		{"destroyed", func(a *rueidisbackend.Store, key string) error {
			return a.Delete(context.Background(), key)
		}, ""},
		{"destroyed by swap", func(a *rueidisbackend.Store, key string) error {
			return swapErr(a.Swap(context.Background(), key, []byte("v1"), nil, 0))
		}, ""},
	}
	for _, top := range topologies {
		for _, tt := range tests {
			t.Run(top.name+"/"+tt.name, func(t *testing.T) {
				is := is.New(t)
				ctx := t.Context()
				addrs, prefix := top.addrs(t), testPrefix()
				a, _ := openStore(t, addrs, prefix, rueidisbackend.Options{})
				b, _ := openStore(t, addrs, prefix, rueidisbackend.Options{})
				is.NoErr(a.Write(ctx, "k", []byte("v1"), time.Minute))
				is.NoErr(readIs(b, "k", "v1")) // B caches v1
				is.NoErr(tt.change(a, "k"))

				ok, err := b.Swap(ctx, "k", []byte("v1"), []byte("mine"), time.Minute)
				is.NoErr(err)
				is.True(!ok) // B's stale swap fails
				got, err := b.Read(ctx, "k")
				if tt.want == "" {
					is.True(errors.Is(err, backend.ErrNotFound)) // the destroyed session stays gone on B
					is.NoErr(a.Sync(ctx))
					_, err = a.Read(ctx, "k")
					is.True(errors.Is(err, backend.ErrNotFound)) // and on A
					return
				}
				is.NoErr(err)
				is.Equal(string(got), tt.want) // B reads A's change
				ok, err = b.Swap(ctx, "k", got, []byte("mine"), time.Minute)
				is.NoErr(err)
				is.True(ok) // and B's swap of it succeeds
				is.NoErr(a.Sync(ctx))
				is.NoErr(readIs(a, "k", "mine")) // A sees B's change
			})
		}
	}
}

// TestConnectionLossDropsCache kills the connections of app server B to
// the node that holds a session, on the server side, while B caches it,
// changes the session through A while B is away (B misses the
// invalidation), and checks that B drops its whole cache when it sees the
// connection gone, so that its next read asks the server. On a cluster
// only B's connections to that one node die: the others stay up, and the
// cache still goes. B notices the loss when its reader goroutine reads the
// end of the stream, which happens when it happens: the test polls for
// it, for at most five seconds.
func TestConnectionLossDropsCache(t *testing.T) {
	for _, top := range topologies {
		t.Run(top.name, func(t *testing.T) {
			is := is.New(t)
			ctx := t.Context()
			addrs, prefix := top.addrs(t), testPrefix()
			a, _ := openStore(t, addrs, prefix, rueidisbackend.Options{})
			b, bw := openStore(t, addrs, prefix, rueidisbackend.Options{})
			is.NoErr(a.Write(ctx, "k", []byte("v1"), time.Minute))
			is.NoErr(a.Write(ctx, "other", []byte("x"), time.Minute))
			// A cluster client closes a connection of its own soon after
			// it starts (one it dialled to learn the topology), which
			// flushes the cache too: read until B caches both, and count
			// only the flushes after the kill.
			testenv.Await(t, 5*time.Second, "B to keep both sessions it read in its cache", func() bool {
				is.NoErr(readIs(b, "k", "v1"))
				is.NoErr(readIs(b, "other", "x"))
				return b.Stats().Entries == 2 // B caches both
			})
			flushed := b.Stats().Flushes
			node := nodeOf(t, addrs, prefix+"k")
			admin, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{node}, ForceSingleClient: true, DisableCache: true})
			is.NoErr(err)
			defer admin.Close()
			killed := 0
			for _, c := range bw.dialled() {
				if c.RemoteAddr().String() != node {
					continue // a connection to another node of the cluster stays up
				}
				err := admin.Do(ctx, admin.B().ClientKill().Addr(c.LocalAddr().String()).Build()).Error()
				if err != nil && !strings.Contains(err.Error(), "No such client") { // an old connection rueidis closed itself
					is.NoErr(err)
				}
				killed++
			}
			is.True(killed > 0)                                    // B had a connection to the node of k
			is.NoErr(a.Write(ctx, "k", []byte("v2"), time.Minute)) // B is not connected: no invalidation for it

			testenv.Await(t, 5*time.Second, "B to drop its cache after its connection was killed", func() bool {
				return b.Stats().Flushes != flushed
			})
			is.Equal(b.Stats().Entries, 0) // the whole cache is gone
			before := bw.load()
			is.NoErr(readIs(b, "k", "v2")) // B reads the change it missed
			is.True(bw.load() > before)    // from the server
		})
	}
}

// nodeOf returns the address, among addrs, of the node that serves key:
// the only one that answers a command on it rather than MOVED (on a
// single node, that node).
func nodeOf(t *testing.T, addrs []string, key string) string {
	t.Helper()
	for _, addr := range addrs {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, ForceSingleClient: true, DisableCache: true})
		if err != nil {
			t.Fatalf("connect to %s: %v", addr, err)
		}
		err = c.Do(t.Context(), c.B().Exists().Key(key).Build()).Error()
		c.Close()
		if err == nil {
			return addr
		}
		if re, ok := rueidis.IsRedisErr(err); !ok || !strings.HasPrefix(re.Error(), "MOVED") {
			t.Fatalf("EXISTS on %s: %v", addr, err)
		}
	}
	t.Fatalf("no node of %v serves %s", addrs, key)
	return ""
}

// TestCacheBound reads more sessions than the cache holds: it keeps
// CacheEntries of them, the most recently used, and the others are read
// from the server again; Stats counts it all.
func TestCacheBound(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	store, w := openStore(t, []string{testenv.Lookup(t, testenv.RedisAddr)}, "", rueidisbackend.Options{CacheEntries: 10})
	for i := range 15 {
		if i >= 10 {
			is.NoErr(readIs(store, "0", "v")) // session 0 stays in use
		}
		is.NoErr(store.Write(ctx, fmt.Sprint(i), []byte("v"), time.Minute)) // each write caches what it wrote
	}
	st := store.Stats()
	is.Equal(st.Entries, 10)          // the bound
	is.Equal(st.Evictions, uint64(5)) // the rest went
	is.Equal(st.Hits, uint64(5))      // session 0, each time
	is.Equal(st.Misses, uint64(0))    //
	for _, k := range []string{"0", "10", "11", "12", "13", "14"} {
		before := w.load()
		is.NoErr(readIs(store, k, "v"))
		is.Equal(w.load(), before) // recently used: cached
	}
	for _, k := range []string{"1", "2", "3", "4", "5"} {
		before := w.load()
		is.NoErr(readIs(store, k, "v"))
		is.Equal(w.load(), before+1) // least recently used: evicted, read again
	}
	st = store.Stats()
	is.Equal(st.Entries, 10)
	is.Equal(st.Hits, uint64(11))
	is.Equal(st.Misses, uint64(5))
	is.Equal(st.HitRatio(), 11.0/16)
	hits, misses := store.CacheStats() // what instrumentation reads
	is.Equal(hits, int64(11))
	is.Equal(misses, int64(5))
}

// TestConcurrentCallsOnOneKey runs reads, swaps, writes and deletes of one
// key from many goroutines of one Store at once, then checks that the
// Store's cache agrees with the server. The server sends a Store no
// invalidation of its own changes, so this holds only because the cache
// keeps nothing from calls whose order on the server it cannot know.
func TestConcurrentCallsOnOneKey(t *testing.T) {
	for _, top := range topologies {
		t.Run(top.name, func(t *testing.T) {
			is := is.New(t)
			ctx := t.Context()
			addrs, prefix := top.addrs(t), testPrefix()
			store, _ := openStore(t, addrs, prefix, rueidisbackend.Options{})
			for round := range 20 {
				var wg sync.WaitGroup
				for g := range 8 {
					wg.Go(func() {
						v := []byte(fmt.Sprint(round, g))
						switch g % 4 {
						case 0:
							old, err := store.Read(ctx, "k")
							if err == nil {
								_, err = store.Swap(ctx, "k", old, v, time.Minute)
							}
							if err != nil && !errors.Is(err, backend.ErrNotFound) {
								t.Error(err)
							}
						case 1:
							if _, err := store.Swap(ctx, "k", nil, v, time.Minute); err != nil {
								t.Error(err)
							}
						case 2:
							if err := store.Write(ctx, "k", v, time.Minute); err != nil {
								t.Error(err)
							}
						case 3:
							if err := store.Delete(ctx, "k"); err != nil {
								t.Error(err)
							}
						}
					})
				}
				wg.Wait()
				fresh, _ := openStore(t, addrs, prefix, rueidisbackend.Options{})
				want, werr := fresh.Read(ctx, "k")
				got, gerr := store.Read(ctx, "k")
				is.Equal(errors.Is(gerr, backend.ErrNotFound), errors.Is(werr, backend.ErrNotFound)) // the cache agrees with the server
				is.Equal(string(got), string(want))                                                  // the cache agrees with the server
			}
		})
	}
}
