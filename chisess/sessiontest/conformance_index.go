package sessiontest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// indexRules are the rules of [backend.Indexer], the owner index behind
// Manager.Sessions ("your devices") and Manager.DestroyOwner ("log out
// everywhere"). They run only against a backend that implements it.
//
// Every rule does what chisess does: it writes a session's record first and
// then indexes it, with the same TTL. A backend may rely on that, as
// pgbackend does: its index is a column of the session's row, so it lives
// exactly as long as the record and a key with no record cannot be indexed.
// No rule indexes one key under two owners (a chisess session has one
// owner at a time), and no rule requires a deleted record to leave the
// index: Owned may return stale keys, which chisess reads and drops.
//
// Owners get a random namespace in every rule (see [indexChecker.owner]),
// so rules and test runs that share a server never see each other's
// owners.
var indexRules = []rule{
	indexRule(
		"index-list",
		"Owned must return exactly the keys indexed under the owner, each once and in any order, and nothing for an owner with no sessions (an empty list and a nil error), because it is the list of the user's devices and the sessions that \"log out everywhere\" ends: a missing key is a session that escapes the logout, a foreign key is another user's device",
		func(c *indexChecker) {
			ada, bob := c.owner("ada"), c.owner("bob")
			adas := []string{c.session(ada, time.Hour), c.session(ada, time.Hour), c.session(ada, time.Hour)}
			bobs := []string{c.session(bob, time.Hour)}
			c.wantOwned(ada, adas, "Owned of an owner with three sessions")
			c.wantOwned(bob, bobs, "Owned of an owner with one session")
			c.wantOwned(c.owner("nobody"), nil, "Owned of an owner never indexed")
		},
	),
	indexRule(
		"index-idempotent",
		"indexing a pair that is already indexed must leave it listed once, because chisess indexes a session again on every save that may move its end (with Rolling, every request), and a key listed twice is one device shown twice",
		func(c *indexChecker) {
			ada := c.owner("ada")
			k := c.session(ada, time.Hour)
			c.index(ada, k, time.Hour)
			c.wantOwned(ada, []string{k}, "Owned after indexing one pair twice")
			other := c.session(ada, time.Hour)
			c.index(ada, k, time.Hour)
			c.index(ada, other, time.Hour)
			c.wantOwned(ada, []string{k, other}, "Owned after indexing two pairs again")
		},
	),
	indexRule(
		"unindex",
		"Unindex must remove exactly the one pair it names, from that owner only, and return nil for a pair that is not indexed (never indexed, already removed, or a key of another owner), because chisess unindexes a session when it ends or changes hands, and a logout on one device must not hide the others or another user's session",
		func(c *indexChecker) {
			ada, bob := c.owner("ada"), c.owner("bob")
			k1, k2 := c.session(ada, time.Hour), c.session(ada, time.Hour)
			k3 := c.session(bob, time.Hour)
			c.unindex(ada, k1, "Unindex of an indexed pair")
			c.wantOwned(ada, []string{k2}, "Owned after unindexing one of two keys")
			c.wantOwned(bob, []string{k3}, "Owned of another owner after an Unindex")

			c.unindex(ada, k1, "second Unindex of the same pair")
			c.unindex(ada, k3, "Unindex of another owner's key")
			c.wantOwned(bob, []string{k3}, "Owned after an Unindex that named the key under the wrong owner")
			c.unindex(c.owner("nobody"), c.key(), "Unindex of a pair never indexed")
			c.wantOwned(ada, []string{k2}, "Owned after Unindex of pairs that are not indexed")

			c.index(ada, k1, time.Hour)
			c.wantOwned(ada, []string{k1, k2}, "Owned after indexing an unindexed pair again")
		},
	),
	indexRule(
		"index-ttl",
		fmt.Sprintf("an entry must drop out of Owned once its TTL has passed (the rule waits up to %v), and one with a long TTL must stay, because most sessions end by expiring rather than by logout, and an index that keeps them grows for ever and makes every listing read every session the user ever had", expiryTimeout),
		func(c *indexChecker) {
			ada := c.owner("ada")
			long := c.session(ada, time.Hour)
			short := c.session(ada, shortTTL)
			c.waitUnowned(ada, short, fmt.Sprintf("a key indexed with a %v TTL", shortTTL))
			c.wantOwned(ada, []string{long}, fmt.Sprintf("Owned after a %v TTL passed", shortTTL))
		},
	),
	indexRule(
		"index-extend",
		"indexing a pair again with a longer TTL must extend the entry, because chisess with Rolling moves a session's end on every save and indexes it again, and an entry that kept its first TTL would drop a live session out of \"log out everywhere\"",
		func(c *indexChecker) {
			ada := c.owner("ada")
			k := c.session(ada, shortTTL)
			canary := c.session(ada, shortTTL)
			c.write(k, []byte("extended session"), time.Hour)
			c.index(ada, k, time.Hour)
			// The canary was indexed after k first was, so once it has
			// gone, k's first TTL has passed as well.
			c.waitUnowned(ada, canary, fmt.Sprintf("a canary key indexed with a %v TTL", shortTTL))
			c.wantOwned(ada, []string{k}, fmt.Sprintf("Owned of a key first indexed with a %v TTL and then with a 1h TTL, after the first TTL passed", shortTTL))
		},
	),
	indexRule(
		"owners-with-odd-characters",
		"an owner is any string an app uses as a user ID, and each must list only its own sessions, exactly as given: owners that differ in one character, by case, by Unicode normalization or by trailing white space, that are prefixes of each other, or that hold ':', spaces, Unicode, Redis Cluster hash tags '{…}', glob characters '*?[' or SQL LIKE wildcards '%_', are different owners, or one user sees and ends another's sessions (owners are valid UTF-8 without NUL bytes, which an SQL text column cannot hold)",
		func(c *indexChecker) {
			names := []string{
				"ada", "Ada", "ADA", "ad", "ada ", " ada", "a", "adam",
				"user:1", "user:10", "user:", ":", "a b", "a  b", "line\nbreak", "tab\there",
				"ünï", "e\u0301", "\u00e9", "日本語", "👩‍💻",
				"{x}", "{x}y", "{}", "{", "}",
				"*", "ad*", "ad?", "ad[a]", "[", "?", "\\", "ad\\*",
				"%", "ad%", "ad_", "_", "'", "o'brien", `"`,
				strings.Repeat("long-owner-", 93), // 1023 bytes
			}
			owners := make([]string, len(names))
			keys := make([]string, len(names))
			for i, n := range names {
				owners[i] = c.owner(n)
				keys[i] = c.session(owners[i], time.Hour)
			}
			for i, n := range names {
				c.wantOwned(owners[i], []string{keys[i]}, fmt.Sprintf("Owned of one of %d owners with odd characters, named %q in the rule", len(names), n))
			}
		},
	),
	indexRule(
		"index-concurrent",
		"Index, Unindex and Owned must be safe for concurrent use, with no entry lost when many goroutines index and unindex keys of one owner at once, because a user logs in on several devices at the same moment and every request runs in its own goroutine: an index that reads, changes and writes back a list loses sessions, which then escape \"log out everywhere\"",
		func(c *indexChecker) {
			const goroutines, perGoroutine = 8, 12
			ada := c.owner("ada")
			keys := make([][]string, goroutines)
			var kept []string
			for g := range keys {
				keys[g] = make([]string, perGoroutine)
				for i := range keys[g] {
					keys[g][i] = c.key()
					c.trackPair(ada, keys[g][i])
					if i%3 != 0 {
						kept = append(kept, keys[g][i])
					}
				}
			}
			if c.concurrently(goroutines, func(g int) string { return indexWorker(c.ctx, c.b, c.ix, ada, keys[g]) }) {
				c.wantOwned(ada, kept, fmt.Sprintf("Owned after %d goroutines each indexed %d keys of one owner and unindexed a third of them", goroutines, perGoroutine))
			}
		},
	),
	indexRule(
		"index-context",
		"Index, Unindex and Owned must return promptly with an error wrapping ctx.Err() when their context is already done, and must then change nothing, so that a request its client abandoned frees its goroutine and leaves the index as it was",
		func(c *indexChecker) {
			for _, done := range c.doneContexts() {
				ada := c.owner("ada, " + done.name)
				stored := c.session(ada, time.Hour)
				fresh := c.key()
				c.write(fresh, []byte("session"), time.Hour)
				c.trackPair(ada, fresh)
				calls := []struct {
					name string
					call func() error
				}{
					{"Index of a new pair", func() error { return c.ix.Index(done.ctx, ada, fresh, time.Hour) }},
					{"Unindex of an indexed pair", func() error { return c.ix.Unindex(done.ctx, ada, stored) }},
					{"Owned", func() error { _, err := c.ix.Owned(done.ctx, ada); return err }},
				}
				for _, call := range calls {
					c.promptly(call.name, done, call.call)
				}
				c.wantOwned(ada, []string{stored}, fmt.Sprintf("Owned, with a live context, after an Index and an Unindex with a %s context", done.name))
			}
		},
	),
}

// indexRule makes a rule that runs only against a [backend.Indexer] and
// skips, saying so, against any other backend.
func indexRule(name, explain string, run func(c *indexChecker)) rule {
	return rule{
		name:    name,
		explain: explain,
		run: func(c *checker, b backend.Backend) {
			ix, ok := b.(backend.Indexer)
			if !ok {
				c.t.Skipf("%T does not implement the optional interface backend.Indexer, so chisess cannot list an owner's sessions (Manager.Sessions and Manager.DestroyOwner return chisess.ErrNoOwnerIndex)", b)
				return
			}
			ic := &indexChecker{checker: c, ix: ix, ns: newOwnerNamespace()}
			defer ic.unindexAll()
			run(ic)
		},
	}
}

// indexWorker is one goroutine of the index-concurrent rule. It writes and
// indexes each of its keys under owner, checking after each that Owned
// lists it, and then unindexes every third key. It returns the first
// problem it sees, or "".
func indexWorker(ctx context.Context, b backend.Backend, ix backend.Indexer, owner string, keys []string) string {
	for i, k := range keys {
		if err := b.Write(ctx, k, []byte("session"), time.Hour); err != nil {
			return fmt.Sprintf("Write of key %d returned error %v, want nil", i, err)
		}
		if err := ix.Index(ctx, owner, k, time.Hour); err != nil {
			return fmt.Sprintf("Index of key %d returned error %v, want nil", i, err)
		}
		owned, err := ix.Owned(ctx, owner)
		if err != nil {
			return fmt.Sprintf("Owned after indexing key %d returned error %v, want nil", i, err)
		}
		if !slices.Contains(owned, k) {
			return fmt.Sprintf("Owned after indexing key %d returned %d keys without it", i, len(owned))
		}
	}
	for i := 0; i < len(keys); i += 3 {
		if err := ix.Unindex(ctx, owner, keys[i]); err != nil {
			return fmt.Sprintf("Unindex of key %d returned error %v, want nil", i, err)
		}
	}
	return ""
}

// An indexChecker is a checker for the rules of [backend.Indexer]. It
// remembers every pair a rule indexes so that they can be unindexed when
// the rule ends.
type indexChecker struct {
	*checker
	ix    backend.Indexer
	ns    string      // namespace of the rule's owners
	pairs [][2]string // owner, key; only the rule's goroutine adds to it
}

// newOwnerNamespace returns a random prefix for the owners of one rule.
func newOwnerNamespace() string {
	var b [8]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return "sessiontest-" + hex.EncodeToString(b[:]) + "-"
}

// owner returns the owner name in the rule's namespace. The namespace comes
// first, so owners whose names are prefixes of each other stay so.
func (c *indexChecker) owner(name string) string { return c.ns + name }

// trackPair adds a pair to those unindexed when the rule ends.
func (c *indexChecker) trackPair(owner, key string) {
	c.pairs = append(c.pairs, [2]string{owner, key})
}

// unindexAll unindexes every pair the rule used, ignoring errors: what the
// backend does here is no part of any rule.
func (c *indexChecker) unindexAll() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), cleanupTimeout)
	defer cancel()
	for _, p := range c.pairs {
		_ = c.ix.Unindex(ctx, p[0], p[1])
	}
}

// session writes a record under a fresh key with ttl and indexes it under
// owner with the same ttl, as chisess does, and returns the key.
func (c *indexChecker) session(owner string, ttl time.Duration) string {
	c.t.Helper()
	k := c.key()
	c.write(k, []byte("session of "+owner), ttl)
	c.index(owner, k, ttl)
	return k
}

// index calls Index with a live context and stops the rule if it fails.
func (c *indexChecker) index(owner, key string, ttl time.Duration) {
	c.t.Helper()
	c.trackPair(owner, key)
	if err := c.ix.Index(c.ctx, owner, key, ttl); err != nil {
		c.fatalf("Index(%q, %q) with a %v TTL returned error %v, want nil", owner, key, ttl, err)
	}
}

// unindex calls Unindex with a live context and reports an error.
func (c *indexChecker) unindex(owner, key, step string) {
	c.t.Helper()
	if err := c.ix.Unindex(c.ctx, owner, key); err != nil {
		c.errorf("%s returned error %v, want nil", step, err)
	}
}

// owned calls Owned with a live context and stops the rule if it fails.
func (c *indexChecker) owned(owner, step string) []string {
	c.t.Helper()
	got, err := c.ix.Owned(c.ctx, owner)
	if err != nil {
		c.fatalf("%s returned error %v, want nil", step, err)
	}
	return got
}

// wantOwned reports unless Owned of owner returns exactly want, in any
// order, each key once.
func (c *indexChecker) wantOwned(owner string, want []string, step string) {
	c.t.Helper()
	if d := diffKeys(c.owned(owner, step), want); d != "" {
		c.errorf("%s (owner %q): %s", step, owner, d)
	}
}

// waitUnowned polls Owned of owner until it no longer lists key, and stops
// the rule if that takes longer than expiryTimeout.
func (c *indexChecker) waitUnowned(owner, key, what string) {
	c.t.Helper()
	deadline := time.Now().Add(expiryTimeout)
	for {
		got := c.owned(owner, "Owned, while waiting for "+what+" to expire,")
		switch {
		case !slices.Contains(got, key):
			return
		case !time.Now().Before(deadline):
			c.fatalf("Owned of owner %q still listed %s %v after it was indexed, want it gone", owner, what, expiryTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// diffKeys describes how the keys got differ from want as a set, each key
// once, or returns "" if they do not.
func diffKeys(got, want []string) string {
	var missing, extra, twice []string
	seen := map[string]bool{}
	for _, k := range got {
		switch {
		case seen[k]:
			twice = append(twice, k)
		case !slices.Contains(want, k):
			extra = append(extra, k)
		}
		seen[k] = true
	}
	for _, k := range want {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("%d of the %d keys indexed under the owner missing (%s)", len(missing), len(want), showKeys(missing)))
	}
	if len(extra) > 0 {
		parts = append(parts, fmt.Sprintf("%d keys never indexed under the owner (%s)", len(extra), showKeys(extra)))
	}
	if len(twice) > 0 {
		parts = append(parts, fmt.Sprintf("%d keys listed more than once (%s)", len(twice), showKeys(twice)))
	}
	if parts == nil {
		return ""
	}
	return fmt.Sprintf("got %d keys, want %d: %s", len(got), len(want), strings.Join(parts, "; "))
}

// showKeys quotes at most the first three of keys for a failure message.
func showKeys(keys []string) string {
	const most = 3
	if len(keys) <= most {
		return fmt.Sprintf("%q", keys)
	}
	return fmt.Sprintf("%q and %d more", keys[:most], len(keys)-most)
}
