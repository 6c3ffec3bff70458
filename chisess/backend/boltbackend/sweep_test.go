package boltbackend_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"
	"go.etcd.io/bbolt"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testkey"
)

// TestSweepRemovesOnlyExpired fills a file with expired and live records
// under random keys, so they interleave, moves the clock, and sweeps. More
// expired records than one batch holds make Sweep resume its scan after
// each batch. The last row adds more live records than one read transaction
// scans, planted straight into the file in one transaction (see
// TestRecordLayout) because 10,000 Writes would take seconds.
func TestSweepRemovesOnlyExpired(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name          string
		batch         int // Options.SweepBatch
		expired, live int
		filler        int // live records planted in the file
	}{
		{"2500 expired and 10 live in batches of 1000", 0, 2500, 10, 0},
		{"batches of one", 1, 30, 10, 0},
		{"batches that divide the expired count", 50, 200, 10, 0},
		{"nothing expired", 0, 0, 10, 0},
		{"everything expired", 0, 1200, 0, 0},
		{"more keys than one scan", 0, 300, 10, 10_500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			clk := testclock.New()
			db := openDB(t)
			s := newOn(t, db, boltbackend.Options{SweepInterval: -1, SweepBatch: tt.batch, Now: clk.Now})
			ctx := t.Context()
			live := make([]string, tt.live)
			for i := range live {
				live[i] = testkey.New()
				is.NoErr(s.Write(ctx, live[i], fmt.Appendf(nil, "live %d", i), time.Hour)) // a live record
			}
			for range tt.expired {
				is.NoErr(s.Write(ctx, testkey.New(), []byte("expired"), time.Minute)) // a record about to expire
			}
			plant(t, db, tt.filler, clk.Now().Add(time.Hour))
			clk.Add(time.Minute)

			n, err := s.Sweep(ctx)
			is.NoErr(err)                                                        // Sweep
			is.Equal(n, int64(tt.expired))                                       // it deleted every expired record
			is.Equal(count(t, db, boltbackend.DefaultBucket), tt.live+tt.filler) // and only those
			for i, key := range live {
				got, err := s.Read(ctx, key)
				is.NoErr(err)                                    // every live record is still readable
				is.Equal(string(got), fmt.Sprintf("live %d", i)) // with its own data
			}
			n, err = s.Sweep(ctx)
			is.NoErr(err)         // a second Sweep
			is.Equal(n, int64(0)) // finds nothing left to delete
		})
	}
	is.True(len(tests) > 0) // the table ran
}

func TestSweepEmptyOrMissingBucket(t *testing.T) {
	is := is.New(t)
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{SweepInterval: -1})
	n, err := s.Sweep(t.Context())
	is.NoErr(err)         // sweeping an empty bucket works
	is.Equal(n, int64(0)) // and deletes nothing

	err = db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte(boltbackend.DefaultBucket)) })
	is.NoErr(err) // someone drops the bucket behind the Store's back
	n, err = s.Sweep(t.Context())
	is.NoErr(err)         // Sweep still works
	is.Equal(n, int64(0)) // with nothing to do
	_, err = s.Read(t.Context(), testkey.New())
	is.True(errors.Is(err, backend.ErrNotFound)) // Read reports a missing key
	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("x"), time.Hour)) // Write creates the bucket again
	got, err := s.Read(t.Context(), key)
	is.NoErr(err)              // and the record reads back
	is.Equal(string(got), "x") // with its data
}

// TestSweeper runs the background sweeper on synctest's fake clock: time
// passes only when every goroutine in the bubble is blocked, so the test
// waits through sweep intervals without sleeping for real. The Store uses
// the default Options.Now, which is the bubble's clock.
func TestSweeper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		db := openDB(t)
		s, err := boltbackend.New(db, boltbackend.Options{SweepInterval: time.Minute})
		is.NoErr(err) // New starts the sweeper
		ctx := t.Context()
		short, long := testkey.New(), testkey.New()
		is.NoErr(s.Write(ctx, short, []byte("short"), 30*time.Second)) // expires before the first sweep
		is.NoErr(s.Write(ctx, long, []byte("long"), 90*time.Second))   // expires between the first and second

		time.Sleep(time.Minute) // fake time: the first sweep is due
		synctest.Wait()
		is.Equal(count(t, db, boltbackend.DefaultBucket), 1) // the first sweep deleted the expired record
		got, err := s.Read(ctx, long)
		is.NoErr(err)                 // the live one is left
		is.Equal(string(got), "long") // with its data

		time.Sleep(time.Minute)
		synctest.Wait()
		is.Equal(count(t, db, boltbackend.DefaultBucket), 0) // the second sweep deleted the other one

		is.NoErr(s.Close())                                             // Close stops the sweeper and waits for it
		is.NoErr(s.Write(ctx, testkey.New(), []byte("x"), time.Second)) // the Store still writes to the app's DB
		time.Sleep(10 * time.Minute)                                    // ten intervals pass
		synctest.Wait()
		is.Equal(count(t, db, boltbackend.DefaultBucket), 1) // and no sweeper deleted the expired record
		// synctest.Test fails if a goroutine of the bubble is still blocked
		// when this function returns, so a sweeper that outlived Close
		// would fail the test here.
	})
}

func TestCloseIdempotent(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name string
		open func(t *testing.T) *boltbackend.Store
	}{
		{"Open", func(t *testing.T) *boltbackend.Store {
			s, err := boltbackend.Open(tempPath(t), boltbackend.Options{NoSync: true})
			is.New(t).NoErr(err) // Open with the default sweeper
			return s
		}},
		{"New", func(t *testing.T) *boltbackend.Store {
			s, err := boltbackend.New(openDB(t), boltbackend.Options{})
			is.New(t).NoErr(err) // New with the default sweeper
			return s
		}},
		{"no sweeper", func(t *testing.T) *boltbackend.Store {
			s, err := boltbackend.Open(tempPath(t), boltbackend.Options{NoSync: true, SweepInterval: -1})
			is.New(t).NoErr(err) // Open with no sweeper
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			s := tt.open(t)
			is.NoErr(s.Close()) // the first Close
			is.NoErr(s.Close()) // a second Close is safe and reports success again

			s = tt.open(t)
			errs := make(chan error, 4)
			var wg sync.WaitGroup
			for range cap(errs) {
				wg.Go(func() { errs <- s.Close() })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				is.NoErr(err) // concurrent Closes all return once the Store is closed
			}
		})
	}
	is.True(len(tests) > 0) // the table ran
}
