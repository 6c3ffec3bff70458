package boltbackend_test

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/internal/testclock"
	"github.com/chisess/kit/chisess/internal/testkey"
)

// ownersBucket is where the documented layout puts the owner index of the
// default bucket.
const ownersBucket = boltbackend.DefaultBucket + "_owners"

// TestIndexLayout checks the documented layout of the owner index: one key
// per pair in the bucket Bucket + "_owners", the owner's length as a
// uvarint, the owner and the session key, with the entry's end as 8
// big-endian bytes of Unix nanoseconds; and that nothing of it lands in the
// session bucket.
func TestIndexLayout(t *testing.T) {
	is := is.New(t)
	clk := testclock.New()
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{SweepInterval: -1, Now: clk.Now})
	ctx := t.Context()
	key := testkey.New()
	is.NoErr(s.Index(ctx, "ada", key, time.Hour)) // Index

	want := append([]byte{3}, "ada"+key...)
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(ownersBucket))
		is.True(b != nil)           // the index has its own bucket, named after the session bucket
		is.Equal(b.Stats().KeyN, 1) // one key for the pair
		v := b.Get(want)
		is.Equal(len(v), 8)                                                              // the value is the entry's end
		is.Equal(int64(binary.BigEndian.Uint64(v)), clk.Now().Add(time.Hour).UnixNano()) // Now plus ttl, in Unix nanoseconds
		return nil
	})
	is.NoErr(err)                                        // look at the file
	is.Equal(count(t, db, boltbackend.DefaultBucket), 0) // the session bucket is untouched

	s2 := newOn(t, db, boltbackend.Options{Bucket: "app_sessions", SweepInterval: -1})
	is.NoErr(s2.Index(ctx, "ada", testkey.New(), time.Hour)) // Index
	is.Equal(count(t, db, "app_sessions_owners"), 1)         // its index is named after its bucket
	is.Equal(count(t, db, ownersBucket), 1)                  // and apart from the other Store's
	owned, err := s2.Owned(ctx, "ada")
	is.NoErr(err)           // Owned
	is.Equal(len(owned), 1) // lists only its own Store's entry
}

// TestOwnersNeverOverlap indexes one key under each of a set of owners
// chosen to break a layout without the length in front: owners that are
// prefixes of each other, that start with what looks like a length, hold
// NUL bytes or invalid UTF-8, and whose lengths straddle the uvarint's one-
// and two-byte forms. Each must list exactly its own key.
func TestOwnersNeverOverlap(t *testing.T) {
	is := is.New(t)
	s := open(t, boltbackend.Options{})
	ctx := t.Context()
	owners := []string{
		"", "a", "ad", "ada", "\x01a", "\x03ada", "\x00", "\x00\x00", "a\x00b", "\xff\xfe",
		strings.Repeat("x", 127), strings.Repeat("x", 128), strings.Repeat("x", 300),
	}
	keys := make([]string, len(owners))
	for i, o := range owners {
		keys[i] = testkey.New()
		is.NoErr(s.Index(ctx, o, keys[i], time.Hour)) // Index
	}
	for i, o := range owners {
		got, err := s.Owned(ctx, o)
		is.NoErr(err)                    // Owned
		is.Equal(got, []string{keys[i]}) // each owner lists its own key, and only it
	}
}

// TestIndexExpiry moves the clock past an entry's end: Owned stops listing
// it at once, the entry stays in the file until a sweep, and Sweep then
// deletes it without counting it among the sessions it deleted.
func TestIndexExpiry(t *testing.T) {
	is := is.New(t)
	clk := testclock.New()
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{SweepInterval: -1, Now: clk.Now})
	ctx := t.Context()
	short, long := testkey.New(), testkey.New()
	is.NoErr(s.Write(ctx, short, []byte("short"), time.Minute)) // a session about to expire
	is.NoErr(s.Index(ctx, "ada", short, time.Minute))           // indexed as long
	is.NoErr(s.Index(ctx, "ada", long, time.Hour))              // and one indexed for an hour
	clk.Add(time.Minute)

	got, err := s.Owned(ctx, "ada")
	is.NoErr(err)                           // Owned
	is.Equal(got, []string{long})           // lists only the entry whose end has not passed
	is.Equal(count(t, db, ownersBucket), 2) // the expired entry waits for the sweeper

	n, err := s.Sweep(ctx)
	is.NoErr(err)                           // Sweep
	is.Equal(n, int64(1))                   // counts the one expired session, not the index entry
	is.Equal(count(t, db, ownersBucket), 1) // but deleted the expired entry too
	got, err = s.Owned(ctx, "ada")
	is.NoErr(err)                 // Owned after the sweep
	is.Equal(got, []string{long}) // still lists the live entry
}

// TestIndexWritesOnlyChanges checks, through bbolt's count of page writes,
// that an Index that would not move an entry's end and an Unindex of a
// missing entry roll back instead of committing, so they cost no write
// and no fsync, and that an Index that does move it writes.
func TestIndexWritesOnlyChanges(t *testing.T) {
	is := is.New(t)
	clk := testclock.New()
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{SweepInterval: -1, Now: clk.Now})
	ctx := t.Context()
	key := testkey.New()
	is.NoErr(s.Index(ctx, "ada", key, time.Hour)) // first Index

	writes := func() int64 { st := db.Stats(); return st.TxStats.GetWrite() }
	end := func() time.Time {
		var at time.Time
		err := db.View(func(tx *bbolt.Tx) error {
			v := tx.Bucket([]byte(ownersBucket)).Get(append([]byte{3}, "ada"+key...))
			at = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
			return nil
		})
		is.NoErr(err) // read the entry's end
		return at
	}
	first := end()

	steps := []struct {
		name      string
		call      func() error
		wantWrite bool
		wantEnd   time.Time
	}{
		{"Index with a shorter ttl", func() error { return s.Index(ctx, "ada", key, time.Minute) }, false, first},
		{"Index with the same end", func() error { return s.Index(ctx, "ada", key, time.Hour) }, false, first},
		{"Index with ttl 0", func() error { return s.Index(ctx, "ada", key, 0) }, false, first},
		{"Unindex of a missing pair", func() error { return s.Unindex(ctx, "bob", key) }, false, first},
		{"Index with a longer ttl", func() error { return s.Index(ctx, "ada", key, 2*time.Hour) }, true, first.Add(time.Hour)},
	}
	for _, st := range steps {
		before := writes()
		is.NoErr(st.call())                       // each call succeeds
		is.Equal(writes() > before, st.wantWrite) // and writes only when it changes something
		is.True(end().Equal(st.wantEnd))          // an entry's end only ever moves later
		t.Logf("%s: %d page writes", st.name, writes()-before)
	}
}

// TestIndexClosedStore checks that the index methods of a Store whose file
// is closed fail, rather than report an owner with no sessions.
func TestIndexClosedStore(t *testing.T) {
	is := is.New(t)
	s, err := boltbackend.Open(tempPath(t), boltbackend.Options{})
	is.NoErr(err)       // Open
	is.NoErr(s.Close()) // Close closes the file
	ctx := t.Context()

	calls := []struct {
		name string
		call func() error
	}{
		{"Index", func() error { return s.Index(ctx, "ada", testkey.New(), time.Hour) }},
		{"Unindex", func() error { return s.Unindex(ctx, "ada", testkey.New()) }},
		{"Owned", func() error { _, err := s.Owned(ctx, "ada"); return err }},
	}
	for _, c := range calls {
		err := c.call()
		is.True(errors.Is(err, bolterrors.ErrDatabaseNotOpen))                            // the call fails, saying the file is closed
		is.True(!errors.Is(err, backend.ErrNotFound))                                     // never "not found"
		is.True(strings.HasPrefix(err.Error(), "chisess: bolt "+strings.ToLower(c.name))) // and names the operation
	}
}

// TestIndexContextEndedWhileWaiting: an Index or Unindex whose context
// ends while it waits for the write lock changes nothing and returns the
// context's error.
func TestIndexContextEndedWhileWaiting(t *testing.T) {
	is := is.New(t)
	s := open(t, boltbackend.Options{})
	key, other := testkey.New(), testkey.New()
	is.NoErr(s.Index(t.Context(), "ada", key, time.Hour)) // an entry to leave alone
	late := func() context.Context {
		ctx, cancel := context.WithCancel(t.Context())
		return &endsAfterFirstLook{Context: ctx, cancel: cancel}
	}

	err := s.Index(late(), "ada", other, time.Hour)
	is.True(errors.Is(err, context.Canceled)) // Index gives the context's error
	err = s.Unindex(late(), "ada", key)
	is.True(errors.Is(err, context.Canceled)) // and so does Unindex
	keys, err := s.Owned(t.Context(), "ada")
	is.NoErr(err)
	is.Equal(keys, []string{key}) // neither changed the index
}

// TestIndexSurvivesRestart checks that the index is in the file: a Store
// opened again on it lists the owner's sessions.
func TestIndexSurvivesRestart(t *testing.T) {
	is := is.New(t)
	path := tempPath(t)
	s, err := boltbackend.Open(path, boltbackend.Options{})
	is.NoErr(err) // Open
	ctx := t.Context()
	keys := []string{testkey.New(), testkey.New()}
	for _, k := range keys {
		is.NoErr(s.Index(ctx, "ada", k, time.Hour)) // Index
	}
	is.NoErr(s.Close()) // Close

	s, err = boltbackend.Open(path, boltbackend.Options{})
	is.NoErr(err) // Open again
	t.Cleanup(func() {
		is.NoErr(s.Close()) // Close
	})
	got, err := s.Owned(ctx, "ada")
	is.NoErr(err) // Owned
	slices.Sort(got)
	slices.Sort(keys)
	is.Equal(got, keys) // both sessions are still listed
}
