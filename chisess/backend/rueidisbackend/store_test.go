package rueidisbackend_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/rueidisbackend"
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
		store, err := rueidisbackend.New(t.Context(), rueidis.ClientOption{InitAddress: []string{deadAddr(t)}}, rueidisbackend.Options{})
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
					is.NoErr(tt.call())                // the call succeeds
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

// deadAddr returns the address of a loopback port nothing listens on.
func deadAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		tb.Fatalf("close listener: %v", err)
	}
	return addr
}

// TestNativeCompare: on the Redis 7.0 of the tests no node has SET … IFEQ,
// so every swap goes through the script, and NoNativeCompare keeps it so
// on any server.
func TestNativeCompare(t *testing.T) {
	for _, top := range topologies {
		t.Run(top.name, func(t *testing.T) {
			is := is.New(t)
			store, _ := openStore(t, top.addrs(t), "", rueidisbackend.Options{})
			is.True(!store.NativeCompare()) // Redis 7.0 has no SET … IFEQ: the script is the fallback
			store, _ = openStore(t, top.addrs(t), "", rueidisbackend.Options{NoNativeCompare: true})
			is.True(!store.NativeCompare()) // opted out
		})
	}
}
