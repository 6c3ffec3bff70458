package boltbackend_test

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/matryer/is"
	"go.etcd.io/bbolt"

	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/internal/testkey"
)

// tempPath returns the path of a file that does not exist yet, in a
// directory removed when the test ends.
func tempPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "sessions.db")
}

// open returns a Store on a fresh file, closed when the test ends. Unless
// the test sets them, no sweeper runs and writes skip fsync, which these
// tests do not need (TestSessionsSurviveRestart keeps it).
func open(t testing.TB, opts boltbackend.Options) *boltbackend.Store {
	t.Helper()
	is := is.New(t)
	is.Helper()
	if opts.SweepInterval == 0 {
		opts.SweepInterval = -1
	}
	opts.NoSync = true
	s, err := boltbackend.Open(tempPath(t), opts)
	is.NoErr(err) // boltbackend.Open on a fresh file
	t.Cleanup(func() {
		is.NoErr(s.Close()) // Close closes the file
	})
	return s
}

// openDB returns a bbolt DB on a fresh file, owned by the test and closed
// when it ends, for New and for looking at the file behind a Store's back.
func openDB(t testing.TB) *bbolt.DB {
	t.Helper()
	is := is.New(t)
	is.Helper()
	db, err := bbolt.Open(tempPath(t), 0o600, &bbolt.Options{NoSync: true})
	is.NoErr(err) // bbolt.Open on a fresh file
	t.Cleanup(func() {
		is.NoErr(db.Close()) // the test's own DB closes
	})
	return db
}

// newOn returns a Store on db with opts as given, closed, and checked to
// close cleanly, when t ends (before db, which openDB made earlier).
func newOn(t testing.TB, db *bbolt.DB, opts boltbackend.Options) *boltbackend.Store {
	t.Helper()
	is := is.New(t)
	is.Helper()
	s, err := boltbackend.New(db, opts)
	is.NoErr(err) // boltbackend.New
	t.Cleanup(func() {
		is.NoErr(s.Close()) // Close
	})
	return s
}

// count reports how many keys bucket holds in db, expired ones included.
func count(t testing.TB, db *bbolt.DB, bucket string) int {
	t.Helper()
	is := is.New(t)
	is.Helper()
	n := 0
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		n = b.Stats().KeyN
		return nil
	})
	is.NoErr(err) // count keys in the bucket
	return n
}

// plant puts n records under random keys straight into the default bucket
// of db, in one transaction, in the layout the Store writes: the expiry as 8
// big-endian bytes of Unix nanoseconds, then the data.
func plant(t testing.TB, db *bbolt.DB, n int, expires time.Time) {
	t.Helper()
	is := is.New(t)
	is.Helper()
	err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(boltbackend.DefaultBucket))
		if err != nil {
			return err
		}
		for range n {
			v := binary.BigEndian.AppendUint64(nil, uint64(expires.UnixNano()))
			if err := b.Put([]byte(testkey.New()), append(v, "planted"...)); err != nil {
				return err
			}
		}
		return nil
	})
	is.NoErr(err) // plant records
}
