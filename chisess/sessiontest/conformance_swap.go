package sessiontest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// swapRules are the rules of the optional [backend.Swapper]. They run only
// against a backend that implements it; any other backend skips each of
// them with a message that says so, since chisess then falls back to
// reading just before writing.
var swapRules = []rule{
	swapRule(
		"swap-match",
		"Swap whose old is byte for byte the live record must replace it, return true and a nil error, and store exactly the new bytes (an empty value included) with the TTL it was given, because every commit of a changed session on a backend.Swapper goes through Swap",
		func(c *checker, b backend.Backend, s backend.Swapper) {
			k := c.key()
			c.write(k, []byte("first version"), time.Hour)
			c.swap(s, k, []byte("first version"), []byte("second version"), time.Hour, true, "Swap from the stored record")
			c.wantData(k, []byte("second version"), "Read after a Swap from the stored record")
			c.swap(s, k, []byte("second version"), []byte("third version"), time.Hour, true, "second Swap, from what the first one stored")
			c.wantData(k, []byte("third version"), "Read after two Swaps")

			// Binary records: a backend that compares as text, or stops at
			// a zero byte, sees a match where there is none or misses one.
			binOld, binNew := []byte{0, 0xff, 'a', 0, 0xc3, 0x28}, []byte{0xfe, 0, 0, 'b'}
			k = c.key()
			c.write(k, binOld, time.Hour)
			c.swap(s, k, binOld, binNew, time.Hour, true, "Swap from a stored binary record")
			c.wantData(k, binNew, "Read after a Swap between binary records")

			// An empty old (not nil) means "the stored record is empty",
			// and empty data (not nil) is stored, not deleted.
			k = c.key()
			c.write(k, []byte{}, time.Hour)
			c.swap(s, k, []byte{}, []byte("no longer empty"), time.Hour, true, "Swap from a stored empty record with an empty, non-nil old")
			c.wantData(k, []byte("no longer empty"), "Read after a Swap from an empty record")
			c.swap(s, k, []byte("no longer empty"), []byte{}, time.Hour, true, "Swap to empty, non-nil data")
			c.wantData(k, []byte{}, "Read after a Swap to empty, non-nil data")

			// The data must be copied, as Write copies it.
			k = c.key()
			data := []byte("swapped session")
			c.write(k, []byte("session"), time.Hour)
			c.swap(s, k, []byte("session"), data, time.Hour, true, "Swap from the stored record")
			for i := range data {
				data[i] = 'X'
			}
			c.wantData(k, []byte("swapped session"), "Read after the caller overwrote the slice it passed to Swap as data")
		},
	),
	swapRule(
		"swap-mismatch",
		"Swap whose old differs from the live record in any byte or in length must return false and a nil error and leave the record as it is, because that is how a commit learns that another request changed the session since it was loaded, and a lost update is exactly what Swap exists to prevent",
		func(c *checker, b backend.Backend, s backend.Swapper) {
			stored := []byte("stored session")
			olds := []struct {
				name string
				old  []byte
			}{
				{"a different record", []byte("another session")},
				{"a record that differs only in its last byte", []byte("stored sessioN")},
				{"a prefix of the record", []byte("stored")},
				{"the record with a byte more", []byte("stored session!")},
				{"the record with a zero byte more", []byte("stored session\x00")},
				{"an empty, non-nil old", []byte{}},
			}
			for _, o := range olds {
				k := c.key()
				c.write(k, stored, time.Hour)
				c.swap(s, k, o.old, []byte("lost update"), time.Hour, false, "Swap from "+o.name)
				c.wantData(k, stored, "Read after a Swap from "+o.name)
			}
		},
	),
	swapRule(
		"swap-missing-does-not-create",
		"Swap with a non-nil old under a key that holds no record (never written, or deleted) must return false and a nil error and create nothing, whatever data it carries: a session destroyed by one request (logout, ID renewal) must never be brought back by a slower request that loaded it earlier and commits after, which is how session resurrection bugs such as rack-session's CVE-2025-46336 happen",
		func(c *checker, b backend.Backend, s backend.Swapper) {
			k := c.key()
			c.swap(s, k, []byte("session"), []byte("resurrected session"), time.Hour, false, "Swap with a non-nil old of a key never written")
			c.wantNotFound(k, "Read after a Swap with a non-nil old of a key never written")
			c.swap(s, k, []byte{}, []byte("resurrected session"), time.Hour, false, "Swap with an empty, non-nil old of a key never written")
			c.wantNotFound(k, "Read after a Swap with an empty, non-nil old of a key never written")
			c.swap(s, k, []byte("session"), nil, time.Hour, false, "Swap to nil data (a delete) with a non-nil old of a key never written")
			c.wantNotFound(k, "Read after a delete-Swap of a key never written")

			// The race the rule is about: a request loads the session,
			// another destroys it, the first commits.
			k = c.key()
			c.write(k, []byte("session"), time.Hour)
			c.delete(k, "Delete of the session (the logout)")
			c.swap(s, k, []byte("session"), []byte("session with a late change"), time.Hour, false, "Swap from the record as it was before a Delete")
			c.wantNotFound(k, "Read after a Swap from a deleted record")
		},
	),
	swapRule(
		"swap-expired-does-not-revive",
		"a record whose TTL has passed is absent to Swap as it is to Read, even before the backend sweeps it: a Swap from the bytes it held must return false and leave the key not found, or an expired session comes back to life, and a create (nil old) under its key must succeed as under a key never written",
		func(c *checker, b backend.Backend, s backend.Swapper) {
			k := c.key()
			c.write(k, []byte("short-lived session"), shortTTL)
			c.waitExpired(k, fmt.Sprintf("a record written with a %v TTL", shortTTL))
			c.swap(s, k, []byte("short-lived session"), []byte("revived session"), time.Hour, false, "Swap from the bytes of an expired record")
			c.wantNotFound(k, "Read after a Swap from the bytes of an expired record")
			c.swap(s, k, nil, []byte("new session"), time.Hour, true, "Swap with a nil old (a create) of an expired key")
			c.wantData(k, []byte("new session"), "Read after a create of an expired key")
		},
	),
	swapRule(
		"swap-create",
		"Swap with a nil old must create the record and return true only when no live record exists under the key, and otherwise return false and a nil error and leave the live record, an empty one included, as it is, because chisess stores a new session that way and a new session must never overwrite one that exists",
		func(c *checker, b backend.Backend, s backend.Swapper) {
			k := c.key()
			c.swap(s, k, nil, []byte("new session"), time.Hour, true, "Swap with a nil old (a create) of a key never written")
			c.wantData(k, []byte("new session"), "Read after a create")
			c.swap(s, k, nil, []byte("second new session"), time.Hour, false, "second create of the same key")
			c.wantData(k, []byte("new session"), "Read after a second create of the same key")

			k = c.key()
			c.write(k, []byte{}, time.Hour)
			c.swap(s, k, nil, []byte("new session"), time.Hour, false, "create of a key that holds an empty record")
			c.wantData(k, []byte{}, "Read after a create of a key that holds an empty record")

			k = c.key()
			c.write(k, []byte("session"), time.Hour)
			c.delete(k, "Delete of a stored key")
			c.swap(s, k, nil, []byte("new session"), time.Hour, true, "create of a deleted key")
			c.wantData(k, []byte("new session"), "Read after a create of a deleted key")
		},
	),
	swapRule(
		"swap-delete",
		"Swap to nil data must delete the record and return true when old matches it, and otherwise return false and a nil error and keep it, because logout and ID renewal delete a session that way, and must not delete one that another request has changed meanwhile",
		func(c *checker, b backend.Backend, s backend.Swapper) {
			k := c.key()
			c.write(k, []byte("session"), time.Hour)
			c.swap(s, k, []byte("session"), nil, time.Hour, true, "Swap to nil data (a delete) from the stored record")
			c.wantNotFound(k, "Read after a delete-Swap from the stored record")

			k = c.key()
			c.write(k, []byte("session changed by another request"), time.Hour)
			c.swap(s, k, []byte("session"), nil, time.Hour, false, "delete-Swap from a record that is no longer stored")
			c.wantData(k, []byte("session changed by another request"), "Read after a delete-Swap from a record that is no longer stored")

			// Both nil: nothing to create and nothing to delete; it
			// succeeds only where a create would.
			k = c.key()
			c.swap(s, k, nil, nil, time.Hour, true, "Swap with a nil old and nil data of a key never written")
			c.wantNotFound(k, "Read after a Swap with a nil old and nil data")
			c.write(k, []byte("session"), time.Hour)
			c.swap(s, k, nil, nil, time.Hour, false, "Swap with a nil old and nil data of a stored key")
			c.wantData(k, []byte("session"), "Read after a Swap with a nil old and nil data of a stored key")
		},
	),
	swapRule(
		"swap-ttl",
		"Swap must set the record's TTL afresh, as Write does: a matching Swap with a TTL of zero or less returns true and leaves an expired record (ErrNotFound), and one with a short TTL makes a record written with a long TTL expire, because chisess passes the session's remaining lifetime with every commit",
		func(c *checker, b backend.Backend, s backend.Swapper) {
			for _, ttl := range []time.Duration{0, -time.Nanosecond, -time.Hour} {
				k := c.key()
				c.write(k, []byte("live session"), time.Hour)
				c.swap(s, k, []byte("live session"), []byte("expired session"), ttl, true, "Swap from the stored record")
				c.wantNotFound(k, fmt.Sprintf("Read after a Swap with a %v TTL", ttl))
			}

			// A backend that keeps the old expiry, or drops it, keeps
			// this record for an hour or for ever. The other way round,
			// from a short TTL to a long one, would race: a slow machine
			// could let the short TTL pass before the Swap.
			k := c.key()
			c.write(k, []byte("long-lived session"), time.Hour)
			c.swap(s, k, []byte("long-lived session"), []byte("short-lived session"), shortTTL, true, "Swap from the stored record")
			c.waitExpired(k, fmt.Sprintf("a record written with a 1h TTL and swapped with a %v TTL", shortTTL))
		},
	),
	swapRule(
		"swap-concurrent",
		"Swap must be atomic: when many goroutines each read a counter and swap it for its successor, retrying on false, no increment may be lost, because concurrent requests on one session commit that way and a Swap that checks and then writes in two steps loses one request's changes",
		func(c *checker, b backend.Backend, s backend.Swapper) {
			const goroutines, increments = 16, 25
			k := c.key()
			c.write(k, []byte("0"), time.Hour)
			if c.concurrently(goroutines, func(int) string { return swapIncrement(c.ctx, b, s, k, increments, goroutines*increments) }) {
				c.wantData(k, []byte(strconv.Itoa(goroutines*increments)), fmt.Sprintf("Read of a counter after %d goroutines each made %d successful Swaps to its successor", goroutines, increments))
			}
		},
	),
	swapRule(
		"swap-context",
		"Swap must return promptly with false and an error wrapping ctx.Err() when its context is already done, and must then change nothing, so that a request its client abandoned frees its goroutine and leaves no trace",
		func(c *checker, b backend.Backend, s backend.Swapper) {
			for _, done := range c.doneContexts() {
				stored, fresh := c.key(), c.key()
				c.write(stored, []byte("stored session"), time.Hour)
				calls := []struct {
					name      string
					key       string
					old, data []byte
					after     []byte // what Read must return after the call; nil for ErrNotFound
				}{
					{"Swap from the stored record", stored, []byte("stored session"), []byte("changed session"), []byte("stored session")},
					{"delete-Swap from the stored record", stored, []byte("stored session"), nil, []byte("stored session")},
					{"create of a new key", fresh, nil, []byte("new session"), nil},
				}
				for _, call := range calls {
					var swapped bool
					var err error
					returned, wrapped := c.promptly(call.name, done, func() error {
						swapped, err = s.Swap(done.ctx, call.key, call.old, call.data, time.Hour)
						return err
					})
					if !returned {
						continue
					}
					if wrapped && swapped {
						c.errorf("%s with a %s context returned true and error %v, want false", call.name, done.name, err)
					}
					step := fmt.Sprintf("Read, with a live context, after a %s with a %s context", call.name, done.name)
					if call.after == nil {
						c.wantNotFound(call.key, step)
					} else {
						c.wantData(call.key, call.after, step)
					}
				}
			}
		},
	),
}

// swapRule makes a rule that runs only against a [backend.Swapper] and
// skips, saying so, against any other backend.
func swapRule(name, explain string, run func(c *checker, b backend.Backend, s backend.Swapper)) rule {
	return rule{
		name:    name,
		explain: explain,
		run: func(c *checker, b backend.Backend) {
			s, ok := b.(backend.Swapper)
			if !ok {
				c.t.Skipf("%T does not implement the optional interface backend.Swapper, so chisess reads a session again just before writing it instead (the last writer wins)", b)
				return
			}
			run(c, b, s)
		},
	}
}

// swapIncrement is one goroutine of the swap-concurrent rule. It adds one
// to the decimal counter under key, with Read and then Swap to the
// successor, until increments Swaps have succeeded. It returns the first
// problem it sees, or "".
//
// Each failed Swap means another goroutine's Swap succeeded between this
// goroutine's Read and its Swap, so when all goroutines together make total
// increments, a correct backend needs at most total attempts of each. After
// ten times that the worker gives up rather than loop for ever on a broken
// backend.
func swapIncrement(ctx context.Context, b backend.Backend, s backend.Swapper, key string, increments, total int) string {
	maxAttempts := 10 * total
	prev := -1
	for done, attempts := 0, 0; done < increments; attempts++ {
		if attempts == maxAttempts {
			return fmt.Sprintf("only %d of %d Swaps succeeded after %d attempts, though each failed Swap means another goroutine's succeeded", done, increments, attempts)
		}
		cur, err := b.Read(ctx, key)
		if err != nil {
			return fmt.Sprintf("Read of the counter returned error %v, want nil", err)
		}
		n, err := strconv.Atoi(string(cur))
		if err != nil {
			return fmt.Sprintf("Read of the counter returned %s, want a decimal number", show(cur))
		}
		if n < prev {
			return fmt.Sprintf("Read of the counter returned %d after an earlier Read returned %d: an update was lost", n, prev)
		}
		prev = n
		next := strconv.AppendInt(nil, int64(n+1), 10)
		ok, err := s.Swap(ctx, key, cur, next, time.Hour)
		if err != nil {
			return fmt.Sprintf("Swap of the counter from %d to %d returned error %v, want nil", n, n+1, err)
		}
		if ok {
			done++
		}
	}
	return ""
}

// swap calls Swap with a live context and reports unless it returns want
// and no error. An error stops the rule: what follows depends on the Swap.
func (c *checker) swap(s backend.Swapper, key string, old, data []byte, ttl time.Duration, want bool, step string) {
	c.t.Helper()
	got, err := s.Swap(c.ctx, key, old, data, ttl)
	call := fmt.Sprintf("%s (old %s, data %s, %v TTL)", step, showOrNil(old), showOrNil(data), ttl)
	switch {
	case err != nil:
		c.fatalf("%s returned error %v, want %v and no error", call, err, want)
	case got != want:
		c.errorf("%s returned %v, want %v", call, got, want)
	}
}

// showOrNil is [show], but says "nil" for a nil slice, which Swap tells
// apart from an empty one.
func showOrNil(data []byte) string {
	if data == nil {
		return "nil"
	}
	return show(data)
}
