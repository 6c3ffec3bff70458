package redisbackend_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/internal/testkey"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"
)

// TestSwapRoundTrips counts the commands each kind of Swap sends, through a
// go-redis hook, on a single node and on a cluster, once the script is
// cached on the node that owns the key: always exactly one, never WATCH,
// MULTI or a pipeline, and every key under the store's prefix.
func TestSwapRoundTrips(t *testing.T) {
	for _, c := range topologies {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			client := c.client(t)
			log := &commandLog{}
			client.AddHook(log)
			store, prefix := newStore(t, client)
			ctx := t.Context()
			key := testkey.New()
			t.Cleanup(func() { _ = store.Delete(context.Background(), key) })

			// Warm up: the first script Swap on the key's node finds the
			// script cached (one EVALSHA) unless no Swap ran there since
			// the server started; then EVALSHA answers NOSCRIPT and
			// go-redis sends EVAL. TestSwapLoadsScriptOnce checks that.
			is.NoErr(store.Write(ctx, key, []byte("v0"), time.Minute)) // write succeeds
			log.reset()
			ok, err := store.Swap(ctx, key, []byte("v0"), []byte("v1"), time.Minute)
			is.NoErr(err) // warm-up swap succeeds
			is.True(ok)   // from the record just written
			warm := log.names()
			t.Logf("first script Swap: %v", warm)
			is.True(slices.Equal(warm, []string{"evalsha"}) || slices.Equal(warm, []string{"evalsha", "eval"})) // one EVALSHA, or EVAL after NOSCRIPT

			var all []string
			steps := []struct {
				name      string
				old, data []byte
				ttl       time.Duration
				want      bool
				cmds      []string // command names sent, in order
			}{
				{"swap from the stored record", []byte("v1"), []byte("v2"), time.Minute, true, []string{"evalsha"}},
				{"swap from a record no longer stored", []byte("v1"), []byte("v3"), time.Minute, false, []string{"evalsha"}},
				{"delete-swap from a record no longer stored", []byte("v1"), nil, time.Minute, false, []string{"evalsha"}},
				{"swap with ttl 0 (a delete)", []byte("v2"), []byte("v3"), 0, true, []string{"evalsha"}},
				{"swap of a missing key", []byte("v2"), []byte("v3"), time.Minute, false, []string{"evalsha"}},
				{"create", nil, []byte("v1"), time.Minute, true, []string{"set"}},
				{"create of a stored key", nil, []byte("v2"), time.Minute, false, []string{"set"}},
				{"create with nil data of a stored key", nil, nil, time.Minute, false, []string{"exists"}},
				{"delete-swap from the stored record", []byte("v1"), nil, time.Minute, true, []string{"evalsha"}},
				{"create with nil data of a missing key", nil, nil, time.Minute, true, []string{"exists"}},
			}
			for _, s := range steps {
				log.reset()
				ok, err := store.Swap(ctx, key, s.old, s.data, s.ttl)
				is.NoErr(err)        // each swap succeeds or reports false, never an error
				is.Equal(ok, s.want) // whether the record was replaced
				cmds, pipelines, dials := log.snapshot()
				got := log.names()
				t.Logf("%s: %v", s.name, got)
				is.Equal(got, s.cmds)  // one command per Swap
				is.Equal(pipelines, 0) // no pipelines or transactions
				is.Equal(dials, 0)     // the pooled connection is reused
				all = append(all, got...)
				is.True(slices.Contains(cmds[0], any(prefix+key))) // the key sent is under the store's prefix
			}
			for _, name := range []string{"watch", "multi", "exec", "keys", "scan"} {
				is.True(!slices.Contains(all, name)) // no optimistic transaction, no key listing
			}
		})
	}
}

// TestSwapArgs checks what a script Swap sends: EVALSHA of the script's
// digest with the one key in KEYS, so that a cluster routes it by that key,
// and the old value, the new value and the TTL in milliseconds (rounded up,
// as for Write) in ARGV; and that Redis then holds the key with that
// relative TTL.
func TestSwapArgs(t *testing.T) {
	is := is.New(t)
	client := redisClient(t)
	log := &commandLog{}
	client.AddHook(log)
	store, prefix := newStore(t, client)
	ctx := t.Context()
	key := testkey.New()
	t.Cleanup(func() { _ = store.Delete(context.Background(), key) })
	is.NoErr(store.Write(ctx, key, []byte("old"), time.Minute)) // write succeeds

	log.reset()
	ok, err := store.Swap(ctx, key, []byte("old"), []byte("new"), 90*time.Second+time.Microsecond)
	is.NoErr(err) // swap succeeds
	is.True(ok)   // from the record just written
	args := log.last()
	is.Equal(len(args), 7)                // EVALSHA sha 1 key old new ms
	is.Equal(args[0], "evalsha")          // the script by its digest
	is.Equal(args[2], any(1))             // one key
	is.Equal(args[3], prefix+key)         // prefix + key, in KEYS
	is.Equal(args[4], any([]byte("old"))) // the old value
	is.Equal(args[5], any([]byte("new"))) // the new value
	is.Equal(args[6], any(int64(90_001))) // the TTL in milliseconds, rounded up
	pttl, err := client.PTTL(ctx, prefix+key).Result()
	is.NoErr(err)                                                     // PTTL works
	is.True(pttl <= 90_001*time.Millisecond && pttl > 85*time.Second) // Redis counts the TTL from the swap, on its own clock

	log.reset()
	ok, err = store.Swap(ctx, key, []byte("new"), nil, time.Minute)
	is.NoErr(err)                // delete-swap succeeds
	is.True(ok)                  // from the record just swapped in
	is.Equal(len(log.last()), 5) // EVALSHA sha 1 key old: no new value, so the script deletes

	log.reset()
	ok, err = store.Swap(ctx, key, nil, []byte("created"), 1500*time.Microsecond)
	is.NoErr(err)                                                                             // create succeeds
	is.True(ok)                                                                               // the key was free
	is.Equal(log.last(), []any{"set", prefix + key, []byte("created"), "px", int64(2), "nx"}) // SET key data PX ms NX, rounded up
}

// TestSwapLoadsScriptOnce empties the script cache of the single-node
// server and checks that the next script Swap costs two round trips
// (EVALSHA answers NOSCRIPT, then EVAL) and still swaps, and that the one
// after costs one EVALSHA. SCRIPT FLUSH is harmless to other clients: Redis
// documents the cache as volatile, and every client must reload on NOSCRIPT.
func TestSwapLoadsScriptOnce(t *testing.T) {
	is := is.New(t)
	client := redisClient(t)
	log := &commandLog{}
	client.AddHook(log)
	store, _ := newStore(t, client)
	ctx := t.Context()
	key := testkey.New()
	t.Cleanup(func() { _ = store.Delete(context.Background(), key) })
	is.NoErr(store.Write(ctx, key, []byte("v0"), time.Minute)) // write succeeds
	is.NoErr(client.ScriptFlush(ctx).Err())                    // as after a restart

	log.reset()
	ok, err := store.Swap(ctx, key, []byte("v0"), []byte("v1"), time.Minute)
	is.NoErr(err)                                      // the swap succeeds without the script cached
	is.True(ok)                                        // and swaps
	is.Equal(log.names(), []string{"evalsha", "eval"}) // NOSCRIPT, then the whole script, which caches it
	got, err := store.Read(ctx, key)
	is.NoErr(err)               // read succeeds
	is.Equal(got, []byte("v1")) // the swap stored its data

	log.reset()
	ok, err = store.Swap(ctx, key, []byte("v1"), []byte("v2"), time.Minute)
	is.NoErr(err)                              // the next swap succeeds
	is.True(ok)                                // and swaps
	is.Equal(log.names(), []string{"evalsha"}) // one round trip once the script is cached
}

// BenchmarkSwap swaps a 330-byte session for another, the way a commit on
// a backend.Swapper does, to compare with BenchmarkWrite: one EVALSHA that
// carries the old value as well, against one SET.
func BenchmarkSwap(b *testing.B) {
	store, _ := newStore(b, redisClient(b))
	ctx := b.Context()
	key := testkey.New()
	cur, next := payload330, bytes.Clone(payload330)
	next[len(next)-1] ^= 1
	if err := store.Write(ctx, key, cur, time.Minute); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Delete(context.Background(), key) })
	// One untimed swap, so that the script is cached when timing starts.
	if ok, err := store.Swap(ctx, key, cur, next, time.Minute); err != nil || !ok {
		b.Fatalf("warm-up Swap returned %v, %v; want true, nil", ok, err)
	}
	cur, next = next, cur
	b.ReportAllocs()
	for b.Loop() {
		ok, err := store.Swap(ctx, key, cur, next, time.Minute)
		if err != nil || !ok {
			b.Fatalf("Swap returned %v, %v; want true, nil", ok, err)
		}
		cur, next = next, cur
	}
}

// noopScript does nothing with the key and arguments of a Swap.
var noopScript = redis.NewScript(`return 1`)

// BenchmarkScriptNoop runs a script that does nothing, with the key and
// arguments of BenchmarkSwap: the fixed cost of running any Lua script on
// this server, which a compare-and-swap on Redis without a native
// conditional SET (SET … IFEQ, Redis 8.4 and Valkey 8.1) cannot avoid.
// Compare it with BenchmarkWrite and BenchmarkSwap in one run:
//
//	go test -run '^$' -bench 'Write$|Swap$|ScriptNoop$' -count 10 .
func BenchmarkScriptNoop(b *testing.B) {
	client := redisClient(b)
	ctx := b.Context()
	key := testkey.New()
	next := bytes.Clone(payload330)
	next[len(next)-1] ^= 1
	if err := noopScript.Run(ctx, client, []string{key}, payload330, next, 60000).Err(); err != nil {
		b.Fatal(err) // loads the script, so that it is cached when timing starts
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := noopScript.Run(ctx, client, []string{key}, payload330, next, 60000).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
