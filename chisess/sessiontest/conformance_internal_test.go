package sessiontest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/testkey"
)

// TestRulesCatchBrokenBackends runs every rule against backends with one
// deliberate bug each and checks that exactly the rules meant to catch that
// bug fail, and that each failure carries its rule's explanation. The
// correct backends in the table check the other way round: no rule fails a
// backend that keeps the contract.
//
// RunConformance cannot be used here: it needs a *testing.T, and a failure
// would fail this test. So the rules run against a recorder, each inside a
// synctest bubble (allowed here, since the recorder never calls t.Run), which
// makes the expiry rules instant and lets the 10s wait for a record that
// never expires pass at once on the fake clock.
//
// The swap-* rules run only against a backend.Swapper, and the index rules
// only against a backend.Indexer: the memory backend and the broken
// Swappers and Indexers below, which embed *backend.Memory. Every other
// backend here embeds the backend.Backend interface, which hides Memory's
// Swap and Index, and must skip those rules, saying why.
func TestRulesCatchBrokenBackends(t *testing.T) {
	tests := []struct {
		name       string
		newBackend func() backend.Backend
		wantFailed []string // names of the rules that must fail, in table order
	}{
		{
			name:       "memory",
			newBackend: func() backend.Backend { return backend.NewMemoryWithCleanup(0) },
		},
		{
			name:       "naive map",
			newBackend: func() backend.Backend { return newNaiveMap() },
		},
		{
			name:       "ignores ttl",
			newBackend: func() backend.Backend { return ignoresTTL{backend.NewMemoryWithCleanup(0)} },
			// ttl-reset-on-overwrite fails too: its canary never expires.
			wantFailed: []string{"ttl-non-positive", "ttl-expiry", "ttl-reset-on-overwrite"},
		},
		{
			name:       "flips last byte",
			newBackend: func() backend.Backend { return flipsLastByte{backend.NewMemoryWithCleanup(0)} },
			// Every rule that reads back data, except empty-value:
			// an empty value has no last byte.
			wantFailed: []string{"write-read", "write-copies-data", "read-returns-copy", "overwrite", "keys-isolated", "key-alphabet", "ttl-live", "ttl-expiry", "ttl-reset-on-overwrite", "large-value", "concurrent"},
		},
		{
			name:       "keeps caller's slices",
			newBackend: func() backend.Backend { b := newNaiveMap(); b.aliases = true; return b },
			wantFailed: []string{"write-copies-data", "read-returns-copy"},
		},
		{
			name:       "keeps first ttl on overwrite",
			newBackend: func() backend.Backend { b := newNaiveMap(); b.keepsExpiry = true; return b },
			// Also ttl-non-positive: a 0s overwrite keeps the live expiry.
			wantFailed: []string{"ttl-non-positive", "ttl-reset-on-overwrite"},
		},
		{
			name:       "folds key case",
			newBackend: func() backend.Backend { return foldsCase{backend.NewMemoryWithCleanup(0)} },
			wantFailed: []string{"keys-isolated"},
		},
		{
			name:       "missing is empty",
			newBackend: func() backend.Backend { return missingIsEmpty{backend.NewMemoryWithCleanup(0)} },
			wantFailed: []string{"unknown-key", "delete", "delete-missing", "keys-isolated", "ttl-non-positive", "ttl-expiry", "ttl-reset-on-overwrite", "concurrent", "context"},
		},
		{
			name:       "ignores context",
			newBackend: func() backend.Backend { return ignoresContext{backend.NewMemoryWithCleanup(0)} },
			wantFailed: []string{"context"},
		},
		{
			name:       "swap ignores old",
			newBackend: func() backend.Backend { return swapIgnoresOld{backend.NewMemoryWithCleanup(0)} },
			// Every rule with a Swap that must not happen, and the
			// counter loses increments.
			wantFailed: []string{"swap-mismatch", "swap-missing-does-not-create", "swap-expired-does-not-revive", "swap-create", "swap-delete", "swap-concurrent"},
		},
		{
			name:       "swap creates on missing",
			newBackend: func() backend.Backend { return swapCreatesOnMissing{backend.NewMemoryWithCleanup(0)} },
			wantFailed: []string{"swap-missing-does-not-create", "swap-expired-does-not-revive"},
		},
		{
			name:       "swap checks then writes",
			newBackend: func() backend.Backend { return swapChecksThenWrites{backend.NewMemoryWithCleanup(0)} },
			// Right on its own; only concurrent Swaps show the race.
			wantFailed: []string{"swap-concurrent"},
		},
		{
			name:       "swap ignores ttl",
			newBackend: func() backend.Backend { return swapIgnoresTTL{backend.NewMemoryWithCleanup(0)} },
			wantFailed: []string{"swap-ttl"},
		},
		{
			name:       "swap ignores context",
			newBackend: func() backend.Backend { return swapIgnoresContext{backend.NewMemoryWithCleanup(0)} },
			wantFailed: []string{"swap-context"},
		},
		{
			name:       "owned matches prefixes",
			newBackend: func() backend.Backend { return newBrokenIndex(func(ix *brokenIndex) { ix.prefixMatch = true }) },
			// Owners in one rule share a random namespace, so only
			// owners that are prefixes of each other ("ad", "ada") meet.
			wantFailed: []string{"owners-with-odd-characters"},
		},
		{
			name:       "owned folds case",
			newBackend: func() backend.Backend { return newBrokenIndex(func(ix *brokenIndex) { ix.foldCase = true }) },
			wantFailed: []string{"owners-with-odd-characters"},
		},
		{
			name:       "index ignores ttl",
			newBackend: func() backend.Backend { return newBrokenIndex(func(ix *brokenIndex) { ix.ignoresTTL = true }) },
			// index-extend fails too: its canary never drops out.
			wantFailed: []string{"index-ttl", "index-extend"},
		},
		{
			name:       "index keeps first ttl",
			newBackend: func() backend.Backend { return newBrokenIndex(func(ix *brokenIndex) { ix.keepsFirstTTL = true }) },
			wantFailed: []string{"index-extend"},
		},
		{
			name:       "index appends",
			newBackend: func() backend.Backend { return newBrokenIndex(func(ix *brokenIndex) { ix.appends = true }) },
			// Not index-extend, which indexes a pair twice too: its
			// first entry has expired when the rule lists the pair.
			wantFailed: []string{"index-idempotent"},
		},
		{
			name:       "unindex ignores owner",
			newBackend: func() backend.Backend { return newBrokenIndex(func(ix *brokenIndex) { ix.unindexAnyOwner = true }) },
			wantFailed: []string{"unindex"},
		},
		{
			name:       "index reads then writes",
			newBackend: func() backend.Backend { return newBrokenIndex(func(ix *brokenIndex) { ix.readThenWrite = true }) },
			// Right on its own; only concurrent Index calls lose entries.
			wantFailed: []string{"index-concurrent"},
		},
		{
			name:       "index ignores context",
			newBackend: func() backend.Backend { return newBrokenIndex(func(ix *brokenIndex) { ix.ignoresContext = true }) },
			wantFailed: []string{"index-context"},
		},
		{
			name:       "count includes expired",
			newBackend: func() backend.Backend { return newBrokenCounter(func(bc *brokenCounter) { bc.countsExpired = true }) },
			wantFailed: []string{"count"},
		},
		{
			name:       "count ignores context",
			newBackend: func() backend.Backend { return newBrokenCounter(func(bc *brokenCounter) { bc.ignoresContext = true }) },
			wantFailed: []string{"count", "sweep"},
		},
		{
			name:       "sweep deletes live records",
			newBackend: func() backend.Backend { return newBrokenCounter(func(bc *brokenCounter) { bc.sweepsAll = true }) },
			wantFailed: []string{"sweep"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				_, swapper := tt.newBackend().(backend.Swapper)
				_, indexer := tt.newBackend().(backend.Indexer)
				_, counter := tt.newBackend().(backend.Counter)
				_, sweeper := tt.newBackend().(backend.Sweeper)
				var failed []string
				for _, r := range rules {
					rec := runRule(t, r, tt.newBackend())
					if slices.ContainsFunc(swapRules, func(sr rule) bool { return sr.name == r.name }) {
						is.Equal(rec.skipped, !swapper) // a swap-* rule is skipped exactly when the backend is not a backend.Swapper
					}
					if slices.ContainsFunc(indexRules, func(ir rule) bool { return ir.name == r.name }) {
						is.Equal(rec.skipped, !indexer) // an index rule is skipped exactly when the backend is not a backend.Indexer
					}
					if r.name == "count" {
						is.Equal(rec.skipped, !counter) // the count rule is skipped exactly when the backend is not a backend.Counter
					}
					if r.name == "sweep" {
						is.Equal(rec.skipped, !sweeper) // the sweep rule is skipped exactly when the backend is not a backend.Sweeper
					}
					if rec.skipped {
						is.True(!rec.failed)                                                                         // a skipped rule reports no failure
						is.True(strings.Contains(rec.skipMsg, "does not implement the optional interface backend.")) // the skip names the missing interface
						continue
					}
					if !rec.failed {
						continue
					}
					failed = append(failed, r.name)
					for _, msg := range rec.msgs {
						is.True(strings.HasSuffix(msg, ": "+r.explain)) // every failure ends with its rule's explanation
					}
					t.Logf("%s: %s", r.name, rec.msgs[0])
				}
				is.Equal(failed, tt.wantFailed) // the rules that failed
			})
		})
	}
}

// runRule runs r against b with a recorder, on a goroutine of its own so
// that the recorder's Fatalf can end the rule the way t.Fatalf does.
func runRule(t *testing.T, r rule, b backend.Backend) *recorder {
	rec := &recorder{ctx: t.Context()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.check(rec, b)
	}()
	<-done
	if c, ok := b.(interface{ Close() error }); ok {
		c.Close()
	}
	return rec
}

// recorder is a testingT that records failures instead of reporting them.
// Only the rule's own goroutine calls it.
type recorder struct {
	ctx     context.Context
	failed  bool
	msgs    []string
	skipped bool
	skipMsg string
}

func (r *recorder) Helper()                  {}
func (r *recorder) Context() context.Context { return r.ctx }

func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = true
	r.skipMsg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestRulesAreWellFormed(t *testing.T) {
	is := is.New(t)
	var names []string
	for _, r := range rules {
		is.True(r.name != "")                       // every rule has a subtest name
		is.True(!strings.ContainsAny(r.name, " /")) // a rule name needs no quoting in go test -run
		is.True(r.explain != "")                    // every rule explains itself
		is.True(!strings.HasSuffix(r.explain, ".")) // explanations end the failure line, as in slogtest
		is.True(!slices.Contains(names, r.name))    // rule names are unique
		names = append(names, r.name)
	}
}

func TestKeysLookLikeChisessKeys(t *testing.T) {
	is := is.New(t)
	valid := func(k string) bool {
		b, err := base64.RawURLEncoding.Strict().DecodeString(k)
		return len(k) == 43 && err == nil && len(b) == 32
	}
	seen := map[string]bool{}
	for range 100 {
		k := testkey.New()
		is.True(valid(k)) // 43 base64url characters that decode to 32 bytes, as chisess.storageKey makes
		is.True(!seen[k]) // keys are random
		seen[k] = true
	}

	keys := alphabetKeys()
	for _, k := range keys {
		is.True(valid(k)) // alphabet keys have the shape of real keys
	}
	for _, ch := range base64URLAlphabet {
		is.True(strings.ContainsRune(keys[0]+keys[1], ch)) // the alphabet keys hold every base64url character
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name      string
		got, want []byte
		diff      string
	}{
		{"equal", []byte("abc"), []byte("abc"), ""},
		{"nil and empty", nil, []byte{}, ""},
		{"one byte", []byte("abd"), []byte("abc"), `got 3 bytes "abd", want 3 bytes "abc" (first difference at byte 2)`},
		{"shorter", []byte("ab"), []byte("abc"), `got 2 bytes "ab", want 3 bytes "abc" (first difference at byte 2)`},
		{"binary", []byte{0x00, 0xff}, []byte{0x00}, `got 2 bytes "\x00\xff", want 1 byte "\x00" (first difference at byte 1)`},
		{"long", []byte(strings.Repeat("a", 40)), []byte(strings.Repeat("a", 39) + "b"), `got 40 bytes "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"..., want 40 bytes "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"... (first difference at byte 39)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			is.Equal(diff(tt.got, tt.want), tt.diff)
		})
	}
}

// ignoresTTL stores every record for an hour, whatever TTL it is given.
type ignoresTTL struct{ backend.Backend }

func (b ignoresTTL) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	return b.Backend.Write(ctx, key, data, time.Hour)
}

// flipsLastByte returns data with its last byte inverted.
type flipsLastByte struct{ backend.Backend }

func (b flipsLastByte) Read(ctx context.Context, key string) ([]byte, error) {
	data, err := b.Backend.Read(ctx, key)
	if len(data) > 0 {
		data[len(data)-1] ^= 0xff
	}
	return data, err
}

// missingIsEmpty reads a missing record as empty data and no error.
type missingIsEmpty struct{ backend.Backend }

func (b missingIsEmpty) Read(ctx context.Context, key string) ([]byte, error) {
	data, err := b.Backend.Read(ctx, key)
	if err == backend.ErrNotFound {
		return nil, nil
	}
	return data, err
}

// ignoresContext reads even when the context is done.
type ignoresContext struct{ backend.Backend }

func (b ignoresContext) Read(_ context.Context, key string) ([]byte, error) {
	return b.Backend.Read(context.Background(), key)
}

// foldsCase treats keys as case-insensitive, as a database column with a
// case-insensitive collation does.
type foldsCase struct{ backend.Backend }

func (b foldsCase) Read(ctx context.Context, key string) ([]byte, error) {
	return b.Backend.Read(ctx, strings.ToLower(key))
}

func (b foldsCase) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	return b.Backend.Write(ctx, strings.ToLower(key), data, ttl)
}

func (b foldsCase) Delete(ctx context.Context, key string) error {
	return b.Backend.Delete(ctx, strings.ToLower(key))
}

// naiveMap is the backend one writes in five minutes: a map under a mutex.
// As it is, it keeps the contract; its two switches add the two bugs such a
// first version most often has.
type naiveMap struct {
	mu   sync.Mutex
	recs map[string]naiveRecord

	aliases     bool // keep the caller's slice and hand it out from Read
	keepsExpiry bool // an overwrite keeps the old record's expiry
}

type naiveRecord struct {
	data    []byte
	expires time.Time
}

var _ backend.Backend = (*naiveMap)(nil)

func newNaiveMap() *naiveMap { return &naiveMap{recs: map[string]naiveRecord{}} }

func (m *naiveMap) Read(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.recs[key]
	if !ok || !time.Now().Before(rec.expires) {
		return nil, fmt.Errorf("naive map: %q: %w", key, backend.ErrNotFound)
	}
	if m.aliases {
		return rec.data, nil
	}
	return slices.Clone(rec.data), nil
}

func (m *naiveMap) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := naiveRecord{data: data, expires: time.Now().Add(ttl)}
	if !m.aliases {
		rec.data = slices.Clone(data)
	}
	if old, ok := m.recs[key]; ok && m.keepsExpiry && time.Now().Before(old.expires) {
		rec.expires = old.expires
	}
	m.recs[key] = rec
	return nil
}

func (m *naiveMap) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, key)
	return nil
}

// swapIgnoresOld swaps without comparing: it writes whatever the stored
// record, as a backend that treats Swap as Write does (the last writer
// wins). It pauses before the write, as a network round trip would, so
// that in the synctest bubble every goroutine of swap-concurrent has read
// the counter before any of them writes it.
type swapIgnoresOld struct{ *backend.Memory }

func (b swapIgnoresOld) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	time.Sleep(time.Nanosecond) // fake clock: returns once every other goroutine is blocked
	return writeOrDelete(ctx, b.Memory, key, data, ttl)
}

// swapCreatesOnMissing compares old with a live record, but treats an
// absent or expired record as a match: it resurrects destroyed sessions.
type swapCreatesOnMissing struct{ *backend.Memory }

func (b swapCreatesOnMissing) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	if _, err := b.Read(ctx, key); old != nil && errors.Is(err, backend.ErrNotFound) {
		return b.Memory.Swap(ctx, key, nil, data, ttl)
	}
	return b.Memory.Swap(ctx, key, old, data, ttl)
}

// swapChecksThenWrites compares and writes in two steps, each atomic on its
// own, as a Redis backend with a GET and then a SET does. It pauses between
// them, as a round trip would (see swapIgnoresOld).
type swapChecksThenWrites struct{ *backend.Memory }

func (b swapChecksThenWrites) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	cur, err := b.Read(ctx, key)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		if old != nil {
			return false, nil
		}
	case err != nil:
		return false, err
	case old == nil || !bytes.Equal(cur, old):
		return false, nil
	}
	time.Sleep(time.Nanosecond) // fake clock: returns once every other goroutine is blocked
	return writeOrDelete(ctx, b.Memory, key, data, ttl)
}

// writeOrDelete ends a broken Swap that has decided to swap: it deletes
// the record for nil data, writes it otherwise, and reports whether that
// worked.
func writeOrDelete(ctx context.Context, b backend.Backend, key string, data []byte, ttl time.Duration) (bool, error) {
	var err error
	if data == nil {
		err = b.Delete(ctx, key)
	} else {
		err = b.Write(ctx, key, data, ttl)
	}
	return err == nil, err
}

// swapIgnoresTTL keeps every swapped record for an hour, whatever TTL it
// is given.
type swapIgnoresTTL struct{ *backend.Memory }

func (b swapIgnoresTTL) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	return b.Memory.Swap(ctx, key, old, data, time.Hour)
}

// swapIgnoresContext swaps even when the context is done.
type swapIgnoresContext struct{ *backend.Memory }

func (b swapIgnoresContext) Swap(_ context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	return b.Memory.Swap(context.Background(), key, old, data, ttl)
}

var (
	_ backend.Swapper = swapIgnoresOld{}
	_ backend.Swapper = swapCreatesOnMissing{}
	_ backend.Swapper = swapChecksThenWrites{}
	_ backend.Swapper = swapIgnoresTTL{}
	_ backend.Swapper = swapIgnoresContext{}
)

// brokenIndex is a backend.Indexer over a map under a mutex, with its
// records in a *backend.Memory. As it is, it keeps the contract; each of
// its switches adds one bug.
type brokenIndex struct {
	*backend.Memory

	mu      sync.Mutex
	entries map[string][]indexEntry // owner → entries

	prefixMatch     bool // Owned(o) also lists the keys of owners that start with o, as LIKE 'o%' or SCAN MATCH o* does
	foldCase        bool // owners are case-insensitive, as in a column with a case-insensitive collation
	ignoresTTL      bool // every entry lasts an hour, whatever its TTL
	keepsFirstTTL   bool // indexing a pair again does not move its end
	appends         bool // indexing a pair again adds a second entry
	unindexAnyOwner bool // Unindex removes the key from every owner
	readThenWrite   bool // Index reads the owner's list and writes it back, with a pause between
	ignoresContext  bool // Index, Unindex and Owned run even when the context is done
}

type indexEntry struct {
	key string
	end time.Time
}

var _ backend.Indexer = (*brokenIndex)(nil)

func newBrokenIndex(bug func(*brokenIndex)) *brokenIndex {
	ix := &brokenIndex{Memory: backend.NewMemoryWithCleanup(0), entries: map[string][]indexEntry{}}
	bug(ix)
	return ix
}

func (ix *brokenIndex) ctxErr(ctx context.Context) error {
	if ix.ignoresContext {
		return nil
	}
	return ctx.Err()
}

func (ix *brokenIndex) fold(owner string) string {
	if ix.foldCase {
		return strings.ToLower(owner)
	}
	return owner
}

func (ix *brokenIndex) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	if err := ix.ctxErr(ctx); err != nil {
		return err
	}
	owner = ix.fold(owner)
	if ix.ignoresTTL {
		ttl = time.Hour
	}
	ix.mu.Lock()
	entries := slices.Clone(ix.entries[owner])
	if ix.readThenWrite {
		ix.mu.Unlock()
		time.Sleep(time.Nanosecond) // fake clock: returns once every other goroutine is blocked
		ix.mu.Lock()
	}
	defer ix.mu.Unlock()
	e := indexEntry{key: key, end: time.Now().Add(ttl)}
	i := slices.IndexFunc(entries, func(e indexEntry) bool { return e.key == key })
	switch {
	case i < 0 || ix.appends:
		entries = append(entries, e)
	case !ix.keepsFirstTTL && e.end.After(entries[i].end):
		entries[i] = e
	}
	ix.entries[owner] = entries
	return nil
}

func (ix *brokenIndex) Unindex(ctx context.Context, owner, key string) error {
	if err := ix.ctxErr(ctx); err != nil {
		return err
	}
	owner = ix.fold(owner)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for o, entries := range ix.entries {
		if o == owner || ix.unindexAnyOwner {
			ix.entries[o] = slices.DeleteFunc(entries, func(e indexEntry) bool { return e.key == key })
		}
	}
	return nil
}

func (ix *brokenIndex) Owned(ctx context.Context, owner string) ([]string, error) {
	if err := ix.ctxErr(ctx); err != nil {
		return nil, err
	}
	owner = ix.fold(owner)
	now := time.Now()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var keys []string
	for o, entries := range ix.entries {
		if o != owner && !(ix.prefixMatch && strings.HasPrefix(o, owner)) {
			continue
		}
		for _, e := range entries {
			if now.Before(e.end) {
				keys = append(keys, e.key)
			}
		}
	}
	return keys, nil
}

// brokenCounter is a backend.Counter and backend.Sweeper over a
// *backend.Memory. As it is, it keeps the contract; each of its switches
// adds one bug.
type brokenCounter struct {
	*backend.Memory

	countsExpired  bool // Count counts records past their TTL that were not swept yet
	ignoresContext bool // Count and Sweep run even when the context is done
	sweepsAll      bool // Sweep deletes live records too
}

var (
	_ backend.Counter = (*brokenCounter)(nil)
	_ backend.Sweeper = (*brokenCounter)(nil)
)

func newBrokenCounter(bug func(*brokenCounter)) *brokenCounter {
	bc := &brokenCounter{Memory: backend.NewMemoryWithCleanup(0)}
	bug(bc)
	return bc
}

func (bc *brokenCounter) Count(ctx context.Context) (int64, error) {
	if bc.ignoresContext {
		ctx = context.WithoutCancel(ctx)
	}
	if bc.countsExpired {
		return int64(bc.Len()), nil
	}
	return bc.Memory.Count(ctx)
}

func (bc *brokenCounter) Sweep(ctx context.Context) (int64, error) {
	if !bc.ignoresContext {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	before := bc.Len()
	if bc.sweepsAll {
		bc.Memory = backend.NewMemoryWithCleanup(0)
	} else {
		bc.Memory.Sweep()
	}
	return int64(before - bc.Len()), nil
}
