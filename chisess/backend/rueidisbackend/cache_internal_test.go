package rueidisbackend

import (
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"
)

// TestCacheProtocol runs sequences of calls, invalidations and flushes on
// one key of a cache and checks what a read finds after each sequence:
// whatever touched the key while a call was in flight wins over what the
// call brings back.
func TestCacheProtocol(t *testing.T) {
	const exp = time.Hour
	tests := []struct {
		name string
		run  func(c *cache)
		want string // "" when the key must not be cached
	}{
		{"read miss fills", func(c *cache) {
			s := c.begin("k")
			c.end(s, true, []byte("v1"), exp)
		}, "v1"},
		{"own write replaces", func(c *cache) {
			c.end(c.begin("k"), true, []byte("v1"), exp)
			c.end(c.begin("k"), true, []byte("v2"), exp)
		}, "v2"},
		{"failed write drops", func(c *cache) {
			c.end(c.begin("k"), true, []byte("v1"), exp)
			c.end(c.begin("k"), false, nil, 0)
		}, ""},
		{"invalidation while a read is in flight", func(c *cache) {
			s := c.begin("k")
			c.invalidate("k")
			c.end(s, true, []byte("v1"), exp)
		}, ""},
		{"invalidation while a write is in flight", func(c *cache) {
			c.end(c.begin("k"), true, []byte("v1"), exp)
			s := c.begin("k")
			c.invalidate("k")
			c.end(s, true, []byte("v2"), exp)
		}, ""},
		{"flush while a read is in flight", func(c *cache) {
			s := c.begin("k")
			c.flush()
			c.end(s, true, []byte("v1"), exp)
		}, ""},
		{"two calls in flight, ended in order", func(c *cache) {
			s1, s2 := c.begin("k"), c.begin("k")
			c.end(s1, true, []byte("v1"), exp)
			c.end(s2, true, []byte("v2"), exp)
		}, ""},
		{"two calls in flight, ended out of order", func(c *cache) {
			s1, s2 := c.begin("k"), c.begin("k")
			c.end(s2, true, []byte("v2"), exp)
			c.end(s1, true, []byte("v1"), exp)
		}, ""},
		{"first call ended before the second began", func(c *cache) {
			c.end(c.begin("k"), true, []byte("v1"), exp)
			c.end(c.begin("k"), true, []byte("v2"), exp)
		}, "v2"},
		{"dirty mark ends with the last call", func(c *cache) {
			s1, s2 := c.begin("k"), c.begin("k")
			c.end(s1, true, []byte("v1"), exp)
			c.end(s2, true, []byte("v2"), exp)
			c.end(c.begin("k"), true, []byte("v3"), exp)
		}, "v3"},
		{"invalidation after the call ended", func(c *cache) {
			c.end(c.begin("k"), true, []byte("v1"), exp)
			c.invalidate("k")
		}, ""},
		{"invalidation of another key", func(c *cache) {
			s := c.begin("k")
			c.invalidate("other")
			c.end(s, true, []byte("v1"), exp)
		}, "v1"},
		{"expired", func(c *cache) {
			c.end(c.begin("k"), true, []byte("v1"), c.now())
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newCache(100, 1<<20)
			tt.run(c)
			v, ok := c.get("k", c.now())
			is.Equal(ok, tt.want != "")                                        // whether the key is cached
			is.Equal(string(v), tt.want)                                       // and with what
			is.Equal(len(c.shard("k").m), map[bool]int{true: 1, false: 0}[ok]) // no slot is left behind
		})
	}
}

// TestCacheBounds fills caches past their bounds and checks that the least
// recently used sessions go first.
func TestCacheBounds(t *testing.T) {
	tests := []struct {
		name              string
		entries, bytes    int
		wantKept, wantOut []string
	}{
		{"entries", 3, 1 << 20, []string{"k0", "k3", "k4"}, []string{"k1", "k2"}},
		{"bytes", 100, 3 * (2 + 10 + entryOverhead), []string{"k0", "k3", "k4"}, []string{"k1", "k2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			c := newCache(tt.entries, tt.bytes)
			is.Equal(len(c.shards), 1) // a small cache is one shard
			for i := range 5 {
				k := fmt.Sprintf("k%d", i)
				c.end(c.begin(k), true, []byte("0123456789"), time.Hour)
				if i == 2 {
					_, ok := c.get("k0", c.now()) // k0 is used again: k1 is now the oldest
					is.True(ok)
				}
			}
			for _, k := range tt.wantKept {
				_, ok := c.get(k, c.now())
				is.True(ok) // recently used: kept
			}
			for _, k := range tt.wantOut {
				_, ok := c.get(k, c.now())
				is.True(!ok) // least recently used: evicted
			}
			st := c.stats()
			is.Equal(st.Entries, 3)
			is.Equal(st.Evictions, uint64(2))
			is.Equal(st.Bytes, 3*(2+10+entryOverhead))
		})
	}
}

// TestCacheShards: a big cache is split into shards, each with its share
// of the bounds, and the bounds hold over all of them.
func TestCacheShards(t *testing.T) {
	is := is.New(t)
	c := newCache(DefaultCacheEntries, DefaultCacheBytes)
	is.Equal(len(c.shards), maxShards)
	small := newCache(4*minShardEntries, 1<<20)
	is.Equal(len(small.shards), 4) // room for 256 entries in each
	for i := range 3000 {
		k := fmt.Sprint(i)
		small.end(small.begin(k), true, []byte("v"), time.Hour)
	}
	is.True(small.stats().Entries <= 4*minShardEntries) // the bound holds over the shards
}
