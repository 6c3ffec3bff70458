package sessiontest

import (
	"context"
	"encoding/base64"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				var failed []string
				for _, r := range rules {
					rec := runRule(t, r, tt.newBackend())
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
	ctx    context.Context
	failed bool
	msgs   []string
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
		k := newKey()
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
