// Package boltbackend stores chisess sessions in one bbolt file
// (go.etcd.io/bbolt), for an app on a single machine that must keep its
// sessions across restarts without running a database server.
//
// Open the file once at start-up, hand the [Store] to chisess, and close it
// on the way out:
//
//	store, err := boltbackend.Open("sessions.db", boltbackend.Options{})
//	if err != nil {
//		return err
//	}
//	defer store.Close() // stops the sweeper and closes the file
//	sessions, err := chisess.New(chisess.Config{Backend: store})
//	if err != nil {
//		return err
//	}
//
// Apps that already keep their own data in a bbolt file pass that *bbolt.DB
// to [New] instead; the sessions then live in their own bucket
// ([Options.Bucket]) and the Store never closes the DB.
//
// # One process at a time
//
// bbolt locks its file: while one process has it open, [Open] in another
// process waits [Options.Timeout] (one second by default) and then fails with
// an error that says the file is locked, instead of hanging. So this backend
// is for one process; apps that run several processes or machines share
// sessions through redisbackend or pgbackend.
//
// # Records and expiry
//
// Each session is one key in the bucket: the 43-character hash chisess makes
// of the session token (never the token), whose value is the expiry time as
// 8 big-endian bytes of Unix nanoseconds followed by the session data. Read
// never returns a record whose expiry has passed by [Options.Now], whether or
// not it has been deleted yet.
//
// A background sweeper deletes expired records every [Options.SweepInterval]
// (five minutes by default); [Store.Sweep] runs one sweep on demand. A sweep
// walks the whole bucket in read transactions of at most 10,000 keys, which
// block neither Read nor Write, and deletes what it found in write
// transactions of at most [Options.SweepBatch] keys (1000 by default), so the
// write lock is never held for long. There is deliberately no secondary
// index by expiry: it would make every Write and Delete touch two buckets and
// keep them consistent, to save a scan that costs about a millisecond per
// hundred thousand sessions every few minutes.
//
// # Concurrent requests
//
// The Store is also a [backend.Swapper]: [Store.Swap] replaces or deletes a
// record only if it still holds the bytes the caller read, in one write
// transaction. chisess commits sessions through it, so two requests that
// change one session at once both keep their change, and a request that
// loaded a session before another request destroyed it cannot bring it
// back.
//
// # Owner index
//
// The Store is also a [backend.Indexer], so chisess can list a user's
// sessions (Manager.Sessions) and end them all (Manager.DestroyOwner). The
// index is a second bucket, [Options.Bucket] + "_owners", with one key per
// session that has an owner: the owner's length as a uvarint, the owner
// and the session key, whose value is the entry's end. [Store.Owned] seeks
// a cursor to the owner's prefix and reads that owner's entries only,
// never the whole file; the length in front keeps owner "ad" from seeing
// the entries of "ada". Entries past their end are never listed, and the
// sweeper deletes them with the expired sessions.
//
// # Durability and speed
//
// Every Write, Delete and Swap is its own bbolt transaction, committed with
// fsync before it returns, so a session saved before a crash or power cut is
// there after the restart. The fsync is almost all of a write's cost, and
// writes are serialized, so the disk's fsync latency bounds how many
// sessions per second can change (on the 2-core VM of the benchmarks: 0.27
// ms a write, 6 µs of it the Store's own work). A Swap that changes the
// record costs what a Write does; one that does not match, or has nothing
// to change, rolls back without an fsync. Reads come from the memory-mapped
// file, never wait for writers, and take under a microsecond.
// [Options.NoSync] skips the fsync, for tests only.
package boltbackend
