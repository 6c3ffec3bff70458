package pgbackend_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/chisess/kit/chisess/internal/testkey"
)

// sqlLog is a pgx tracer that records every statement a pool sends, with
// its arguments.
type sqlLog struct {
	mu    sync.Mutex
	stmts []loggedSQL
}

type loggedSQL struct {
	sql  string
	args []any
}

var _ pgx.QueryTracer = (*sqlLog)(nil)

func (l *sqlLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stmts = append(l.stmts, loggedSQL{data.SQL, data.Args})
	return ctx
}

func (l *sqlLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the statements recorded since the last take and forgets them.
func (l *sqlLog) take() []loggedSQL {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.stmts
	l.stmts = nil
	return out
}

// tracedPool returns a pool on the test database whose statements log
// records, closed when the test ends.
func tracedPool(t testing.TB, log *sqlLog) *pgxpool.Pool {
	t.Helper()
	is := is.New(t)
	is.Helper()
	pgPool(t) // skips, or fails, without a database
	cfg, err := pgxpool.ParseConfig(testenv.Lookup(t, testenv.PostgresURL))
	is.NoErr(err) // parse CHISESS_POSTGRES_URL
	cfg.ConnConfig.Tracer = log
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	is.NoErr(err) // a traced pool
	t.Cleanup(pool.Close)
	return pool
}

// sorted returns keys sorted, for comparing lists that come in no order.
func sorted(keys []string) []string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return keys
}

// TestIndexIsTheOwnerColumn checks the documented layout: Index sets the
// owner column of the session's row and Unindex clears it, each with one
// statement, and Write and Swap, which replace the row's data, keep it.
func TestIndexIsTheOwnerColumn(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	log := &sqlLog{}
	s, err := pgbackend.New(t.Context(), tracedPool(t, log), pgbackend.Options{Table: d.table, CreateTable: true, SweepInterval: -1})
	is.NoErr(err) // New on the test table
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	owner := func(key string) *string {
		var o *string
		err := d.pool.QueryRow(ctx, "SELECT owner FROM "+d.quoted()+" WHERE key = $1", key).Scan(&o)
		is.NoErr(err) // read the owner column
		return o
	}

	key := testkey.New()
	is.NoErr(s.Write(ctx, key, []byte("v1"), time.Hour)) // the session's row
	is.Equal(owner(key), (*string)(nil))                 // a row starts with no owner
	log.take()
	is.NoErr(s.Index(ctx, "ada", key, time.Hour)) // Index
	is.Equal(len(log.take()), 1)                  // is one statement
	is.Equal(*owner(key), "ada")                  // that sets the owner column

	is.NoErr(s.Write(ctx, key, []byte("v2"), time.Hour)) // an overwrite
	is.Equal(*owner(key), "ada")                         // keeps the owner
	ok, err := s.Swap(ctx, key, []byte("v2"), []byte("v3"), time.Hour)
	is.NoErr(err)                // a swap
	is.True(ok)                  // that replaces the row's data
	is.Equal(*owner(key), "ada") // keeps the owner too
	got, err := s.Owned(ctx, "ada")
	is.NoErr(err)                // Owned
	is.Equal(got, []string{key}) // still lists the session

	log.take()
	is.NoErr(s.Unindex(ctx, "ada", key)) // Unindex
	is.Equal(len(log.take()), 1)         // is one statement
	is.Equal(owner(key), (*string)(nil)) // that clears the owner column
	data, err := s.Read(ctx, key)
	is.NoErr(err)                // the session itself
	is.Equal(string(data), "v3") // is untouched
}

// TestIndexFollowsTheRow checks what follows from the index being a column
// of the row: an entry lives and dies with its row whatever ttl Index was
// given, a key with no row cannot be indexed, and a row has one owner.
func TestIndexFollowsTheRow(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	clk := testclock.New()
	s := d.open(t, pgbackend.Options{Now: clk.Now})
	ctx := t.Context()
	owned := func(owner string) []string {
		got, err := s.Owned(ctx, owner)
		is.NoErr(err) // Owned
		return sorted(got)
	}

	missing := testkey.New()
	is.NoErr(s.Index(ctx, "ada", missing, time.Hour)) // Index of a key with no row is not an error
	is.Equal(len(owned("ada")), 0)                    // but lists nothing
	is.Equal(d.count(t), int64(0))                    // and creates no row

	short, long := testkey.New(), testkey.New()
	is.NoErr(s.Write(ctx, short, []byte("short"), time.Minute)) // a row that expires in a minute
	is.NoErr(s.Index(ctx, "ada", short, time.Hour))             // indexed for longer
	is.NoErr(s.Write(ctx, long, []byte("long"), time.Hour))     // a row that lives an hour
	is.NoErr(s.Index(ctx, "ada", long, time.Minute))            // indexed for less
	is.Equal(owned("ada"), sorted([]string{short, long}))       // both listed
	clk.Add(30 * time.Minute)
	is.Equal(owned("ada"), []string{long}) // the entry ends with its row, not with the ttl given to Index

	is.NoErr(s.Index(ctx, "bob", long, time.Hour)) // indexing a key under a second owner
	is.Equal(owned("bob"), []string{long})         // moves it there
	is.Equal(len(owned("ada")), 0)                 // from the first

	is.NoErr(s.Delete(ctx, long))  // a deleted session
	is.Equal(len(owned("bob")), 0) // leaves the index with its row
}

// TestInvalidOwner checks that an owner a text column cannot hold is
// refused by Index with ErrInvalidOwner, and has no sessions.
func TestInvalidOwner(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	s := d.open(t, pgbackend.Options{})
	ctx := t.Context()
	key := testkey.New()
	is.NoErr(s.Write(ctx, key, []byte("session"), time.Hour)) // the session's row

	for _, owner := range []string{"a\x00b", "\x00", "caf\xe9", "\xff\xfe"} {
		err := s.Index(ctx, owner, key, time.Hour)
		is.True(errors.Is(err, pgbackend.ErrInvalidOwner))                   // Index refuses the owner
		is.True(strings.HasPrefix(err.Error(), "chisess: postgres index: ")) // saying which call failed
		got, err := s.Owned(ctx, owner)
		is.NoErr(err)                        // Owned of such an owner is not an error
		is.Equal(got, []string(nil))         // it has no sessions
		is.NoErr(s.Unindex(ctx, owner, key)) // nor does Unindex fail
	}
}

// TestOwnedUsesTheOwnerIndex fills a table with 20,000 sessions of 2,000
// owners, lets PostgreSQL gather statistics, and asks it to EXPLAIN the
// very statement Owned sent (caught by a pgx tracer, with its arguments):
// the plan reads the owner index, and never scans the table.
func TestOwnedUsesTheOwnerIndex(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	log := &sqlLog{}
	s, err := pgbackend.New(t.Context(), tracedPool(t, log), pgbackend.Options{Table: d.table, CreateTable: true, SweepInterval: -1})
	is.NoErr(err) // New on the test table
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	d.exec(t, `INSERT INTO %s (key, data, expires_at, owner)
		SELECT md5(i::text), '\x00', now() + interval '1 hour', 'user-' || mod(i, 2000)
		FROM generate_series(1, 20000) AS i`)
	d.exec(t, "ANALYZE %s")

	log.take()
	got, err := s.Owned(ctx, "user-7")
	is.NoErr(err)          // Owned
	is.Equal(len(got), 10) // lists the owner's 10 sessions
	stmts := log.take()
	is.Equal(len(stmts), 1) // in one statement

	rows, err := d.pool.Query(ctx, "EXPLAIN "+stmts[0].sql, stmts[0].args...)
	is.NoErr(err) // EXPLAIN the statement Owned sent
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	is.NoErr(err) // read the plan
	plan := strings.Join(lines, "\n")
	t.Logf("plan:\n%s", plan)
	is.True(strings.Contains(plan, "_owner_idx")) // the plan reads the owner index
	is.True(!strings.Contains(plan, "Seq Scan"))  // and never scans the table
}

// TestCreateTableAddsOwnerColumn starts from a table made by the schema of
// before the owner index: without CreateTable it keeps working for
// sessions, and only the index methods fail; New with CreateTable adds the
// column and its index, keeping the rows; and New with CreateTable on a
// table that has the column sends no ALTER TABLE, which would take an
// ACCESS EXCLUSIVE lock.
func TestCreateTableAddsOwnerColumn(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	ctx := t.Context()
	d.exec(t, `CREATE TABLE %s (
		key        text        PRIMARY KEY,
		data       bytea       NOT NULL,
		expires_at timestamptz NOT NULL
	)`)
	old, err := pgbackend.New(ctx, d.pool, pgbackend.Options{Table: d.table, SweepInterval: -1})
	is.NoErr(err) // New without CreateTable on the old table
	t.Cleanup(func() { old.Close() })
	key := testkey.New()
	is.NoErr(old.Write(ctx, key, []byte("v1"), time.Hour)) // Write works on the old table
	ok, err := old.Swap(ctx, key, []byte("v1"), []byte("v2"), time.Hour)
	is.NoErr(err) // Swap works on the old table
	is.True(ok)   // and swaps
	err = old.Index(ctx, "ada", key, time.Hour)
	is.True(err != nil)                                                  // Index needs the owner column
	is.True(strings.HasPrefix(err.Error(), "chisess: postgres index: ")) // and says which call failed
	t.Logf("Index on the old table: %v", err)

	log := &sqlLog{}
	pool := tracedPool(t, log)
	s, err := pgbackend.New(ctx, pool, pgbackend.Options{Table: d.table, CreateTable: true, SweepInterval: -1})
	is.NoErr(err) // New with CreateTable migrates the old table
	t.Cleanup(func() { s.Close() })
	var sent []string
	for _, st := range log.take() {
		sent = append(sent, st.sql)
	}
	is.True(slices.ContainsFunc(sent, func(sql string) bool { return strings.HasPrefix(sql, "ALTER TABLE") })) // it added the column
	got, err := s.Read(ctx, key)
	is.NoErr(err)                                 // the row written before
	is.Equal(string(got), "v2")                   // is intact
	is.NoErr(s.Index(ctx, "ada", key, time.Hour)) // Index works now
	owned, err := s.Owned(ctx, "ada")
	is.NoErr(err)                  // and Owned
	is.Equal(owned, []string{key}) // lists the old row
	var n int
	err = d.pool.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(owner) WHERE (owner IS NOT NULL)'", d.table).Scan(&n)
	is.NoErr(err)  // look up the table's indexes
	is.Equal(n, 1) // the owner index exists

	again, err := pgbackend.New(ctx, pool, pgbackend.Options{Table: d.table, CreateTable: true, SweepInterval: -1})
	is.NoErr(err) // New with CreateTable on an up-to-date table
	t.Cleanup(func() { again.Close() })
	for _, st := range log.take() {
		is.True(!strings.Contains(st.sql, "ALTER TABLE")) // sends no ALTER TABLE
	}
}

// TestIndexOutage checks that the index methods fail on a database that
// cannot be reached, never reporting an owner with no sessions.
func TestIndexOutage(t *testing.T) {
	is := is.New(t)
	s, err := pgbackend.New(t.Context(), deadPool(t), pgbackend.Options{SweepInterval: -1})
	is.NoErr(err) // without CreateTable, New needs no connection
	defer s.Close()

	tests := []struct {
		name string
		call func() error
	}{
		{"Index", func() error { return s.Index(t.Context(), "ada", testkey.New(), time.Hour) }},
		{"Unindex", func() error { return s.Unindex(t.Context(), "ada", testkey.New()) }},
		{"Owned", func() error { _, err := s.Owned(t.Context(), "ada"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			err := tt.call()
			is.True(err != nil)                                                                    // an outage is an error
			is.True(!errors.Is(err, backend.ErrNotFound))                                          // and not "no session"
			is.True(strings.HasPrefix(err.Error(), "chisess: postgres "+strings.ToLower(tt.name))) // wrapped with what failed
		})
	}
}
