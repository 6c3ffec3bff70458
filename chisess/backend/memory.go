package backend

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// Memory is an in-process [Backend]: a sharded map with per-record expiry
// and a janitor goroutine that sweeps expired records.
//
// Use it for tests, for development, and for single-process apps that can
// afford to lose every session on restart. Apps that run more than one
// process need a shared store (redisbackend, pgbackend); apps on one machine
// that must survive restarts want boltbackend.
//
// Create it with [NewMemory] and stop its janitor with [Memory.Close].
type Memory struct {
	shards [memoryShards]memoryShard

	ownersMu sync.Mutex
	owners   map[string]map[string]time.Time // owner → key → index expiry

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var (
	_ Backend = (*Memory)(nil)
	_ Swapper = (*Memory)(nil)
	_ Indexer = (*Memory)(nil)
	_ Counter = (*Memory)(nil)
)

// memoryShards spreads keys over independently locked maps so that
// concurrent requests on different sessions rarely contend.
const memoryShards = 32

type memoryShard struct {
	mu   sync.RWMutex
	recs map[string]memoryRecord
}

type memoryRecord struct {
	data    []byte
	expires int64 // Unix nanoseconds: no pointer for the GC to follow
}

// DefaultCleanupInterval is how often the janitor of [NewMemory] sweeps
// expired records.
const DefaultCleanupInterval = time.Minute

// NewMemory returns an empty [Memory] whose janitor sweeps expired records
// every [DefaultCleanupInterval]. Expired records are never returned even
// before they are swept. Call Close when done with it.
func NewMemory() *Memory {
	return NewMemoryWithCleanup(DefaultCleanupInterval)
}

// NewMemoryWithCleanup is [NewMemory] with a chosen sweep interval. An
// interval of zero or less starts no janitor: expired records are then
// removed only when read or overwritten, which suits short-lived tests.
func NewMemoryWithCleanup(interval time.Duration) *Memory {
	m := &Memory{stop: make(chan struct{}), done: make(chan struct{}), owners: map[string]map[string]time.Time{}}
	for i := range m.shards {
		m.shards[i].recs = make(map[string]memoryRecord)
	}
	if interval > 0 {
		go m.janitor(interval)
	} else {
		close(m.done)
	}
	return m
}

func (m *Memory) shard(key string) *memoryShard {
	// FNV-1a: keys are usually already hashes, but a custom key scheme
	// should spread too.
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return &m.shards[h%memoryShards]
}

// Read implements [Backend]. It returns a copy of the stored bytes, or an
// error wrapping ErrNotFound when the key is absent or expired.
func (m *Memory) Read(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := m.shard(key)
	s.mu.RLock()
	rec, ok := s.recs[key]
	s.mu.RUnlock()
	if !ok || time.Now().UnixNano() >= rec.expires {
		return nil, ErrNotFound
	}
	out := make([]byte, len(rec.data))
	copy(out, rec.data)
	return out, nil
}

// Write implements [Backend]. It stores a copy of data; a ttl of zero or
// less deletes the key instead.
func (m *Memory) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := m.shard(key)
	if ttl <= 0 {
		s.mu.Lock()
		delete(s.recs, key)
		s.mu.Unlock()
		return nil
	}
	rec := memoryRecord{data: append([]byte(nil), data...), expires: time.Now().Add(ttl).UnixNano()}
	s.mu.Lock()
	s.recs[key] = rec
	s.mu.Unlock()
	return nil
}

// Delete implements [Backend]. A missing key is not an error.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := m.shard(key)
	s.mu.Lock()
	delete(s.recs, key)
	s.mu.Unlock()
	return nil
}

// Swap implements [Swapper] under the lock of the key's shard.
func (m *Memory) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s := m.shard(key)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.recs[key]
	live := ok && now.UnixNano() < rec.expires
	switch {
	case old == nil && live, old != nil && !live, old != nil && !bytes.Equal(rec.data, old):
		return false, nil
	}
	if data == nil || ttl <= 0 {
		delete(s.recs, key)
		return true, nil
	}
	s.recs[key] = memoryRecord{data: append([]byte(nil), data...), expires: now.Add(ttl).UnixNano()}
	return true, nil
}

// Index implements [Indexer].
func (m *Memory) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.ownersMu.Lock()
	defer m.ownersMu.Unlock()
	keys := m.owners[owner]
	if keys == nil {
		keys = map[string]time.Time{}
		m.owners[owner] = keys
	}
	if exp := time.Now().Add(ttl); exp.After(keys[key]) {
		keys[key] = exp
	}
	return nil
}

// Unindex implements [Indexer].
func (m *Memory) Unindex(ctx context.Context, owner, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.ownersMu.Lock()
	defer m.ownersMu.Unlock()
	delete(m.owners[owner], key)
	if len(m.owners[owner]) == 0 {
		delete(m.owners, owner)
	}
	return nil
}

// Owned implements [Indexer]. It drops entries whose index time has passed.
func (m *Memory) Owned(ctx context.Context, owner string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	m.ownersMu.Lock()
	defer m.ownersMu.Unlock()
	var keys []string
	for k, exp := range m.owners[owner] {
		if now.Before(exp) {
			keys = append(keys, k)
		} else {
			delete(m.owners[owner], k)
		}
	}
	return keys, nil
}

// Len reports how many records the store holds, expired ones that have not
// been swept included. It is meant for tests and metrics.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += len(s.recs)
		s.mu.RUnlock()
	}
	return n
}

// Count implements [Counter]: it returns how many live records the store
// holds, leaving out expired ones that have not been swept yet (which
// [Memory.Len] includes).
func (m *Memory) Count(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := time.Now().UnixNano()
	var n int64
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		for _, rec := range s.recs {
			if now < rec.expires {
				n++
			}
		}
		s.mu.RUnlock()
	}
	return n, nil
}

// Sweep removes every expired record now. The janitor calls it on its
// interval; tests may call it directly.
func (m *Memory) Sweep() {
	now := time.Now()
	m.ownersMu.Lock()
	for owner, keys := range m.owners {
		for k, exp := range keys {
			if !now.Before(exp) {
				delete(keys, k)
			}
		}
		if len(keys) == 0 {
			delete(m.owners, owner)
		}
	}
	m.ownersMu.Unlock()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for k, rec := range s.recs {
			if now.UnixNano() >= rec.expires {
				delete(s.recs, k)
			}
		}
		s.mu.Unlock()
	}
}

func (m *Memory) janitor(interval time.Duration) {
	defer close(m.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.Sweep()
		case <-m.stop:
			return
		}
	}
}

// Close stops the janitor and waits for it to exit. The store keeps working
// after Close (without background sweeps); Close is safe to call more than
// once.
func (m *Memory) Close() error {
	m.once.Do(func() { close(m.stop) })
	<-m.done
	return nil
}
