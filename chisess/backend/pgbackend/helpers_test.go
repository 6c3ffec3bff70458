package pgbackend_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"testing"

	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/matryer/is"
)

// pgPool returns a pool on the database named by CHISESS_POSTGRES_URL,
// closed when the test ends. Without the variable the test is skipped, or
// fails when CHISESS_REQUIRE_SERVICES=1 (see internal/testenv).
func pgPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return pgPoolWith(t, func(*pgxpool.Config) {})
}

// pgPoolWith is pgPool with the pool's configuration changed by edit.
func pgPoolWith(t testing.TB, edit func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.Lookup(t, testenv.PostgresURL))
	if err != nil {
		t.Fatalf("CHISESS_POSTGRES_URL: %v", err)
	}
	edit(cfg)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("CHISESS_POSTGRES_URL: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(context.Background()); err != nil {
		t.Fatalf("CHISESS_POSTGRES_URL: cannot reach the server: %v", err)
	}
	return pool
}

// testDB is one test's own table in the shared test database, so tests can
// run in parallel. The table is dropped when the test ends.
type testDB struct {
	pool  *pgxpool.Pool
	table string // as given to Options.Table
}

func newTestDB(t testing.TB) testDB {
	t.Helper()
	d := testDB{pool: pgPool(t), table: randomTable()}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		_, err := d.pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+d.quoted())
		if err != nil {
			t.Errorf("drop test table %s: %v", d.table, err)
		}
	})
	return d
}

func randomTable() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "chisess_test_" + hex.EncodeToString(b)
}

func (d testDB) quoted() string { return pgx.Identifier{d.table}.Sanitize() }

// open returns a Store on the test's table, creating the table. Unless the
// test sets SweepInterval, no sweeper runs. The Store is closed when the
// test ends.
func (d testDB) open(t testing.TB, opts pgbackend.Options) *pgbackend.Store {
	t.Helper()
	is := is.New(t)
	is.Helper()
	opts.Table = d.table
	opts.CreateTable = true
	if opts.SweepInterval == 0 {
		opts.SweepInterval = -1
	}
	s, err := pgbackend.New(context.Background(), d.pool, opts)
	is.NoErr(err) // pgbackend.New on the test table
	t.Cleanup(func() { s.Close() })
	return s
}

// exec runs sql with every %s replaced by the quoted table name.
func (d testDB) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	is := is.New(t)
	is.Helper()
	_, err := d.pool.Exec(context.Background(), fmt.Sprintf(sql, d.quoted()), args...)
	is.NoErr(err) // raw SQL on the test table
}

// count reports how many rows the table holds, expired ones included.
func (d testDB) count(t testing.TB) int64 {
	t.Helper()
	is := is.New(t)
	is.Helper()
	var n int64
	err := d.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+d.quoted()).Scan(&n)
	is.NoErr(err) // count rows
	return n
}

// sweepsOnServer reports how many sweep statements on the table the server
// is running, from any connection, and how many of those wait for a lock.
func (d testDB) sweepsOnServer(t testing.TB) (running, waiting int) {
	t.Helper()
	is := is.New(t)
	is.Helper()
	err := d.pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock')
		FROM pg_stat_activity WHERE state = 'active' AND starts_with(query, 'DELETE FROM ' || $1 || ' ')`,
		d.quoted()).Scan(&running, &waiting)
	is.NoErr(err) // read pg_stat_activity
	return running, waiting
}

// deadPool returns a pool aimed at a loopback port that nothing listens on:
// the port was free a moment ago and its listener is closed.
func deadPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	is := is.New(t)
	is.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err) // reserve a loopback port
	addr := ln.Addr().String()
	is.NoErr(ln.Close()) // free it again, so connecting is refused
	pool, err := pgxpool.New(context.Background(), "postgres://chisess@"+addr+"/chisess?connect_timeout=5")
	is.NoErr(err) // pgxpool.New does not connect yet
	t.Cleanup(pool.Close)
	return pool
}
