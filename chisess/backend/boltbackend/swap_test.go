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
)

// swapCases is every case of the Swapper contract: what is stored before
// the swap, the swap's arguments, what it reports, and what is left.
var swapCases = []struct {
	name   string
	stored []byte // written with a one-minute TTL before the swap; nil writes nothing
	expire bool   // move the clock past the stored record's expiry, without sweeping
	old    []byte
	data   []byte
	ttl    time.Duration
	want   bool   // what Swap reports
	after  []byte // what Read returns after the swap; nil means ErrNotFound
	keys   int    // records left in the file, expired ones included
}{
	{name: "match replaces", stored: []byte("a"), old: []byte("a"), data: []byte("b"), ttl: time.Hour, want: true, after: []byte("b"), keys: 1},
	{name: "mismatch leaves it", stored: []byte("a"), old: []byte("x"), data: []byte("b"), ttl: time.Hour, after: []byte("a"), keys: 1},
	{name: "old is a prefix of the record", stored: []byte("abc"), old: []byte("ab"), data: []byte("b"), ttl: time.Hour, after: []byte("abc"), keys: 1},
	{name: "record is a prefix of old", stored: []byte("ab"), old: []byte("abc"), data: []byte("b"), ttl: time.Hour, after: []byte("ab"), keys: 1},
	{name: "empty record matches empty old", stored: []byte{}, old: []byte{}, data: []byte("b"), ttl: time.Hour, want: true, after: []byte("b"), keys: 1},
	{name: "empty old does not match a record", stored: []byte("a"), old: []byte{}, data: []byte("b"), ttl: time.Hour, after: []byte("a"), keys: 1},
	{name: "swap to empty data", stored: []byte("a"), old: []byte("a"), data: []byte{}, ttl: time.Hour, want: true, after: []byte{}, keys: 1},
	{name: "missing with old is not created", old: []byte("a"), data: []byte("b"), ttl: time.Hour},
	{name: "expired unswept with matching old is not revived", stored: []byte("a"), expire: true, old: []byte("a"), data: []byte("b"), ttl: time.Hour, keys: 1},
	{name: "create on absent", data: []byte("b"), ttl: time.Hour, want: true, after: []byte("b"), keys: 1},
	{name: "create on live", stored: []byte("a"), data: []byte("b"), ttl: time.Hour, after: []byte("a"), keys: 1},
	{name: "create on live empty record", stored: []byte{}, data: []byte("b"), ttl: time.Hour, after: []byte{}, keys: 1},
	{name: "create over expired unswept", stored: []byte("a"), expire: true, data: []byte("b"), ttl: time.Hour, want: true, after: []byte("b"), keys: 1},
	{name: "create of nothing on absent", data: nil, ttl: time.Hour, want: true},
	{name: "create of nothing on live", stored: []byte("a"), data: nil, ttl: time.Hour, after: []byte("a"), keys: 1},
	{name: "delete if match", stored: []byte("a"), old: []byte("a"), data: nil, ttl: time.Hour, want: true},
	{name: "delete mismatch", stored: []byte("a"), old: []byte("x"), data: nil, ttl: time.Hour, after: []byte("a"), keys: 1},
	{name: "delete missing", old: []byte("a"), data: nil, ttl: time.Hour},
	{name: "delete expired unswept", stored: []byte("a"), expire: true, old: []byte("a"), data: nil, ttl: time.Hour, keys: 1},
	{name: "ttl 0 with match deletes", stored: []byte("a"), old: []byte("a"), data: []byte("b"), ttl: 0, want: true},
	{name: "negative ttl with match deletes", stored: []byte("a"), old: []byte("a"), data: []byte("b"), ttl: -time.Second, want: true},
	{name: "ttl 0 mismatch leaves it", stored: []byte("a"), old: []byte("x"), data: []byte("b"), ttl: 0, after: []byte("a"), keys: 1},
	{name: "ttl 0 create on absent stores nothing", data: []byte("b"), ttl: 0, want: true},
	{name: "ttl 0 create on live", stored: []byte("a"), data: []byte("b"), ttl: 0, after: []byte("a"), keys: 1},
}

func TestSwap(t *testing.T) {
	is := is.New(t)
	for _, tt := range swapCases {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			clk := newClock()
			db := openDB(t)
			s, err := boltbackend.New(db, boltbackend.Options{SweepInterval: -1, Now: clk.Now})
			is.NoErr(err) // New
			t.Cleanup(func() {
				is.NoErr(s.Close()) // Close
			})
			ctx := t.Context()
			key, other := newKey(), newKey()
			is.NoErr(s.Write(ctx, other, []byte("bystander"), 2*time.Hour)) // another session, never touched
			if tt.stored != nil {
				is.NoErr(s.Write(ctx, key, tt.stored, time.Minute)) // the record the swap meets
			}
			if tt.expire {
				clk.Add(time.Minute) // expired at this instant, still in the file
			}

			ok, err := s.Swap(ctx, key, tt.old, tt.data, tt.ttl)
			is.NoErr(err)         // Swap
			is.Equal(ok, tt.want) // reports whether it swapped

			got, err := s.Read(ctx, key)
			if tt.after == nil {
				is.True(errors.Is(err, backend.ErrNotFound)) // no live record is left
			} else {
				is.NoErr(err)             // a live record is left
				is.Equal(got, tt.after)   // with the expected data
				is.True(got != nil)       // never nil, even when empty
				clk.Add(30 * time.Minute) // past the stored record's minute, within a swap's hour
				_, err = s.Read(ctx, key)
				is.Equal(err == nil, tt.want) // a swapped record has the swap's TTL; an unswapped one keeps its own
			}
			is.Equal(count(t, db, boltbackend.DefaultBucket), tt.keys+1) // what is left in the file, the bystander included
			got, err = s.Read(ctx, other)
			is.NoErr(err)                      // the bystander
			is.Equal(string(got), "bystander") // is untouched
		})
	}
	is.True(len(swapCases) > 0) // the table ran
}

// TestSwapExpiry checks that a swap sets the record's expiry to Now plus
// its ttl, counted from the swap, not from the record it replaced.
func TestSwapExpiry(t *testing.T) {
	is := is.New(t)
	clk := newClock()
	s := open(t, boltbackend.Options{Now: clk.Now})
	ctx := t.Context()
	key := newKey()
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
	s, err := boltbackend.New(db, boltbackend.Options{SweepInterval: -1})
	is.NoErr(err) // New
	t.Cleanup(func() {
		is.NoErr(s.Close()) // Close
	})
	key := newKey()
	err = db.Update(func(tx *bbolt.Tx) error {
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
	s, err := boltbackend.New(db, boltbackend.Options{SweepInterval: -1})
	is.NoErr(err) // New
	t.Cleanup(func() {
		is.NoErr(s.Close()) // Close
	})
	err = db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte(boltbackend.DefaultBucket)) })
	is.NoErr(err) // someone drops the bucket behind the Store's back

	key := newKey()
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
