package pgbackend_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/chisess/kit/chisess/internal/testkey"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/matryer/is"
)

// insertExpired adds n rows that expired a minute before at.
func (d testDB) insertExpired(t testing.TB, n int, at time.Time) {
	t.Helper()
	d.insertExpiredIn(t, d.pool, n, at)
}

// insertExpiredIn is insertExpired through q, such as a transaction.
func (d testDB) insertExpiredIn(t testing.TB, q interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}, n int, at time.Time) {
	t.Helper()
	is := is.New(t)
	is.Helper()
	_, err := q.Exec(context.Background(), `INSERT INTO `+d.quoted()+` (key, data, expires_at)
		SELECT 'expired-' || i, '\x00'::bytea, $1 FROM generate_series(1, $2) AS i`,
		at.Add(-time.Minute), n)
	is.NoErr(err) // insert expired rows
}

func TestSweep(t *testing.T) {
	is := is.New(t)
	t.Parallel()

	tests := []struct {
		name    string
		expired int
		batch   int
	}{
		{name: "several batches and a short one", expired: 2500, batch: 1000},
		{name: "exactly one full batch", expired: 1000, batch: 1000},
		{name: "nothing expired", expired: 0, batch: 1000},
		{name: "default batch", expired: 1500, batch: 0},
		{name: "batch of one", expired: 5, batch: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			t.Parallel()
			d := newTestDB(t)
			clk := testclock.New()
			s := d.open(t, pgbackend.Options{Now: clk.Now, SweepBatch: tt.batch})
			d.insertExpired(t, tt.expired, clk.Now())
			var live []string
			for range 10 {
				key := testkey.New()
				is.NoErr(s.Write(t.Context(), key, []byte("live"), time.Hour)) // a live session
				live = append(live, key)
			}

			n, err := s.Sweep(t.Context())
			is.NoErr(err)                   // sweep
			is.Equal(n, int64(tt.expired))  // every expired row, more than one LIMITed statement can delete
			is.Equal(d.count(t), int64(10)) // only the live rows are left
			for _, key := range live {
				got, err := s.Read(t.Context(), key)
				is.NoErr(err)                 // each live session survives the sweep
				is.Equal(string(got), "live") // with its data
			}

			n, err = s.Sweep(t.Context())
			is.NoErr(err)         // a second sweep
			is.Equal(n, int64(0)) // finds nothing left to delete
		})
	}
}

// A row expires at expires_at itself: Read stops returning it at that
// instant, and Sweep deletes it from that instant too.
func TestSweepBoundary(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	clk := testclock.New()
	s := d.open(t, pgbackend.Options{Now: clk.Now})
	is.NoErr(s.Write(t.Context(), testkey.New(), []byte("x"), time.Minute)) // expires in a minute

	clk.Add(time.Minute - time.Microsecond)
	n, err := s.Sweep(t.Context())
	is.NoErr(err)         // sweep just before expiry
	is.Equal(n, int64(0)) // leaves the live row alone

	clk.Add(time.Microsecond)
	n, err = s.Sweep(t.Context())
	is.NoErr(err)                  // sweep at the expiry instant
	is.Equal(n, int64(1))          // deletes the row
	is.Equal(d.count(t), int64(0)) // the table is empty
}

// The sweeper started by New deletes expired rows on its own, and Close
// stops it and waits for it: Close interrupts a sweep that waits on the
// server, and after Close returns no sweep starts.
//
// The interrupted sweep's statement is not stopped on the server: pgx
// gives up on the connection, but the server runs the statement once the
// table is free, after Close has returned. It deletes only rows that had
// expired when that sweep started, so the rows added after Close expire
// later than that on the test's clock: a sweep starting after Close would
// delete them, the interrupted one cannot. The test holds the table so
// that this happens on every run. It used to happen only under load, with
// rows added after Close that had expired at the old time: the late
// statement deleted them, and the count was 0 instead of 3.
func TestCloseStopsSweeper(t *testing.T) {
	is := is.New(t)
	t.Parallel()
	d := newTestDB(t)
	clk := testclock.New()
	d.open(t, pgbackend.Options{}) // create the table, no sweeper
	d.insertExpired(t, 3, clk.Now())

	// The sweeper calls Now once at the start of every sweep, and nothing
	// else here calls it, so each tick below is one sweep starting.
	ticks := make(chan struct{}, 1)
	now := func() time.Time {
		select {
		case ticks <- struct{}{}:
		default:
		}
		return clk.Now()
	}
	// A pool of one connection: every sweep runs on the connection where
	// the first one prepared the statement, so the interrupted one has sent
	// all of it to the server, and the server runs it later.
	s, err := pgbackend.New(t.Context(), pgPoolWith(t, func(c *pgxpool.Config) { c.MaxConns = 1 }), pgbackend.Options{
		Table:         d.table,
		SweepInterval: time.Millisecond,
		Now:           now,
	})
	is.NoErr(err) // New with a fast sweeper

	// A sweep starting after another one started means the earlier one
	// finished: they run one at a time on one goroutine.
	for range 2 {
		select {
		case <-ticks:
		case <-time.After(10 * time.Second):
			t.Fatal("the sweeper did not run within 10s")
		}
	}
	is.Equal(d.count(t), int64(0)) // the sweeper deleted the expired rows

	ctx := context.Background()
	tx, err := d.pool.Begin(ctx)
	is.NoErr(err)                           // begin the transaction that holds the table
	defer func() { _ = tx.Rollback(ctx) }() // after Commit, a no-op
	_, err = tx.Exec(ctx, "LOCK TABLE "+d.quoted()+" IN ACCESS EXCLUSIVE MODE")
	is.NoErr(err) // hold the table
	testenv.Await(t, 10*time.Second, "a sweep waiting for the table", func() bool { _, waiting := d.sweepsOnServer(t); return waiting > 0 })

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		is.NoErr(err) // Close interrupts the waiting sweep
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s while a sweep waited for the table")
	}
	select {
	case <-ticks: // a sweep that started before Close
	default:
	}
	clk.Add(time.Hour)
	d.insertExpiredIn(t, tx, 3, clk.Now())
	is.NoErr(tx.Commit(ctx)) // free the table: the interrupted statement runs now
	is.NoErr(s.Close())      // a second Close is harmless
	testenv.Await(t, 10*time.Second, "the interrupted sweep's statement to end", func() bool { running, _ := d.sweepsOnServer(t); return running == 0 })

	select {
	case <-ticks:
		t.Fatal("a sweep started after Close returned")
	default:
	}
	is.Equal(d.count(t), int64(3)) // nothing swept the rows added after Close

	key := testkey.New()
	is.NoErr(s.Write(context.Background(), key, []byte("still works"), time.Hour)) // the Store works after Close
	got, err := s.Read(context.Background(), key)
	is.NoErr(err)                        // read after Close
	is.Equal(string(got), "still works") // the pool was not closed
}

func TestCloseWithoutSweeper(t *testing.T) {
	is := is.New(t)
	s, err := pgbackend.New(t.Context(), deadPool(t), pgbackend.Options{SweepInterval: -1})
	is.NoErr(err)       // no sweeper
	is.NoErr(s.Close()) // Close returns at once
	is.NoErr(s.Close()) // and again
}

func TestCloseDefaultSweeper(t *testing.T) {
	is := is.New(t)
	s, err := pgbackend.New(t.Context(), deadPool(t), pgbackend.Options{})
	is.NoErr(err)       // default five-minute sweeper, not yet run
	is.NoErr(s.Close()) // Close stops it without waiting for a tick
	is.NoErr(s.Close()) // and again
}

// A failing background sweep is logged through Options.Logger, as an error
// that names the table, and the sweeper keeps going.
func TestSweeperLogsErrors(t *testing.T) {
	is := is.New(t)
	records := make(chan slog.Record, 1)
	s, err := pgbackend.New(t.Context(), deadPool(t), pgbackend.Options{
		Table:         "app.sessions",
		SweepInterval: time.Millisecond,
		Logger:        slog.New(chanHandler(records)),
	})
	is.NoErr(err) // New needs no connection

	var got []slog.Record
	for range 2 {
		select {
		case r := <-records:
			got = append(got, r)
		case <-time.After(10 * time.Second):
			t.Fatal("the sweeper logged nothing within 10s")
		}
	}
	is.NoErr(s.Close()) // stop the sweeper

	for _, r := range got {
		is.Equal(r.Level, slog.LevelError)                    // a failed sweep is an error
		is.Equal(r.Message, "chisess: postgres sweep failed") // saying what failed
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		is.Equal(attrs["table"], "app.sessions") // which table
		is.True(attrs["err"] != "")              // and why
	}
}

// chanHandler sends every record to a channel, dropping it when the
// channel is full.
type chanHandler chan slog.Record

func (h chanHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chanHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h chanHandler) WithGroup(string) slog.Handler            { return h }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r.Clone():
	default:
	}
	return nil
}
