package pgbackend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/sweeper"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultSweepInterval is how often the sweeper deletes expired rows when
// [Options.SweepInterval] is zero.
const DefaultSweepInterval = 5 * time.Minute

// DefaultSweepBatch is how many expired rows one sweep statement deletes
// when [Options.SweepBatch] is zero.
const DefaultSweepBatch = 1000

// ErrInvalidOptions is returned by [New] when a field of [Options] is
// invalid. The wrapping error names the field, for example
// "chisess: invalid postgres options: Options.Table ...".
var ErrInvalidOptions = errors.New("chisess: invalid postgres options")

// Options configures [New]. The zero value is a working configuration: the
// table chisess_sessions, which must already exist, swept every five minutes.
type Options struct {
	// Table is the table that holds the sessions: a plain ("sessions") or
	// schema-qualified ("app.sessions") SQL identifier of letters, digits, _
	// and $. It is always quoted, so it is case-sensitive: use lower case to
	// match a table created with an unquoted name. The default is
	// [DefaultTable], "chisess_sessions". Change it to keep several apps, or
	// a test, apart in one database.
	Table string

	// CreateTable makes New create the table and its indexes (the
	// statements of [SchemaSQL]) if they do not exist, and add the owner
	// column to a table created before it existed, under an advisory lock
	// so that several processes starting at once do not collide. The default,
	// false, leaves the schema to the app's migrations, and New then makes no
	// database call at all. Set it for small apps and tests.
	CreateTable bool

	// SweepInterval is how often a background goroutine deletes expired
	// rows. Expired rows are never returned by Read even before they are
	// swept; sweeping only keeps the table small. The default, zero, means
	// [DefaultSweepInterval] (five minutes). A negative value starts no
	// sweeper: use it when a cron job calls [Store.Sweep], or when only one
	// of many processes should sweep.
	SweepInterval time.Duration

	// SweepBatch is how many expired rows one DELETE statement removes; a
	// sweep repeats the statement until a batch comes back short. Small
	// batches keep each transaction, and its locks, short. The default,
	// zero, means [DefaultSweepBatch] (1000). It must not be negative.
	SweepBatch int

	// Now is the clock used to compute when a written record expires and
	// whether a stored one has. The default, nil, means time.Now. It exists
	// so that tests can move time forward without sleeping; production code
	// leaves it nil.
	Now func() time.Time

	// Logger receives the sweeper's errors (sweeps that fail) and, at debug
	// level, how many rows each sweep deleted. No token is ever logged: the
	// table holds only hashes. The default, nil, means slog.Default() at the
	// time of logging.
	Logger *slog.Logger
}

// Store is a [backend.Backend] over a PostgreSQL table reached through a
// pgx v5 pool, a [backend.Swapper]: [Store.Swap] replaces a row only if it
// still holds what the caller read, and a [backend.Indexer]: [Store.Owned]
// lists an owner's sessions through an indexed owner column. It is safe for
// concurrent use by any number of goroutines and processes.
//
// Create it with [New]; stop its sweeper with [Store.Close]. The pool
// belongs to the caller, who closes it after closing the Store.
type Store struct {
	pool  *pgxpool.Pool
	now   func() time.Time
	batch int

	readSQL, writeSQL, deleteSQL, sweepSQL, countSQL string

	// Swap's statements, one per case (see swap.go).
	swapSQL, swapDeleteSQL, createSQL, absentSQL string

	// The owner index's statements (see index.go).
	indexSQL, unindexSQL, ownedSQL string

	sweeper *sweeper.Sweeper
	once    sync.Once
}

var (
	_ backend.Backend = (*Store)(nil)
	_ backend.Swapper = (*Store)(nil)
)

// New returns a [Store] over the table named in opts, reached through pool.
// It reports a bad option as an error wrapping [ErrInvalidOptions], and a
// nil pool as an error; each names the argument or field and says what to
// pass instead.
//
// When opts.CreateTable is set, New creates the table and its index under
// ctx and returns any database error; otherwise it makes no database call,
// so a missing table shows up at the first Read or Write. ctx is used only
// during New: the sweeper, started unless opts.SweepInterval is negative,
// runs until [Store.Close].
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("chisess: pgbackend.New: pool is nil; pass the app's pgx pool, such as the one pgxpool.New(ctx, databaseURL) returns")
	}
	table := opts.Table
	if table == "" {
		table = DefaultTable
	}
	ident, err := parseTable(table)
	if err != nil {
		return nil, fmt.Errorf("%w: Options.Table: %v; pass a name such as %q or %q, or leave it empty for %q",
			ErrInvalidOptions, err, "sessions", "app.sessions", DefaultTable)
	}
	if opts.SweepBatch < 0 {
		return nil, fmt.Errorf("%w: Options.SweepBatch is %d, want zero (for the default) or more",
			ErrInvalidOptions, opts.SweepBatch)
	}

	s := &Store{
		pool:  pool,
		now:   opts.Now,
		batch: opts.SweepBatch,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.batch == 0 {
		s.batch = DefaultSweepBatch
	}
	t := ident.Sanitize()
	s.readSQL = "SELECT data FROM " + t + " WHERE key = $1 AND expires_at > $2"
	s.writeSQL = "INSERT INTO " + t + " (key, data, expires_at) VALUES ($1, $2, $3)" +
		" ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at"
	s.deleteSQL = "DELETE FROM " + t + " WHERE key = $1"
	s.swapSQL = "UPDATE " + t + " SET data = $4, expires_at = $5" +
		" WHERE key = $1 AND data = $2 AND expires_at > $3"
	s.swapDeleteSQL = "DELETE FROM " + t + " WHERE key = $1 AND data = $2 AND expires_at > $3"
	// The alias names the existing row in the WHERE clause whether or not
	// the table is schema-qualified.
	s.createSQL = "INSERT INTO " + t + " AS cur (key, data, expires_at) VALUES ($1, $2, $3)" +
		" ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at" +
		" WHERE cur.expires_at <= $4"
	s.countSQL = "SELECT count(*) FROM " + t + " WHERE expires_at > $1"
	s.absentSQL = "SELECT NOT EXISTS (SELECT 1 FROM " + t + " WHERE key = $1 AND expires_at > $2)"
	// SKIP LOCKED lets the sweepers of several processes share the work
	// instead of queueing on each other's rows, and never waits on a row a
	// Write is refreshing; FOR UPDATE re-checks expires_at on the row's
	// newest version, so a session refreshed meanwhile is not deleted.
	s.sweepSQL = "DELETE FROM " + t + " WHERE ctid IN (SELECT ctid FROM " + t +
		" WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)"
	// IS DISTINCT FROM makes indexing an owner the row already has a no-op
	// that writes no new row version (chisess with Rolling indexes on every
	// save).
	s.indexSQL = "UPDATE " + t + " SET owner = $2 WHERE key = $1 AND owner IS DISTINCT FROM $2"
	s.unindexSQL = "UPDATE " + t + " SET owner = NULL WHERE key = $1 AND owner = $2"
	s.ownedSQL = "SELECT key FROM " + t + " WHERE owner = $1 AND expires_at > $2"

	if opts.CreateTable {
		if err := createTable(ctx, pool, ident); err != nil {
			return nil, err
		}
	}

	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	s.sweeper = sweeper.Start(interval, s.Sweep, opts.Logger, "postgres", "table", table)
	return s, nil
}

// createTable runs the schema under a transaction-scoped advisory lock:
// concurrent CREATE TABLE IF NOT EXISTS statements for one name can fail
// with a unique violation in the catalog, which would make several
// processes that start together fail at random.
//
// It adds the owner column to a table created before the owner index only
// when the column is missing: ALTER TABLE takes an ACCESS EXCLUSIVE lock
// even when IF NOT EXISTS makes it a no-op, and waiting for that lock
// behind a long query would stall every session query queued after it.
func createTable(ctx context.Context, pool *pgxpool.Pool, ident pgx.Identifier) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "chisess:"+ident.Sanitize()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, tableSQL(ident)); err != nil {
			return err
		}
		var hasOwner bool
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_attribute"+
			" WHERE attrelid = $1::regclass AND attname = 'owner' AND NOT attisdropped)",
			ident.Sanitize()).Scan(&hasOwner)
		if err != nil {
			return err
		}
		if !hasOwner {
			if _, err := tx.Exec(ctx, addOwnerSQL(ident)); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, ownerIndexSQL(ident))
		return err
	})
	if err != nil {
		return fmt.Errorf("chisess: postgres create table: %w", err)
	}
	return nil
}

// Read implements [backend.Backend] with one query. It returns
// [backend.ErrNotFound] when no row has the key or the row's expiry has
// passed by [Options.Now], whether or not the row has been swept. Any other
// failure, the context's included, is wrapped as
// "chisess: postgres read: ...".
func (s *Store) Read(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, s.readSQL, key, s.now()).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, backend.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("chisess: postgres read: %w", err)
	}
	return data, nil
}

// Write implements [backend.Backend] with one upsert that replaces the row's
// data and sets its expiry to [Options.Now] plus ttl. A ttl of zero or less
// deletes the row instead.
//
// Write is a plain replace, as the base contract asks: it does not merge
// with what another request wrote meanwhile, and it re-creates a row that
// another request deleted. chisess commits through [Store.Swap] instead,
// which changes a row only if it still holds what the request read, so
// concurrent requests lose no update and a destroyed session stays
// destroyed.
//
// An error does not prove that nothing was written. When ctx ends while the
// statement runs, pgx by default drops the connection and returns at once,
// but the server may still finish the statement. An app that wants the
// server to stop it configures its pool with
// pgconn.CancelRequestContextWatcherHandler (pgconn.Config's
// BuildContextWatcherHandler); even then a statement can complete just
// before the cancel request arrives.
func (s *Store) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	var err error
	if ttl <= 0 {
		_, err = s.pool.Exec(ctx, s.deleteSQL, key)
	} else {
		if data == nil {
			data = []byte{} // pgx sends a nil slice as NULL; the column is NOT NULL
		}
		_, err = s.pool.Exec(ctx, s.writeSQL, key, data, s.now().Add(ttl))
	}
	if err != nil {
		return fmt.Errorf("chisess: postgres write: %w", err)
	}
	return nil
}

// Delete implements [backend.Backend] with one DELETE. A missing key is not
// an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, s.deleteSQL, key); err != nil {
		return fmt.Errorf("chisess: postgres delete: %w", err)
	}
	return nil
}
