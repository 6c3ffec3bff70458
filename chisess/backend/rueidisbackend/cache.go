package rueidisbackend

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// entryOverhead is what one cached session costs beyond its key and its
// value, counted against [Options.CacheBytes]: the slot, its map entry and
// its list links, rounded up.
const entryOverhead = 128

// maxShards is the most shards a cache is split into; each shard has a
// lock, a map and an LRU list of its own, so that reads on many cores do
// not queue on one lock.
const maxShards = 16

// minShardEntries is the fewest entries a shard is given room for: a
// small cache is split into fewer shards, and one of at most 511 entries
// is one shard, with an exact least-recently-used order.
const minShardEntries = 256

// cache is the Store's local copy of the sessions it read or wrote, by
// chisess key (without the prefix). Its entries are kept right by the
// server's invalidations (RESP3 tracking in BCAST mode, with NOLOOP) and
// by the Store's own writes, with this protocol:
//
//   - every call that asks the server about a key, a read that missed or a
//     write, first [cache.begin]s it: the key gets a slot that counts the
//     calls in flight;
//   - an invalidation of the key, or a flush of the whole cache, drops the
//     slot's value and, while calls are in flight, marks it dirty;
//   - a second call that begins while another is in flight marks it dirty
//     too: the order in which their commands reach the server is unknown;
//   - [cache.end] stores the value the call read or wrote only if the slot
//     is not dirty; otherwise it drops the value, and the next read asks
//     the server.
//
// So a value is stored only if nothing touched its key between the moment
// its command was sent and the moment its reply was handled: an
// invalidation that arrives while a read or a write is in flight always
// wins. Slots with calls in flight are never removed from the map, by an
// invalidation, a flush or an eviction, so that the mark survives.
type cache struct {
	seed    maphash.Seed
	shards  []shard
	mask    uint64
	start   time.Time // the origin of [cache.now], with a monotonic reading
	flushes atomic.Uint64
}

type shard struct {
	mu          sync.Mutex
	m           map[string]*slot
	lru         slot // sentinel of the list of slots that hold a value, most recent first
	entries     int  // slots that hold a value
	bytes       int  // their size, as counted against maxBytes
	maxEntries  int
	maxBytes    int
	hits        uint64
	misses      uint64
	evictions   uint64
	invalidated uint64
	_           [64]byte // keeps the shards' locks on separate cache lines
}

// slot is one key of the cache: a value or calls in flight, or both.
type slot struct {
	key        string
	val        []byte        // never changed once stored: readers copy it outside the lock
	exp        time.Duration // when the value stops being served, as [cache.now]
	has        bool          // val and exp are set
	pending    int           // calls begun and not ended
	dirty      bool          // something touched the key while calls were in flight
	prev, next *slot         // the shard's LRU list, while has
}

// newCache returns a cache bounded by maxEntries values and maxBytes
// bytes, both positive.
func newCache(maxEntries, maxBytes int) *cache {
	n := 1
	for n < maxShards && maxEntries/(n*2) >= minShardEntries {
		n *= 2
	}
	c := &cache{seed: maphash.MakeSeed(), shards: make([]shard, n), mask: uint64(n - 1), start: time.Now()}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.m = make(map[string]*slot)
		sh.lru.prev, sh.lru.next = &sh.lru, &sh.lru
		sh.maxEntries = (maxEntries + n - 1) / n
		sh.maxBytes = (maxBytes + n - 1) / n
	}
	return c
}

// now returns the time elapsed since the cache was made, on the monotonic
// clock, which a change of the wall clock does not move.
func (c *cache) now() time.Duration { return time.Since(c.start) }

func (c *cache) shard(key string) *shard {
	return &c.shards[maphash.String(c.seed, key)&c.mask]
}

// get returns the value cached under key at now, which the caller must
// not change, and counts a hit or a miss.
func (c *cache) get(key string, now time.Duration) ([]byte, bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	s := sh.m[key]
	if s != nil && s.has {
		if now < s.exp {
			sh.hits++
			if sh.lru.next != s {
				sh.unlink(s)
				sh.pushFront(s)
			}
			v := s.val
			sh.mu.Unlock()
			return v, true
		}
		sh.drop(s) // expired
	}
	sh.misses++
	sh.mu.Unlock()
	return nil, false
}

// begin records that a call about key is going to the server, and returns
// the slot to hand to [cache.end] when its reply is in.
func (c *cache) begin(key string) *slot {
	sh := c.shard(key)
	sh.mu.Lock()
	s := sh.m[key]
	if s == nil {
		s = &slot{key: key}
		sh.m[key] = s
	}
	if s.pending > 0 {
		s.dirty = true
	}
	s.pending++
	sh.mu.Unlock()
	return s
}

// end records that the call begun on s is done. With keep set, val (which
// the cache then owns) is the value the server holds for the key as the
// call left it, served until exp unless the slot is dirty; without keep,
// the key's value is unknown or absent, and any cached value is dropped.
func (c *cache) end(s *slot, keep bool, val []byte, exp time.Duration) {
	sh := c.shard(s.key)
	sh.mu.Lock()
	s.pending--
	if keep && !s.dirty {
		if s.has {
			sh.unlink(s)
		}
		s.val, s.exp, s.has = val, exp, true
		sh.pushFront(s)
		sh.evict()
	} else {
		sh.drop(s)
	}
	if s.pending == 0 {
		s.dirty = false
		if !s.has {
			delete(sh.m, s.key)
		}
	}
	sh.mu.Unlock()
}

// invalidate drops the value of key: the server says it changed.
func (c *cache) invalidate(key string) {
	sh := c.shard(key)
	sh.mu.Lock()
	if s := sh.m[key]; s != nil {
		if s.has {
			sh.invalidated++
		}
		sh.drop(s)
		if s.pending > 0 {
			s.dirty = true
		}
	}
	sh.mu.Unlock()
}

// flush drops every value: invalidations may have been lost. It counts
// the flush once every shard is empty, so that Stats never shows the
// flush with values still in the cache.
func (c *cache) flush() {
	defer c.flushes.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for _, s := range sh.m {
			sh.drop(s)
			if s.pending > 0 {
				s.dirty = true
			}
		}
		sh.mu.Unlock()
	}
}

// drop removes the value of s, and s itself when no call is in flight.
// The shard's lock is held.
func (sh *shard) drop(s *slot) {
	if s.has {
		sh.unlink(s)
		s.val, s.has = nil, false
	}
	if s.pending == 0 {
		delete(sh.m, s.key)
	}
}

// evict drops the least recently used values until the shard is within
// its bounds. The shard's lock is held.
func (sh *shard) evict() {
	for (sh.entries > sh.maxEntries || sh.bytes > sh.maxBytes) && sh.lru.prev != &sh.lru {
		sh.drop(sh.lru.prev)
		sh.evictions++
	}
}

func (sh *shard) pushFront(s *slot) {
	s.prev, s.next = &sh.lru, sh.lru.next
	s.next.prev, sh.lru.next = s, s
	sh.entries++
	sh.bytes += size(s)
}

func (sh *shard) unlink(s *slot) {
	s.prev.next, s.next.prev = s.next, s.prev
	s.prev, s.next = nil, nil
	sh.entries--
	sh.bytes -= size(s)
}

func size(s *slot) int { return len(s.key) + len(s.val) + entryOverhead }

// Stats counts what a [Store]'s local cache did since [New].
type Stats struct {
	// Hits is the number of reads served from the cache, with no round
	// trip; Misses the number that asked the server.
	Hits, Misses uint64
	// Entries is the number of sessions cached now, and Bytes their size
	// as counted against [Options.CacheBytes].
	Entries, Bytes int
	// Evictions is the number of sessions dropped to keep the cache
	// within [Options.CacheEntries] and [Options.CacheBytes].
	Evictions uint64
	// Invalidations is the number of cached sessions dropped because the
	// server said another client changed or deleted them, or that they
	// expired.
	Invalidations uint64
	// Flushes is the number of times the whole cache was dropped: when a
	// connection to Redis was lost (invalidations may have been missed)
	// or the server flushed its database.
	Flushes uint64
}

// HitRatio returns Hits / (Hits + Misses), or 0 before the first read.
func (s Stats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

func (c *cache) stats() Stats {
	st := Stats{Flushes: c.flushes.Load()}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		st.Hits += sh.hits
		st.Misses += sh.misses
		st.Entries += sh.entries
		st.Bytes += sh.bytes
		st.Evictions += sh.evictions
		st.Invalidations += sh.invalidated
		sh.mu.Unlock()
	}
	return st
}
