package sessiontest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
)

// Backend is an in-memory [backend.Backend] for tests that records every
// call made to it, as [net/http/httptest.ResponseRecorder] records a
// response. A test can also make it fail ([Backend.FailNext]), stop a call
// half-way until the test lets it go on ([Backend.Hold]), and read back
// what it stores ([Backend.Sessions]).
//
// Use it as the Config.Backend of the manager under test:
//
//	b := sessiontest.NewBackend()
//	m, err := chisess.New(chisess.Config{Backend: b})
//
// It stores records as [backend.Memory] does, with per-record expiry on the
// clock of time.Now (so it works inside testing/synctest), and has the same
// optional powers, [backend.Swapper] and [backend.Indexer], so chisess takes
// the paths it takes in production: every load is a "read", a new session
// is a "write", a change to a loaded session is a "swap" (a swap to nothing
// deletes a session emptied by Clear), a renewal is a "write" of the new
// token's record and a "swap" of the old one for its forward record, a
// logout is a "swap" to nothing (a "read" first when a renewal moved the
// session), and the owner index of Session.SetOwner is kept with "index",
// "unindex" and "owned". It passes [RunConformance].
//
// The calls that the kit itself makes, to store the session of
// [NewRequest] and to read sessions for [SessionOf], the Assert functions
// and [Backend.Sessions], are not recorded, and neither failures nor gates
// apply to them.
//
// A Backend is safe for concurrent use. Its zero value is an empty backend
// ready to use; NewBackend is the conventional way to make one.
type Backend struct {
	mu       sync.Mutex
	recs     map[string]record
	owners   map[string]map[string]time.Time // owner → key → end of the index entry
	calls    []Call
	failures map[string][]error
	gates    map[string][]*Gate
}

var (
	_ backend.Backend = (*Backend)(nil)
	_ backend.Swapper = (*Backend)(nil)
	_ backend.Indexer = (*Backend)(nil)
)

type record struct {
	data    []byte
	expires time.Time
}

// NewBackend returns an empty [Backend].
func NewBackend() *Backend { return &Backend{} }

// Call is one call made to a [Backend], recorded when it returns.
type Call struct {
	// Op is the method called: "read", "write", "delete", "swap" (of
	// backend.Swapper), or "index", "unindex" or "owned" (of
	// backend.Indexer).
	Op string
	// Key is the storage key: chisess's hash of the session token, never
	// the token itself. It is what Session.Handle returns for the session
	// of [SessionOf], and the keys of [Backend.Sessions] are the same keys.
	// It is empty for "owned".
	Key string
	// Owner is the owner of an "index", "unindex" or "owned" call.
	Owner string
	// Data is a copy of the bytes written (for "write" and "swap"; nil for
	// a swap that deletes) or read (for a "read" that found a record).
	Data []byte
	// TTL is the time to live of a "write", "swap" or "index", zero for
	// the others.
	TTL time.Duration
	// Swapped reports, for a "swap", whether it took effect; a swap that
	// found a different record returns no error and changes nothing.
	Swapped bool
	// Err is what the call returned. A read of a missing key returns an
	// error wrapping backend.ErrNotFound.
	Err error
}

// The operations a Call can record.
const (
	opRead    = "read"
	opWrite   = "write"
	opDelete  = "delete"
	opSwap    = "swap"
	opIndex   = "index"
	opUnindex = "unindex"
	opOwned   = "owned"
)

func checkOp(method, op string) {
	switch op {
	case opRead, opWrite, opDelete, opSwap, opIndex, opUnindex, opOwned:
	default:
		panic(fmt.Sprintf("sessiontest: Backend.%s: unknown op %q: use \"read\", \"write\", \"delete\", \"swap\", \"index\", \"unindex\" or \"owned\"", method, op))
	}
}

// Calls returns a copy of the calls made so far, in the order they
// returned.
func (b *Backend) Calls() []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Call, len(b.calls))
	for i, c := range b.calls {
		c.Data = bytes.Clone(c.Data)
		out[i] = c
	}
	return out
}

// Reset forgets the calls recorded so far, typically after a test has
// set up its sessions and before the requests it checks. Stored records,
// pending failures and gates stay as they are.
func (b *Backend) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = nil
}

// Len returns the number of live (unexpired) records the backend holds.
func (b *Backend) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	n := 0
	for _, r := range b.recs {
		if now.Before(r.expires) {
			n++
		}
	}
	return n
}

// FailNext makes the next n calls of op return err without touching the
// stored records, as a store that is down would. op is one of the ops a
// [Call] records; a session that was loaded and then changed is saved with
// "swap", a new one with "write", so to fail every save of a request fail
// both. Failures queue up: a second FailNext for the same op applies
// after the first one's n calls.
//
// FailNext panics on an unknown op, on n < 1 and on a nil err.
func (b *Backend) FailNext(op string, n int, err error) {
	checkOp("FailNext", op)
	if n < 1 {
		panic(fmt.Sprintf("sessiontest: Backend.FailNext: n is %d; fail at least one call", n))
	}
	if err == nil {
		panic("sessiontest: Backend.FailNext: err is nil; give the error the calls should return")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures == nil {
		b.failures = map[string][]error{}
	}
	for range n {
		b.failures[op] = append(b.failures[op], err)
	}
}

// Hold makes the next call of op stop at a [Gate] until the test releases
// it: the call arrives, closes the gate's Reached channel and waits for
// [Gate.Release] before it does its work (or fails, if [Backend.FailNext]
// applies to it). It is a barrier for tests of concurrent requests: hold
// one request inside the backend, run another, then let the first go on,
// with no sleeps and no timing luck.
//
//	g := b.Hold("swap")
//	defer g.Release()
//	go func() {
//		defer close(done)
//		app.ServeHTTP(httptest.NewRecorder(), slow)
//	}()
//	<-g.Reached() // the slow request is about to save
//	app.ServeHTTP(httptest.NewRecorder(), logout)
//	g.Release()
//	<-done
//
// A held call whose context ends first returns the context's error, so a
// gate left closed holds a request no longer than Config.Timeout. Each call
// of Hold makes one gate for one call; the gates of an op are taken in
// order. Hold panics on an unknown op.
func (b *Backend) Hold(op string) *Gate {
	checkOp("Hold", op)
	g := &Gate{reached: make(chan struct{}), release: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gates == nil {
		b.gates = map[string][]*Gate{}
	}
	b.gates[op] = append(b.gates[op], g)
	return g
}

// Gate holds one backend call; see [Backend.Hold].
type Gate struct {
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

// Reached returns a channel that is closed when a call arrives at the gate.
func (g *Gate) Reached() <-chan struct{} { return g.reached }

// Release lets the held call go on, or lets the call go straight through if
// it has not arrived yet. Calling it again does nothing, so
// defer g.Release() is safe alongside an explicit call.
func (g *Gate) Release() { g.once.Do(func() { close(g.release) }) }

// arrive takes the gate and the failure that apply to the next call of op,
// waits at the gate, and returns the error the call must return instead of
// doing its work, if any.
func (b *Backend) arrive(ctx context.Context, op string) error {
	b.mu.Lock()
	var g *Gate
	if gs := b.gates[op]; len(gs) > 0 {
		g, b.gates[op] = gs[0], gs[1:]
	}
	var fail error
	if fs := b.failures[op]; len(fs) > 0 {
		fail, b.failures[op] = fs[0], fs[1:]
	}
	b.mu.Unlock()
	if g != nil {
		close(g.reached)
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	return ctx.Err()
}

func (b *Backend) record(c Call) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, c)
}

// Read implements [backend.Backend].
func (b *Backend) Read(ctx context.Context, key string) ([]byte, error) {
	k, kit := ctx.Value(kitKey{}).(*kitCall)
	if kit && k.record != nil {
		return bytes.Clone(k.record), nil
	}
	if !kit {
		if err := b.arrive(ctx, opRead); err != nil {
			b.record(Call{Op: opRead, Key: key, Err: err})
			return nil, err
		}
	}
	b.mu.Lock()
	r, ok := b.recs[key]
	b.mu.Unlock()
	var (
		data []byte
		err  error
	)
	if ok && time.Now().Before(r.expires) {
		data = bytes.Clone(r.data)
	} else {
		err = backend.ErrNotFound
	}
	if !kit {
		b.record(Call{Op: opRead, Key: key, Data: bytes.Clone(data), Err: err})
	}
	return data, err
}

// Write implements [backend.Backend]. A ttl of zero or less deletes the
// record.
func (b *Backend) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	_, kit := ctx.Value(kitKey{}).(*kitCall)
	if !kit {
		if err := b.arrive(ctx, opWrite); err != nil {
			b.record(Call{Op: opWrite, Key: key, Data: bytes.Clone(data), TTL: ttl, Err: err})
			return err
		}
	}
	b.mu.Lock()
	b.put(key, data, ttl)
	if !kit {
		b.calls = append(b.calls, Call{Op: opWrite, Key: key, Data: bytes.Clone(data), TTL: ttl})
	}
	b.mu.Unlock()
	return nil
}

// Delete implements [backend.Backend]. A missing key is not an error.
func (b *Backend) Delete(ctx context.Context, key string) error {
	_, kit := ctx.Value(kitKey{}).(*kitCall)
	if !kit {
		if err := b.arrive(ctx, opDelete); err != nil {
			b.record(Call{Op: opDelete, Key: key, Err: err})
			return err
		}
	}
	b.mu.Lock()
	delete(b.recs, key)
	if !kit {
		b.calls = append(b.calls, Call{Op: opDelete, Key: key})
	}
	b.mu.Unlock()
	return nil
}

// Swap implements [backend.Swapper]: it replaces the record under key with
// data only if the live record is equal to old (or, with a nil old, only
// if there is none). A nil data deletes the record.
func (b *Backend) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	_, kit := ctx.Value(kitKey{}).(*kitCall)
	if !kit {
		if err := b.arrive(ctx, opSwap); err != nil {
			b.record(Call{Op: opSwap, Key: key, Data: bytes.Clone(data), TTL: ttl, Err: err})
			return false, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.recs[key]
	live := ok && time.Now().Before(r.expires)
	swapped := !(old == nil && live || old != nil && (!live || !bytes.Equal(r.data, old)))
	if !kit {
		b.calls = append(b.calls, Call{Op: opSwap, Key: key, Data: bytes.Clone(data), TTL: ttl, Swapped: swapped})
	}
	switch {
	case !swapped:
	case data == nil:
		delete(b.recs, key)
	default:
		b.put(key, data, ttl)
	}
	return swapped, nil
}

// Index implements [backend.Indexer].
func (b *Backend) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	if err := b.arrive(ctx, opIndex); err != nil {
		b.record(Call{Op: opIndex, Key: key, Owner: owner, TTL: ttl, Err: err})
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, Call{Op: opIndex, Key: key, Owner: owner, TTL: ttl})
	if b.owners == nil {
		b.owners = map[string]map[string]time.Time{}
	}
	keys := b.owners[owner]
	if keys == nil {
		keys = map[string]time.Time{}
		b.owners[owner] = keys
	}
	if end := time.Now().Add(ttl); end.After(keys[key]) {
		keys[key] = end
	}
	return nil
}

// Unindex implements [backend.Indexer]. A missing entry is not an error.
func (b *Backend) Unindex(ctx context.Context, owner, key string) error {
	if err := b.arrive(ctx, opUnindex); err != nil {
		b.record(Call{Op: opUnindex, Key: key, Owner: owner, Err: err})
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, Call{Op: opUnindex, Key: key, Owner: owner})
	delete(b.owners[owner], key)
	if len(b.owners[owner]) == 0 {
		delete(b.owners, owner)
	}
	return nil
}

// Owned implements [backend.Indexer]: it returns the keys indexed under
// owner whose index entry has not run out.
func (b *Backend) Owned(ctx context.Context, owner string) ([]string, error) {
	if err := b.arrive(ctx, opOwned); err != nil {
		b.record(Call{Op: opOwned, Owner: owner, Err: err})
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, Call{Op: opOwned, Owner: owner})
	now := time.Now()
	var keys []string
	for k, end := range b.owners[owner] {
		if now.Before(end) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// put stores a copy of data under key. Callers hold b.mu.
func (b *Backend) put(key string, data []byte, ttl time.Duration) {
	if ttl <= 0 {
		delete(b.recs, key)
		return
	}
	if b.recs == nil {
		b.recs = map[string]record{}
	}
	b.recs[key] = record{data: append([]byte{}, data...), expires: time.Now().Add(ttl)}
}

// Sessions returns every live session the backend stores, decoded by m, by
// storage key (the Key of a [Call]). Read them with chisess.Get and the
// other readers of a [chisess.Session]; they are read-only. The backend
// holds only a hash of each token, so their ID and Handle methods return
// placeholders: to find the session of a particular cookie, use
// [SessionOf], or look up the Handle of its session in the map.
//
//	sessions := b.Sessions(m)
//	for key, s := range sessions {
//		user, err := chisess.Get[string](s, "user")
//		…
//	}
//
// Sessions panics if m does not use b as its backend.
func (b *Backend) Sessions(m *chisess.Manager) map[string]*chisess.Session {
	if m == nil || m.Backend() != backend.Backend(b) {
		panic("sessiontest: Backend.Sessions needs the *chisess.Manager made with this Backend as Config.Backend")
	}
	b.mu.Lock()
	recs := maps.Clone(b.recs)
	b.mu.Unlock()
	now := time.Now()
	out := make(map[string]*chisess.Session, len(recs))
	for key, r := range recs {
		if !now.Before(r.expires) {
			continue
		}
		// Inspect looks the placeholder token up in the backend, and b
		// answers that one read with this record.
		ctx := context.WithValue(context.Background(), kitKey{}, &kitCall{record: r.data})
		s, err := m.Inspect(ctx, placeholderToken)
		if err != nil {
			continue // not a chisess session, or expired under m's config
		}
		out[key] = s
	}
	return out
}

// placeholderToken has the form of a chisess token (43 base64url characters
// that decode to 32 bytes) and stands in for the token a stored record was
// made for, which the backend never sees.
const placeholderToken = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// kitKey is the context key that marks a call made by the kit itself
// rather than by the code under test. Its value is a *kitCall.
type kitKey struct{}

type kitCall struct {
	// record, when non-nil, is what a Read returns whatever the key.
	record []byte
}

// kitContext returns the context the kit's own calls to a manager use.
func kitContext() context.Context {
	return context.WithValue(context.Background(), kitKey{}, &kitCall{})
}
