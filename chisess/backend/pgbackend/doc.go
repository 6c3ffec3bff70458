// Package pgbackend stores chisess sessions in PostgreSQL through a pgx v5
// connection pool.
//
// Use it when an app already runs PostgreSQL and more than one process must
// share sessions, or sessions must survive restarts. Each session is one row
// of a table (by default chisess_sessions) keyed by the hash chisess makes of
// the session token, so the table never holds a usable cookie.
//
// Wire it by handing [New] a pool the app owns; chisess does the rest:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("CHISESS_POSTGRES_URL"))
//	if err != nil {
//		return err
//	}
//	defer pool.Close()
//	store, err := pgbackend.New(ctx, pool, pgbackend.Options{CreateTable: true})
//	if err != nil {
//		return err
//	}
//	defer store.Close() // stops the sweeper; the pool stays open
//	sessions, err := chisess.New(chisess.Config{Backend: store})
//	if err != nil {
//		return err
//	}
//
// With [Options.CreateTable] set, New creates the table and its index if they
// are missing. Apps that run their own migrations leave it unset and copy the
// statements that [SchemaSQL] returns into a migration instead.
//
// Reads never return a row whose expiry has passed, whether or not it has
// been deleted yet. A background sweeper started by New deletes expired rows
// in batches every [Options.SweepInterval]; [Store.Sweep] runs one sweep on
// demand, for tests or for a cron job when the sweeper is turned off.
//
// The Store is also a backend.Swapper: [Store.Swap] changes or deletes a
// row only if it still holds the bytes the caller read, each case in one
// statement (a conditional UPDATE, DELETE or INSERT ... ON CONFLICT), so
// two requests that change one session at once both keep their change, and
// a request that loaded a session before another request destroyed it
// cannot bring it back. The statement compares the stored bytea with the
// caller's on the one row the primary key finds; a session record is small
// (a few hundred bytes), so that costs no more than a version column would,
// and a Swap costs about what a Write does.
//
// The Store is also a backend.Indexer, so chisess can list a user's
// sessions (Manager.Sessions) and end them all (Manager.DestroyOwner). The
// index is the owner column of the session's row, NULL for a session
// without an owner, with a partial index over the rows that have one:
// [Store.Index] and [Store.Unindex] are one UPDATE each, and [Store.Owned]
// one SELECT that reads that index, never the whole table. An entry lives
// and dies with its row, so an expired or deleted session drops out of the
// listing at once. Owners are text: valid UTF-8 without NUL bytes. Tables
// created before the owner index need the column; [SchemaSQL] shows the
// migration, and [Options.CreateTable] runs it. Until then everything but
// the index keeps working.
//
// Expiry times are computed from the app's clock ([Options.Now]), not the
// database's, so app servers that share a table should keep their clocks in
// sync (NTP).
package pgbackend
