package boltbackend_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"go.etcd.io/bbolt"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testkey"
)

// TestSwapExpiry checks that a swap sets the record's expiry to Now plus
// its ttl, counted from the swap, not from the record it replaced.
func TestSwapExpiry(t *testing.T) {
	is := is.New(t)
	clk := testclock.New()
	s := open(t, boltbackend.Options{Now: clk.Now})
	ctx := t.Context()
	key := testkey.New()
	is.NoErr(s.Write(ctx, key, []byte("a"), time.Minute)) // expires in a minute

	clk.Add(30 * time.Second)
	ok, err := s.Swap(ctx, key, []byte("a"), []byte("b"), time.Minute)
	is.NoErr(err) // Swap half-way through the first minute
	is.True(ok)   // swapped

	clk.Add(time.Minute - time.Nanosecond)
	got, err := s.Read(ctx, key)
	is.NoErr(err)              // a nanosecond before the swap's minute ends
	is.Equal(string(got), "b") // the record is live
	clk.Add(time.Nanosecond)
	_, err = s.Read(ctx, key)
	is.True(errors.Is(err, backend.ErrNotFound)) // and at that instant it is gone

	ok, err = s.Swap(ctx, key, nil, []byte("c"), time.Duration(1<<63-1))
	is.NoErr(err) // a create with a ttl of about 292 years
	is.True(ok)   // over the expired record
	clk.Add(100 * 365 * 24 * time.Hour)
	got, err = s.Read(ctx, key)
	is.NoErr(err)              // the expiry saturates instead of overflowing into the past
	is.Equal(string(got), "c") // the record is live a century later
}

// TestSwapMalformedRecord: a value this package never writes is an error
// for Swap, as for Read, and is left alone.
func TestSwapMalformedRecord(t *testing.T) {
	is := is.New(t)
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{SweepInterval: -1})
	key := testkey.New()
	err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(boltbackend.DefaultBucket)).Put([]byte(key), []byte("abc"))
	})
	is.NoErr(err) // plant a 3-byte value

	for _, old := range [][]byte{nil, []byte("abc"), []byte("")} {
		ok, err := s.Swap(t.Context(), key, old, []byte("new"), time.Hour)
		is.True(err != nil)                                             // Swap fails
		is.True(!ok)                                                    // without swapping
		is.True(!errors.Is(err, backend.ErrNotFound))                   // rather than hiding the value
		is.True(strings.HasPrefix(err.Error(), "chisess: bolt swap: ")) // in the house format
	}
	is.Equal(count(t, db, boltbackend.DefaultBucket), 1) // the value is still there
}

// TestSwapMissingBucket: a swap creates the bucket when someone dropped it,
// as Write does, and a swap that needs the record finds none.
func TestSwapMissingBucket(t *testing.T) {
	is := is.New(t)
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{SweepInterval: -1})
	err := db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte(boltbackend.DefaultBucket)) })
	is.NoErr(err) // someone drops the bucket behind the Store's back

	key := testkey.New()
	ok, err := s.Swap(t.Context(), key, []byte("a"), []byte("b"), time.Hour)
	is.NoErr(err) // a swap on the missing bucket
	is.True(!ok)  // finds no record
	ok, err = s.Swap(t.Context(), key, []byte("a"), nil, 0)
	is.NoErr(err) // nor does a delete
	is.True(!ok)  // which reports no swap
	ok, err = s.Swap(t.Context(), key, nil, []byte("b"), time.Hour)
	is.NoErr(err) // a create
	is.True(ok)   // succeeds
	got, err := s.Read(t.Context(), key)
	is.NoErr(err)              // and the record reads back
	is.Equal(string(got), "b") // with its data
}
