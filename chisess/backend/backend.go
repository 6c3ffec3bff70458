// Package backend defines the storage contract behind chisess sessions and
// ships the two embedded backends: [Memory], a sharded in-process store, and
// [Sealer], which keeps the whole session inside an encrypted cookie and is
// what chisess uses when Config.Backend is nil.
//
// A server-side backend is a small key-value store with expiry. Keys are
// opaque strings made by chisess from a hash of the session token, never the
// token itself, so a backend needs no token checks of its own and a leaked
// store holds no usable cookie. Values are opaque bytes. Most applications
// pick a backend and never call its methods; implement [Backend] only to put
// sessions in a store chisess does not ship, and run
// sessiontest.RunConformance against it.
//
// Drivers for Redis, PostgreSQL and bbolt live in their own modules
// (redisbackend, pgbackend, boltbackend), so importing this package pulls in
// none of them, even in go list -m all.
package backend

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by [Backend.Read] when no live record exists under
// the key: it was never written, it was deleted, or its TTL has passed.
// chisess treats it as "start a fresh session", never as a failure.
var ErrNotFound = errors.New("chisess: session not found")

// Backend is the contract every server-side session store meets: read, write
// and delete opaque bytes under a key, with a time to live.
//
// Implementations must be safe for concurrent use. Every method must honour
// its context: when ctx is done before the operation completes, return an
// error that wraps ctx.Err() promptly.
//
// Extra powers are separate optional interfaces, found by type assertion;
// a backend without them still works.
type Backend interface {
	// Read returns the bytes last written under key. It returns an error
	// wrapping ErrNotFound when the key was never written, was deleted, or
	// its TTL has passed, even if the record has not been swept yet. Read
	// must never create a record. The caller may keep and modify the returned
	// slice, so return a copy of anything the backend holds on to.
	Read(ctx context.Context, key string) ([]byte, error)

	// Write stores data under key, replacing any previous record, and makes
	// it expire after ttl. A ttl of zero or less means the record is already
	// expired: the backend may delete it or skip the write, but a later Read
	// must report ErrNotFound. The backend must not keep a reference to data
	// after Write returns.
	Write(ctx context.Context, key string, data []byte, ttl time.Duration) error

	// Delete removes the record under key. Deleting a key that does not
	// exist, or has expired, is not an error.
	Delete(ctx context.Context, key string) error
}

// Swapper is an optional interface for backends that can replace a record
// atomically, only if it is still what the caller read. chisess uses it to
// merge the changes of concurrent requests on one session without losing
// any (two requests that set different keys both keep their change), and to
// make sure a request that loaded a session before another request destroyed
// or renewed it can never bring it back. Without it, chisess reads the record
// again just before writing, which narrows those races to a small window but
// cannot close it: the last writer wins.
//
// Implement it with one atomic operation of the store: a Lua script in
// Redis, a conditional UPDATE in SQL, one transaction in an embedded
// database.
type Swapper interface {
	// Swap replaces the record under key with data, expiring after ttl,
	// only if the live record stored under key is byte for byte equal to
	// old. It reports whether it did. It returns false and a nil error when
	// the record is different, absent or expired: the caller then reads it
	// again and retries.
	//
	// When old is nil, the swap succeeds only if no live record exists
	// under key (a create). When data is nil, a successful swap deletes the
	// record. A record that does not match is never created, changed or
	// deleted.
	Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (swapped bool, err error)
}

// Indexer is an optional interface for backends that can list the sessions
// of one owner (a user) without scanning every session: the "your devices"
// page and "log out everywhere". chisess calls Index when a session gets an
// owner or a new key, and Unindex when it ends.
//
// chisess always writes a session's record before indexing it, so a
// backend may tie an index entry to its record (PostgreSQL keeps the owner
// in the session's row). A key has one owner at a time: indexing it under a
// second owner may move it there.
//
// The index may hold stale entries for a while (a session deleted without
// Unindex): chisess reads each listed key and drops the ones that are gone.
// It must never miss a live one, and an entry must leave Owned once its TTL
// has passed.
type Indexer interface {
	// Index records that the session under key belongs to owner, for at
	// least ttl. Indexing the same pair again extends it; a ttl of zero or
	// less records nothing.
	Index(ctx context.Context, owner, key string, ttl time.Duration) error

	// Unindex removes key from owner's sessions. A missing entry is not an
	// error.
	Unindex(ctx context.Context, owner, key string) error

	// Owned returns the keys indexed under owner, in no particular order,
	// possibly including stale ones. An owner with no sessions has none,
	// and that is not an error.
	Owned(ctx context.Context, owner string) ([]string, error)
}

// Counter is an optional interface for backends that can count the records
// they hold, for admin tools (chisessctl count) and metrics. chisess itself
// never calls it, so a backend without it loses nothing on the request path.
//
// A record is whatever chisess wrote with Write: a session, or for a few
// seconds after a periodic renewal (Config.RenewEvery), the forward record
// its old token leaves. Owner index entries are not records. A backend
// shared by several managers (namespaces) counts the records of all of
// them, since keys are hashes that do not show which manager wrote them.
type Counter interface {
	// Count returns how many live records the backend holds: every key
	// written and neither deleted nor past its TTL, even if the backend has
	// not swept it yet. It may scan the whole store; call it from admin
	// tools, not on every request. Records written or deleted while it runs
	// may or may not be counted.
	Count(ctx context.Context) (int64, error)
}

// Sweeper is an optional interface for backends that keep expired records
// until something deletes them (an SQL table, a bbolt file), and can do so
// on demand. Backends whose store expires keys by itself (Redis) do not
// need it. chisess itself never calls it: such backends run their own
// sweeper on an interval, and admin tools (chisessctl sweep) or cron jobs
// call Sweep between runs.
type Sweeper interface {
	// Sweep deletes every record whose TTL has passed and returns how many
	// it deleted. It never deletes a live record, and it honours ctx,
	// returning the count so far with an error that wraps ctx.Err().
	Sweep(ctx context.Context) (int64, error)
}
