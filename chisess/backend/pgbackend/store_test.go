package pgbackend_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testkey"
	"github.com/matryer/is"
)

func TestWriteThenRead(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	s := d.open(t, pgbackend.Options{})

	tests := []struct {
		name string
		data []byte
		want []byte
	}{
		{name: "short", data: []byte(`{"visits":1}`), want: []byte(`{"visits":1}`)},
		{name: "empty", data: []byte{}, want: []byte{}},
		{name: "nil reads back empty", data: nil, want: []byte{}},
		{name: "binary", data: []byte{0, 0xff, 0, '\'', '\\', 0x80}, want: []byte{0, 0xff, 0, '\'', '\\', 0x80}},
		{name: "330 bytes", data: bytes.Repeat([]byte("x"), 330), want: bytes.Repeat([]byte("x"), 330)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			key := testkey.New()
			is.NoErr(s.Write(t.Context(), key, tt.data, time.Hour)) // write
			got, err := s.Read(t.Context(), key)
			is.NoErr(err)                      // read what was just written
			is.True(got != nil)                // a found record is never nil, even when empty
			is.True(bytes.Equal(got, tt.want)) // same bytes back
		})
	}
	is.Equal(d.count(t), int64(len(tests))) // one row per key, no more
}

func TestWriteReplaces(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	s := d.open(t, pgbackend.Options{})
	key := testkey.New()

	is.NoErr(s.Write(t.Context(), key, []byte("first"), time.Hour))  // first write
	is.NoErr(s.Write(t.Context(), key, []byte("second"), time.Hour)) // upsert over it
	got, err := s.Read(t.Context(), key)
	is.NoErr(err)                   // read after the upsert
	is.Equal(string(got), "second") // the second write replaced the first
	is.Equal(d.count(t), int64(1))  // still one row
}

func TestReadMissingKey(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	s := d.open(t, pgbackend.Options{})
	is.NoErr(s.Write(t.Context(), testkey.New(), []byte("other"), time.Hour)) // another session exists

	got, err := s.Read(t.Context(), testkey.New())
	is.True(errors.Is(err, backend.ErrNotFound)) // an unknown key is ErrNotFound
	is.Equal(got, nil)                           // and no data
	is.Equal(d.count(t), int64(1))               // Read created no row
}

func TestDelete(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	s := d.open(t, pgbackend.Options{})
	key, other := testkey.New(), testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("gone soon"), time.Hour)) // the victim
	is.NoErr(s.Write(t.Context(), other, []byte("stays"), time.Hour))   // a bystander

	is.NoErr(s.Delete(t.Context(), key)) // delete a live key
	_, err := s.Read(t.Context(), key)
	is.True(errors.Is(err, backend.ErrNotFound))   // deleted key reads as not found
	is.NoErr(s.Delete(t.Context(), key))           // deleting it again is not an error
	is.NoErr(s.Delete(t.Context(), testkey.New())) // nor is deleting a key never written
	got, err := s.Read(t.Context(), other)
	is.NoErr(err)                  // the bystander is still there
	is.Equal(string(got), "stays") // untouched
	is.Equal(d.count(t), int64(1)) // only the bystander's row is left
}

func TestWriteNonPositiveTTL(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	s := d.open(t, pgbackend.Options{})

	tests := []struct {
		name string
		ttl  time.Duration
	}{
		{name: "zero", ttl: 0},
		{name: "negative", ttl: -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			key := testkey.New()
			is.NoErr(s.Write(t.Context(), key, []byte("live"), time.Hour)) // a live record
			is.NoErr(s.Write(t.Context(), key, []byte("dead"), tt.ttl))    // expire it at once
			_, err := s.Read(t.Context(), key)
			is.True(errors.Is(err, backend.ErrNotFound))                           // gone for readers
			is.NoErr(s.Write(t.Context(), testkey.New(), []byte("never"), tt.ttl)) // on a new key: nothing to delete, no error
			is.Equal(d.count(t), int64(0))                                         // the row was deleted, and no row was created
		})
	}
}

// An expired row that the sweeper has not reached yet must never be served:
// the read itself compares expires_at with the clock.
func TestExpiredRowIsNeverReturned(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	clk := testclock.New()
	s := d.open(t, pgbackend.Options{Now: clk.Now})
	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("data"), time.Minute)) // expires in a minute

	clk.Add(time.Minute - time.Microsecond)
	got, err := s.Read(t.Context(), key)
	is.NoErr(err)                 // a microsecond before expiry the row is live
	is.Equal(string(got), "data") // with its data

	clk.Add(time.Microsecond)
	got, err = s.Read(t.Context(), key)
	is.True(errors.Is(err, backend.ErrNotFound)) // at the expiry instant it is gone
	is.Equal(got, nil)                           // and no data leaks
	is.Equal(d.count(t), int64(1))               // although the row is still in the table

	is.NoErr(s.Write(t.Context(), key, []byte("again"), time.Minute)) // a new write revives the key
	got, err = s.Read(t.Context(), key)
	is.NoErr(err)                  // live again
	is.Equal(string(got), "again") // with the new data
}

func TestCreateTableTwice(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	first := d.open(t, pgbackend.Options{})
	key := testkey.New()
	is.NoErr(first.Write(t.Context(), key, []byte("kept"), time.Hour)) // data before the second create

	second := d.open(t, pgbackend.Options{}) // CreateTable again on an existing table
	got, err := second.Read(t.Context(), key)
	is.NoErr(err)                 // the second create kept the table
	is.Equal(string(got), "kept") // and its rows
}

// Several processes that start together all create the table; none may fail.
// Without the advisory lock, concurrent CREATE TABLE IF NOT EXISTS can fail
// with a unique violation on pg_type.
func TestCreateTableConcurrently(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)

	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := pgbackend.New(context.Background(), d.pool,
				pgbackend.Options{Table: d.table, CreateTable: true, SweepInterval: -1})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range n {
		is.NoErr(<-errs) // every concurrent New succeeded
	}
	is.Equal(d.count(t), int64(0)) // the table exists and is empty
}

func TestSchemaQualifiedTable(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	s, err := pgbackend.New(t.Context(), d.pool, pgbackend.Options{
		Table:         "public." + d.table,
		CreateTable:   true,
		SweepInterval: -1,
	})
	is.NoErr(err) // New with schema.table
	defer s.Close()

	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("x"), time.Hour)) // write through public.<table>
	is.Equal(d.count(t), int64(1))                              // the row is in the same table as <table>
}

// TestNewRejectsBadArguments: New refuses a nil pool and bad options
// without touching the database, with an error that names the argument or
// field and says what to pass instead.
func TestNewRejectsBadArguments(t *testing.T) {
	is := is.New(t)
	pool := deadPool(t) // New must reject these without touching the database

	tests := []struct {
		name    string
		nilPool bool
		opts    pgbackend.Options
		want    string // the argument or field, and what to pass
		invalid bool   // wraps ErrInvalidOptions
	}{
		{name: "nil pool", nilPool: true, want: "pgbackend.New: pool is nil; pass the app's pgx pool"},
		{name: "space", opts: pgbackend.Options{Table: "my sessions"}, want: `Options.Table: "my sessions" is not a plain or schema-qualified SQL identifier`, invalid: true},
		{name: "leading digit", opts: pgbackend.Options{Table: "1sessions"}, want: "Options.Table", invalid: true},
		{name: "hyphen", opts: pgbackend.Options{Table: "my-sessions"}, want: "Options.Table", invalid: true},
		{name: "injection", opts: pgbackend.Options{Table: `x"; DROP TABLE users; --`}, want: "Options.Table", invalid: true},
		{name: "quoted", opts: pgbackend.Options{Table: `"sessions"`}, want: "Options.Table", invalid: true},
		{name: "three parts", opts: pgbackend.Options{Table: "db.app.sessions"}, want: "Options.Table", invalid: true},
		{name: "empty schema", opts: pgbackend.Options{Table: ".sessions"}, want: "Options.Table", invalid: true},
		{name: "empty table", opts: pgbackend.Options{Table: "app."}, want: "Options.Table", invalid: true},
		{name: "non-ascii", opts: pgbackend.Options{Table: "séssions"}, want: "Options.Table", invalid: true},
		{name: "64 bytes", opts: pgbackend.Options{Table: strings.Repeat("s", 64)}, want: `; pass a name such as "sessions" or "app.sessions", or leave it empty for "chisess_sessions"`, invalid: true},
		{name: "negative batch", opts: pgbackend.Options{SweepBatch: -1}, want: "Options.SweepBatch is -1, want zero (for the default) or more", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			p := pool
			if tt.nilPool {
				p = nil
			}
			s, err := pgbackend.New(t.Context(), p, tt.opts)
			is.True(err != nil)                                                                         // bad arguments are an error from New
			is.Equal(errors.Is(err, pgbackend.ErrInvalidOptions), tt.invalid)                           // of the documented kind for options
			is.True(strings.Contains(err.Error(), tt.want))                                             // naming the argument or field and what to pass
			is.True(strings.Contains(err.Error(), " pass ") || strings.Contains(err.Error(), " want ")) // every error says what to pass
			is.True(strings.HasPrefix(err.Error(), "chisess: "))                                        // with the package prefix
			is.True(s == nil)                                                                           // and no store
		})
	}
}

func TestNewAcceptsTableNames(t *testing.T) {
	is := is.New(t)
	pool := deadPool(t) // without CreateTable, New makes no database call

	for _, name := range []string{
		"", // DefaultTable
		"sessions",
		"Sessions",
		"_s$1",
		"app.sessions",
		strings.Repeat("s", 63),
		strings.Repeat("a", 63) + "." + strings.Repeat("s", 63),
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			s, err := pgbackend.New(t.Context(), pool, pgbackend.Options{Table: name, SweepInterval: -1})
			is.NoErr(err)       // a valid name is accepted
			is.NoErr(s.Close()) // and the store closes
		})
	}
}

func TestContextCanceled(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	s := d.open(t, pgbackend.Options{})
	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("x"), time.Hour)) // something to read

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{name: "Read", call: func() error { _, err := s.Read(ctx, key); return err }},
		{name: "Write", call: func() error { return s.Write(ctx, key, []byte("y"), time.Hour) }},
		{name: "Write ttl 0", call: func() error { return s.Write(ctx, key, nil, 0) }},
		{name: "Delete", call: func() error { return s.Delete(ctx, key) }},
		{name: "Sweep", call: func() error { _, err := s.Sweep(ctx); return err }},
		{name: "Swap", call: func() error { return swapped(s.Swap(ctx, key, []byte("x"), []byte("y"), time.Hour)) }},
		{name: "Swap delete", call: func() error { return swapped(s.Swap(ctx, key, []byte("x"), nil, 0)) }},
		{name: "Swap create", call: func() error { return swapped(s.Swap(ctx, testkey.New(), nil, []byte("y"), time.Hour)) }},
		{name: "Swap create of nothing", call: func() error { return swapped(s.Swap(ctx, testkey.New(), nil, nil, 0)) }},
		{name: "New", call: func() error {
			_, err := pgbackend.New(ctx, d.pool, pgbackend.Options{Table: d.table, CreateTable: true, SweepInterval: -1})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			err := tt.call()
			is.True(errors.Is(err, context.Canceled))                     // the context's error, for errors.Is
			is.True(!errors.Is(err, backend.ErrNotFound))                 // not mistaken for a missing session
			is.True(strings.HasPrefix(err.Error(), "chisess: postgres ")) // wrapped with what failed
		})
	}

	got, err := s.Read(t.Context(), key)
	is.NoErr(err)                  // nothing the cancelled calls did reached the table
	is.Equal(string(got), "x")     // the first write is intact
	is.Equal(d.count(t), int64(1)) // and no create added a row
}

// swapped turns Swap's results into one error for the tables of calls that
// must fail: a failed call that reports a swap is an error too.
func swapped(ok bool, err error) error {
	if ok {
		return fmt.Errorf("Swap reported a swap and the error %v", err)
	}
	return err
}

// A statement already running when its deadline passes returns the
// context's error at once instead of waiting. The Write waits on a row lock
// held by another transaction, so only the deadline can end it.
//
// The outcome of such a write is unknown, and the test says so: with pgx's
// default context handling the connection is dropped but the server keeps
// the statement, which completes once the lock is released (it did in most
// runs while this test was written).
func TestDeadlineInFlight(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	s := d.open(t, pgbackend.Options{})
	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("old"), time.Hour)) // the row to fight over

	tx, err := d.pool.Begin(t.Context())
	is.NoErr(err) // begin the blocking transaction
	defer tx.Rollback(context.Background())
	_, err = tx.Exec(t.Context(), "SELECT 1 FROM "+d.quoted()+" WHERE key = $1 FOR UPDATE", key)
	is.NoErr(err) // lock the row

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err = s.Write(ctx, key, []byte("new"), time.Hour)
	is.True(errors.Is(err, context.DeadlineExceeded))                    // the blocked upsert ends with the deadline
	is.True(strings.HasPrefix(err.Error(), "chisess: postgres write: ")) // wrapped with what failed

	is.NoErr(tx.Rollback(t.Context())) // release the lock
	got, err := s.Read(t.Context(), key)
	is.NoErr(err)                                         // the row is still there
	is.True(string(got) == "old" || string(got) == "new") // whole, with one write's data or the other's
}

// A database that cannot be reached is an error, never "no session": chisess
// would otherwise hand the user a fresh, empty session during an outage.
func TestOutage(t *testing.T) {
	is := is.New(t)
	s, err := pgbackend.New(t.Context(), deadPool(t), pgbackend.Options{SweepInterval: -1})
	is.NoErr(err) // without CreateTable, New needs no connection
	defer s.Close()

	tests := []struct {
		name string
		call func() error
	}{
		{name: "Read", call: func() error { _, err := s.Read(t.Context(), testkey.New()); return err }},
		{name: "Write", call: func() error { return s.Write(t.Context(), testkey.New(), []byte("x"), time.Hour) }},
		{name: "Delete", call: func() error { return s.Delete(t.Context(), testkey.New()) }},
		{name: "Sweep", call: func() error { _, err := s.Sweep(t.Context()); return err }},
		{name: "Swap", call: func() error { return swapped(s.Swap(t.Context(), testkey.New(), []byte("x"), []byte("y"), time.Hour)) }},
		{name: "Swap create", call: func() error { return swapped(s.Swap(t.Context(), testkey.New(), nil, []byte("y"), time.Hour)) }},
		{name: "New with CreateTable", call: func() error {
			_, err := pgbackend.New(t.Context(), deadPool(t), pgbackend.Options{CreateTable: true})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			err := tt.call()
			is.True(err != nil)                                           // an outage is an error
			is.True(!errors.Is(err, backend.ErrNotFound))                 // and not "no session"
			is.True(strings.HasPrefix(err.Error(), "chisess: postgres ")) // wrapped with what failed
		})
	}
}
