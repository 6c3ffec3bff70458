package sessiontest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/testkey"
)

// RunConformance runs the rules every chisess key-value backend must follow
// against the backends made by newBackend. Run it in the tests of any
// [backend.Backend] you write; the backends that ship with chisess run it too.
//
// Each rule is a named subtest (run one with go test -run
// 'TestConformance/ttl-expiry'), and each gets a fresh backend: RunConformance
// calls newBackend with the subtest's t. newBackend should fail the test if it
// cannot build a backend, and register with t.Cleanup whatever frees it. If the
// backend is an [io.Closer], that cleanup is the place to call Close and
// report its error; the suite itself never calls Close. The rules of an
// optional interface, the swap-* rules of [backend.Swapper], the index
// rules of [backend.Indexer], the count rule of [backend.Counter] and the
// sweep rule of [backend.Sweeper], run only when the backend implements it;
// otherwise each of them is skipped with a message that says so. Every
// failure says what the backend did and then, like testing/slogtest, the rule
// it broke and why chisess depends on it:
//
//	func TestConformance(t *testing.T) {
//		sessiontest.RunConformance(t, func(t *testing.T) backend.Backend {
//			b, err := mybackend.Open(t.Context(), os.Getenv("MYBACKEND_TEST_URL"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() {
//				if err := b.Close(); err != nil {
//					t.Error(err)
//				}
//			})
//			return b
//		})
//	}
//
// The suite uses keys of the shape chisess gives a backend: 43 base64url
// characters, random in every subtest, so backends may share one server or
// database; the owners of the index rules are random too. It deletes the
// keys it wrote, and unindexes what it indexed, when each rule ends.
//
// The expiry rules are the only ones that depend on the clock. They write
// records (or index entries) with a real 50ms TTL and then poll Read (or
// Owned) every 5ms, for at most 10s, until the record is gone, so a backend
// whose clock lives on a server (Redis, PostgreSQL) is tested the way it will
// run, and an in-process backend finishes the whole suite in about a third of
// a second. The suite
// cannot run inside testing/synctest.Test, because it calls t.Run, which a
// synctest bubble does not allow.
func RunConformance(t *testing.T, newBackend func(*testing.T) backend.Backend) {
	t.Helper()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			b := newBackend(t)
			if b == nil {
				t.Fatal("sessiontest: newBackend returned a nil backend.Backend")
			}
			r.check(t, b)
		})
	}
}

// testingT is the part of *testing.T that the rules use. It is small so that
// the suite's own tests can run the rules against a recorder and see which
// rules catch a broken backend.
type testingT interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Context() context.Context
}

var _ testingT = testing.TB(nil)

const (
	// shortTTL is the TTL of records the expiry rules wait out.
	shortTTL = 50 * time.Millisecond
	// pollInterval is how often the expiry rules Read while they wait.
	pollInterval = 5 * time.Millisecond
	// expiryTimeout is how long after its write a short-TTL record may
	// still be readable before the suite gives up on it.
	expiryTimeout = 10 * time.Second
	// promptTimeout bounds a call made with a context that is already done.
	promptTimeout = 2 * time.Second
	// cleanupTimeout bounds the Deletes that tidy up after a rule.
	cleanupTimeout = 5 * time.Second
)

// A rule is one thing every backend must do. Its name is the subtest name,
// and its explanation, one sentence on what the rule is and why chisess
// needs it, is printed with every failure.
type rule struct {
	name    string
	explain string
	run     func(c *checker, b backend.Backend)
}

// check runs r against b, reporting failures to t.
func (r rule) check(t testingT, b backend.Backend) {
	t.Helper()
	c := &checker{t: t, explain: r.explain, ctx: t.Context(), b: b}
	defer c.deleteKeys()
	r.run(c, b)
}

// rules are every rule in the order they run: those of [backend.Backend],
// then those of its optional interfaces.
var rules = slices.Concat(backendRules, swapRules, indexRules, countRules)

var backendRules = []rule{
	{
		name:    "unknown-key",
		explain: "Read of a key that was never written must return an error wrapping backend.ErrNotFound, which chisess turns into a fresh session (any other error fails the request), and must not create a record",
		run: func(c *checker, b backend.Backend) {
			k := c.key()
			c.wantNotFound(k, "Read of a key never written")
			c.wantNotFound(k, "second Read of a key never written")
		},
	},
	{
		name:    "write-read",
		explain: "Read must return exactly the bytes last passed to Write, zero bytes, 0xff and invalid UTF-8 included, because chisess stores binary session envelopes and one changed byte loses the session",
		run: func(c *checker, b backend.Backend) {
			every := make([]byte, 256)
			for i := range every {
				every[i] = byte(i)
			}
			values := []struct {
				name string
				data []byte
			}{
				{"text", []byte(`{"user_id":42}`)},
				{"one zero byte", []byte{0}},
				{"zero bytes around text", []byte("\x00a\x00")},
				{"one 0xff byte", []byte{0xff}},
				{"invalid UTF-8", []byte{0xc3, 0x28, 0xff, 0xfe}},
				{"surrounding white space", []byte(" \t value \r\n")},
				{"every byte value", every},
			}
			// Write all of them before reading any, so that one record
			// cannot hide another.
			keys := make([]string, len(values))
			for i, v := range values {
				keys[i] = c.key()
				c.write(keys[i], v.data, time.Hour)
			}
			for i, v := range values {
				c.wantData(keys[i], v.data, "Read after Write of "+v.name)
			}
		},
	},
	{
		name:    "empty-value",
		explain: "an empty value must read back as an empty value with no error, not as ErrNotFound or another error, both when first written and when it replaces a record",
		run: func(c *checker, b backend.Backend) {
			k := c.key()
			c.write(k, []byte{}, time.Hour)
			c.wantData(k, []byte{}, "Read after Write of an empty value")

			k = c.key()
			c.write(k, []byte("not empty"), time.Hour)
			c.write(k, []byte{}, time.Hour)
			c.wantData(k, []byte{}, "Read after overwriting a record with an empty value")
		},
	},
	{
		name:    "write-copies-data",
		explain: "Write must not keep a reference to the caller's slice after it returns, because chisess reuses its buffers and a kept reference would change what is stored",
		run: func(c *checker, b backend.Backend) {
			k := c.key()
			data := []byte("original session")
			c.write(k, data, time.Hour)
			for i := range data {
				data[i] = 'X'
			}
			c.wantData(k, []byte("original session"), "Read after the caller overwrote the slice it passed to Write")
		},
	},
	{
		name:    "read-returns-copy",
		explain: "the caller owns the slice Read returns and may modify it, so Read must return a copy of what the backend holds, or one request's change would corrupt the session that every later request reads",
		run: func(c *checker, b backend.Backend) {
			k := c.key()
			c.write(k, []byte("original session"), time.Hour)
			got, err := b.Read(c.ctx, k)
			if err != nil {
				c.fatalf("Read after Write returned error %v, want nil", err)
			}
			// Scribble over the whole backing array, capacity included.
			full := got[:cap(got)]
			for i := range full {
				full[i] = 'X'
			}
			c.wantData(k, []byte("original session"), "Read after the caller overwrote the slice an earlier Read returned")
		},
	},
	{
		name:    "overwrite",
		explain: "a Write to an existing key must replace the whole record, shorter data included, because every commit of a changed session rewrites it",
		run: func(c *checker, b backend.Backend) {
			k := c.key()
			c.write(k, []byte("a long first version of the session"), time.Hour)
			c.write(k, []byte("short"), time.Hour)
			c.wantData(k, []byte("short"), "Read after overwriting with shorter data")
			c.write(k, []byte("a longer third version of the session"), time.Hour)
			c.wantData(k, []byte("a longer third version of the session"), "Read after overwriting with longer data")
		},
	},
	{
		name:    "delete",
		explain: "after Delete, Read must report ErrNotFound, because logout and session ID renewal rely on Delete to end a session for good",
		run: func(c *checker, b backend.Backend) {
			k := c.key()
			c.write(k, []byte("session"), time.Hour)
			c.delete(k, "Delete of a stored key")
			c.wantNotFound(k, "Read after Delete")
		},
	},
	{
		name:    "delete-missing",
		explain: "Delete of a key that does not exist or was already deleted must return nil, because chisess deletes sessions that may have expired or never been stored, and that is not a failure",
		run: func(c *checker, b backend.Backend) {
			c.delete(c.key(), "Delete of a key never written")

			k := c.key()
			c.write(k, []byte("session"), time.Hour)
			c.delete(k, "first Delete")
			c.delete(k, "second Delete of the same key")
			c.wantNotFound(k, "Read after deleting twice")
		},
	},
	{
		name:    "keys-isolated",
		explain: "records under different keys must never see each other, even under keys that differ only in their first or last character or in letter case, because each key is a different user's session",
		run: func(c *checker, b backend.Backend) {
			// Keys are all 43 characters, as chisess makes them, so
			// they can share 42 characters but cannot be prefixes of
			// each other; a backend that truncates, trims or folds
			// case still maps two of them to one record.
			base := c.key()
			pairs := []struct {
				name string
				a, b string
			}{
				{"two random keys", c.key(), c.key()},
				{"keys that differ only in the first character, by case", "a" + base[1:], "A" + base[1:]},
				{"keys that differ only in the middle, '-' against '_'", base[:21] + "-" + base[22:], base[:21] + "_" + base[22:]},
				{"keys that differ only in the last character", base[:42] + "A", base[:42] + "E"},
			}
			for _, p := range pairs {
				c.track(p.a, p.b)
				c.write(p.a, []byte("first user"), time.Hour)
				c.write(p.b, []byte("second user"), time.Hour)
				c.wantData(p.a, []byte("first user"), fmt.Sprintf("Read(%q) with %s (other key %q)", p.a, p.name, p.b))
				c.wantData(p.b, []byte("second user"), fmt.Sprintf("Read(%q) with %s (other key %q)", p.b, p.name, p.a))
				c.delete(p.a, "Delete of one of two keys")
				c.wantNotFound(p.a, fmt.Sprintf("Read(%q) after its Delete, with %s (other key %q)", p.a, p.name, p.b))
				c.wantData(p.b, []byte("second user"), fmt.Sprintf("Read(%q) after Delete(%q), with %s", p.b, p.a, p.name))
			}
		},
	},
	{
		name:    "key-alphabet",
		explain: "keys are 43-character base64url strings whose characters can be any of A-Z, a-z, 0-9, '-' and '_', and a key of any of them must be stored and found as it is",
		run: func(c *checker, b backend.Backend) {
			keys := alphabetKeys()
			for _, k := range keys {
				c.track(k)
				c.write(k, []byte("stored under "+k), time.Hour)
			}
			for _, k := range keys {
				c.wantData(k, []byte("stored under "+k), fmt.Sprintf("Read(%q)", k))
			}
		},
	},
	{
		name:    "ttl-live",
		explain: "a record written with a TTL from one hour to more than a year must be readable at once, because chisess passes a session's whole remaining lifetime as the TTL",
		run: func(c *checker, b backend.Backend) {
			for _, ttl := range []time.Duration{time.Hour, 400 * 24 * time.Hour} {
				k := c.key()
				c.write(k, []byte("live session"), ttl)
				c.wantData(k, []byte("live session"), fmt.Sprintf("Read after Write with a %v TTL", ttl))
			}
		},
	},
	{
		name:    "ttl-non-positive",
		explain: "a Write with a TTL of zero or less stores a record that is already expired, so a later Read must report ErrNotFound, also when the key held a live record before",
		run: func(c *checker, b backend.Backend) {
			for _, ttl := range []time.Duration{0, -time.Nanosecond, -time.Hour} {
				k := c.key()
				c.write(k, []byte("expired session"), ttl)
				c.wantNotFound(k, fmt.Sprintf("Read after Write with a %v TTL", ttl))

				k = c.key()
				c.write(k, []byte("live session"), time.Hour)
				c.write(k, []byte("expired session"), ttl)
				c.wantNotFound(k, fmt.Sprintf("Read after overwriting a live record with a %v TTL", ttl))
			}
		},
	},
	{
		name:    "ttl-expiry",
		explain: "a record must read as ErrNotFound once its TTL has passed, even before the backend sweeps it, because an expired session must never come back, and its key must then delete and write like any other",
		run: func(c *checker, b backend.Backend) {
			k := c.key()
			c.write(k, []byte("short-lived session"), shortTTL)
			c.waitExpired(k, fmt.Sprintf("a record written with a %v TTL", shortTTL))
			c.delete(k, "Delete of an expired key")
			c.write(k, []byte("new session"), time.Hour)
			c.wantData(k, []byte("new session"), "Read after writing again to an expired key")
		},
	},
	{
		name:    "ttl-reset-on-overwrite",
		explain: "a Write must set the record's TTL afresh rather than keep the old record's expiry, because chisess extends a live session by writing it again",
		run: func(c *checker, b backend.Backend) {
			k, canary := c.key(), c.key()
			c.write(k, []byte("short-lived session"), shortTTL)
			c.write(canary, []byte("canary"), shortTTL)
			c.write(k, []byte("extended session"), time.Hour)
			// The canary was written after the first write of k, so
			// once it has gone, k's first TTL has passed as well.
			c.waitExpired(canary, fmt.Sprintf("a canary record written with a %v TTL", shortTTL))
			c.wantData(k, []byte("extended session"), fmt.Sprintf("Read of a record first written with a %v TTL and then overwritten with a 1h TTL, after the first TTL passed", shortTTL))
		},
	},
	{
		name:    "large-value",
		explain: "a 64 KiB value must round-trip byte for byte, because a session that holds a lot of data is still one record",
		run: func(c *checker, b backend.Backend) {
			data := make([]byte, 64<<10)
			rand.Read(data) // never returns an error (crypto/rand, Go 1.24+)
			k := c.key()
			c.write(k, data, time.Hour)
			c.wantData(k, data, "Read after Write of 64 KiB of random bytes")
		},
	},
	{
		name:    "concurrent",
		explain: "a backend must be safe for concurrent use, with each goroutine reading its own last write and no goroutine ever reading a torn value, because every request runs in its own goroutine",
		run: func(c *checker, b backend.Backend) {
			const goroutines, rounds = 8, 50
			shared := c.key()
			own := make([]string, goroutines)
			for g := range own {
				own[g] = c.key()
			}
			c.concurrently(goroutines, func(g int) string {
				return concurrentWorker(c.ctx, b, g, goroutines, own[g], shared, rounds)
			})
		},
	},
	{
		name:    "context",
		explain: "Read, Write and Delete must return promptly with an error wrapping ctx.Err() when their context is already done, and such a Write must not store anything, so that a request its client abandoned frees its goroutine and leaves no trace",
		run: func(c *checker, b backend.Backend) {
			for _, done := range c.doneContexts() {
				stored, fresh := c.key(), c.key()
				c.write(stored, []byte("stored session"), time.Hour)
				calls := []struct {
					name string
					call func() error
				}{
					{"Read of a stored key", func() error { _, err := b.Read(done.ctx, stored); return err }},
					{"Write to a new key", func() error { return b.Write(done.ctx, fresh, []byte("new session"), time.Hour) }},
					{"Delete of a stored key", func() error { return b.Delete(done.ctx, stored) }},
				}
				for _, call := range calls {
					c.promptly(call.name, done, call.call)
				}
				c.wantNotFound(fresh, fmt.Sprintf("Read, with a live context, of a key only written with a %s context", done.name))
			}
		},
	},
}

// concurrentWorker is one goroutine of the concurrent rule. It writes,
// reads and deletes its own key, and writes and reads the shared key that
// every worker writes a value of its own to. It returns the first problem it
// sees, or "".
func concurrentWorker(ctx context.Context, b backend.Backend, g, goroutines int, own, shared string, rounds int) string {
	// Every worker's shared value is 64 copies of its own letter, so a
	// read that mixes two writes shows up as mixed letters.
	mine := bytes.Repeat([]byte{byte('a' + g)}, 64)
	for i := range rounds {
		want := fmt.Appendf(nil, "goroutine %d, write %d", g, i)
		if err := b.Write(ctx, own, want, time.Hour); err != nil {
			return fmt.Sprintf("Write %d of its own key returned error %v, want nil", i, err)
		}
		got, err := b.Read(ctx, own)
		if err != nil {
			return fmt.Sprintf("Read of its own key after Write %d returned error %v, want nil", i, err)
		}
		if d := diff(got, want); d != "" {
			return fmt.Sprintf("Read of its own key after Write %d: %s", i, d)
		}

		if err := b.Write(ctx, shared, mine, time.Hour); err != nil {
			return fmt.Sprintf("Write %d of the shared key returned error %v, want nil", i, err)
		}
		got, err = b.Read(ctx, shared)
		if err != nil {
			return fmt.Sprintf("Read %d of the shared key returned error %v, want nil", i, err)
		}
		if len(got) != 64 || got[0] < 'a' || int(got[0]-'a') >= goroutines || !bytes.Equal(got, bytes.Repeat(got[:1], 64)) {
			return fmt.Sprintf("Read %d of the shared key returned %s, want one worker's whole value (64 copies of one letter)", i, show(got))
		}

		if i%5 == 4 {
			if err := b.Delete(ctx, own); err != nil {
				return fmt.Sprintf("Delete of its own key after Write %d returned error %v, want nil", i, err)
			}
			if got, err := b.Read(ctx, own); !errors.Is(err, backend.ErrNotFound) {
				return fmt.Sprintf("Read of its own key after Delete returned %s and error %v, want an error wrapping backend.ErrNotFound", show(got), err)
			}
		}
	}
	return ""
}

// within runs f in a goroutine and waits at most d for it. It reports
// whether f returned in time, and if so its error.
func within(d time.Duration, f func() error) (returned bool, err error) {
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return true, err
	case <-timer.C:
		return false, nil
	}
}

// doneContext is a context that is already done, and the error a call
// given it must wrap.
type doneContext struct {
	name     string
	ctx      context.Context
	want     error
	wantName string
}

// doneContexts returns a cancelled context and one past its deadline, both
// derived from the rule's.
func (c *checker) doneContexts() []doneContext {
	cancelled, cancel := context.WithCancel(c.ctx)
	cancel()
	expired, cancel := context.WithDeadline(c.ctx, time.Now().Add(-time.Second))
	cancel() // already past its deadline; cancelling keeps its error
	return []doneContext{
		{"cancelled", cancelled, context.Canceled, "context.Canceled"},
		{"past-deadline", expired, context.DeadlineExceeded, "context.DeadlineExceeded"},
	}
}

// promptly runs call, which uses done.ctx, and reports it if it does not
// return within promptTimeout or returns an error that does not wrap
// done.want. It reports whether call returned, and with such an error.
func (c *checker) promptly(what string, done doneContext, call func() error) (returned, wrapped bool) {
	returned, err := within(promptTimeout, call)
	switch {
	case !returned:
		c.errorf("%s with a %s context had not returned after %v", what, done.name, promptTimeout)
		return false, false
	case !errors.Is(err, done.want):
		c.errorf("%s with a %s context returned error %v, want an error wrapping %s", what, done.name, err, done.wantName)
		return true, false
	}
	return true, true
}

// concurrently runs work for goroutines goroutines at once and reports
// every problem they return (a non-empty string). Workers must not call t,
// so they report back this way. It reports whether there was none.
func (c *checker) concurrently(goroutines int, work func(g int) string) bool {
	problems := make(chan string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			if p := work(g); p != "" {
				problems <- fmt.Sprintf("goroutine %d of %d: %s", g, goroutines, p)
			}
		})
	}
	wg.Wait()
	close(problems)
	ok := true
	for p := range problems {
		ok = false
		c.errorf("%s", p)
	}
	return ok
}

// A checker is a rule's view of its test. The failures it reports carry
// the rule's explanation, and it remembers every key the rule uses so that
// they can be deleted when the rule ends.
type checker struct {
	t       testingT
	explain string
	ctx     context.Context
	b       backend.Backend
	keys    []string
}

func (c *checker) errorf(format string, args ...any) {
	c.t.Helper()
	c.t.Errorf("%s: %s", fmt.Sprintf(format, args...), c.explain)
}

func (c *checker) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("%s: %s", fmt.Sprintf(format, args...), c.explain)
}

// key returns a fresh random key, shaped like the keys chisess makes.
func (c *checker) key() string {
	k := testkey.New()
	c.track(k)
	return k
}

// track adds keys made without c.key to those deleted when the rule ends.
func (c *checker) track(keys ...string) {
	c.keys = append(c.keys, keys...)
}

// deleteKeys deletes every key the rule used, ignoring errors: what the
// backend does here is no part of any rule.
func (c *checker) deleteKeys() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), cleanupTimeout)
	defer cancel()
	for _, k := range c.keys {
		_ = c.b.Delete(ctx, k)
	}
}

// write calls Write with a live context and stops the rule if it fails.
func (c *checker) write(key string, data []byte, ttl time.Duration) {
	c.t.Helper()
	if err := c.b.Write(c.ctx, key, data, ttl); err != nil {
		c.fatalf("Write of %s with a %v TTL returned error %v, want nil", show(data), ttl, err)
	}
}

// delete calls Delete with a live context and reports an error.
func (c *checker) delete(key, step string) {
	c.t.Helper()
	if err := c.b.Delete(c.ctx, key); err != nil {
		c.errorf("%s returned error %v, want nil", step, err)
	}
}

// wantData reports unless Read of key returns want and no error.
func (c *checker) wantData(key string, want []byte, step string) {
	c.t.Helper()
	got, err := c.b.Read(c.ctx, key)
	if err != nil {
		c.errorf("%s returned error %v, want %s", step, err, show(want))
		return
	}
	if d := diff(got, want); d != "" {
		c.errorf("%s: %s", step, d)
	}
}

// wantNotFound reports unless Read of key returns an error wrapping
// backend.ErrNotFound.
func (c *checker) wantNotFound(key, step string) {
	c.t.Helper()
	got, err := c.b.Read(c.ctx, key)
	switch {
	case err == nil:
		c.errorf("%s returned %s and no error, want an error wrapping backend.ErrNotFound", step, show(got))
	case !errors.Is(err, backend.ErrNotFound):
		c.errorf("%s returned error %v, want an error wrapping backend.ErrNotFound", step, err)
	}
}

// waitExpired polls Read of key until it reports ErrNotFound, and stops the
// rule if that takes longer than expiryTimeout or Read fails otherwise.
func (c *checker) waitExpired(key, what string) {
	c.t.Helper()
	deadline := time.Now().Add(expiryTimeout)
	for {
		got, err := c.b.Read(c.ctx, key)
		switch {
		case errors.Is(err, backend.ErrNotFound):
			return
		case err != nil:
			c.fatalf("Read of %s, while waiting for it to expire, returned error %v, want the data or an error wrapping backend.ErrNotFound", what, err)
		case !time.Now().Before(deadline):
			c.fatalf("Read of %s still returned %s, with no error, %v after the write, want an error wrapping backend.ErrNotFound", what, show(got), expiryTimeout)
		}
		time.Sleep(pollInterval)
	}
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// alphabetKeys returns two random keys that hold every base64url character
// between them. Only the first 42 characters can take any of the 64: the
// 43rd holds the last 4 bits of 32 bytes, so it is kept from [testkey.New].
func alphabetKeys() [2]string {
	perm := []byte(base64URLAlphabet)
	mathrand.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	first, second := testkey.New(), testkey.New()
	return [2]string{
		string(perm[:42]) + first[42:],
		string(perm[42:]) + second[len(perm)-42:], // 22 + 21 characters
	}
}

// show describes data for a failure message: its length and, quoted, at
// most its first 32 bytes.
func show(data []byte) string {
	const most = 32
	unit := "bytes"
	if len(data) == 1 {
		unit = "byte"
	}
	if len(data) <= most {
		return fmt.Sprintf("%d %s %q", len(data), unit, data)
	}
	return fmt.Sprintf("%d %s %q...", len(data), unit, data[:most])
}

// diff describes how got differs from want, or returns "" if it does not.
// Empty and nil count as equal.
func diff(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("got %s, want %s (first difference at byte %d)", show(got), show(want), i)
}
