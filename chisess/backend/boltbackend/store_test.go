package boltbackend_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

func TestRoundTrip(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name string
		data []byte
		want []byte
	}{
		{"short", []byte("hello"), []byte("hello")},
		{"empty", []byte{}, []byte{}},
		{"nil reads back empty", nil, []byte{}},
		{"binary with zero bytes", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff}},
		{"session-sized", bytes.Repeat([]byte("x"), 330), bytes.Repeat([]byte("x"), 330)},
	}
	s := open(t, boltbackend.Options{})
	ctx := t.Context()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			key := testkey.New()
			is.NoErr(s.Write(ctx, key, tt.data, time.Hour)) // write
			got, err := s.Read(ctx, key)
			is.NoErr(err)          // read what was written
			is.Equal(got, tt.want) // the same bytes come back
			is.True(got != nil)    // data is never a nil slice, so callers can tell it from a miss
		})
	}
	is.True(len(tests) > 0) // the table ran
}

func TestWriteReplaces(t *testing.T) {
	is := is.New(t)
	s := open(t, boltbackend.Options{})
	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("first, and longer"), time.Hour)) // first write
	is.NoErr(s.Write(t.Context(), key, []byte("second"), time.Hour))            // overwrite
	got, err := s.Read(t.Context(), key)
	is.NoErr(err)                   // read after overwrite
	is.Equal(string(got), "second") // the last write wins, with no tail of the first
}

func TestReadReturnsCopy(t *testing.T) {
	is := is.New(t)
	s := open(t, boltbackend.Options{})
	key := testkey.New()
	data := []byte("abc")
	is.NoErr(s.Write(t.Context(), key, data, time.Hour)) // write
	data[0] = 'X'                                        // the caller reuses its buffer
	got, err := s.Read(t.Context(), key)
	is.NoErr(err)                // first read
	is.Equal(string(got), "abc") // Write kept no reference to the caller's slice
	got[0] = 'Y'                 // the caller modifies what Read returned
	again, err := s.Read(t.Context(), key)
	is.NoErr(err)                  // second read
	is.Equal(string(again), "abc") // Read handed out a copy, not bbolt's memory
}

func TestReadNotFound(t *testing.T) {
	is := is.New(t)
	s := open(t, boltbackend.Options{})
	got, err := s.Read(t.Context(), testkey.New())
	is.True(errors.Is(err, backend.ErrNotFound)) // a key never written is not found
	is.Equal(got, nil)                           // and no data comes with the error
}

func TestDelete(t *testing.T) {
	is := is.New(t)
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{SweepInterval: -1})
	ctx := t.Context()
	key, other := testkey.New(), testkey.New()
	is.NoErr(s.Write(ctx, key, []byte("a"), time.Hour))   // write the key to delete
	is.NoErr(s.Write(ctx, other, []byte("b"), time.Hour)) // and one to keep

	is.NoErr(s.Delete(ctx, key)) // delete an existing key
	_, err := s.Read(ctx, key)
	is.True(errors.Is(err, backend.ErrNotFound))         // a deleted key is not found
	is.Equal(count(t, db, boltbackend.DefaultBucket), 1) // the record is gone from the file, not hidden
	got, err := s.Read(ctx, other)
	is.NoErr(err)              // the other key is untouched
	is.Equal(string(got), "b") // with its data

	is.NoErr(s.Delete(ctx, key))           // deleting it again is not an error
	is.NoErr(s.Delete(ctx, testkey.New())) // nor is deleting a key never written
}

func TestWriteNonPositiveTTL(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name string
		ttl  time.Duration
	}{
		{"zero", 0},
		{"negative", -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			db := openDB(t)
			s, err := boltbackend.New(db, boltbackend.Options{SweepInterval: -1})
			is.NoErr(err) // New
			ctx := t.Context()

			fresh := testkey.New()
			is.NoErr(s.Write(ctx, fresh, []byte("x"), tt.ttl)) // an already-expired write succeeds
			_, err = s.Read(ctx, fresh)
			is.True(errors.Is(err, backend.ErrNotFound)) // and leaves nothing to read

			existing := testkey.New()
			is.NoErr(s.Write(ctx, existing, []byte("x"), time.Hour)) // a live record
			is.NoErr(s.Write(ctx, existing, []byte("y"), tt.ttl))    // overwritten with an expired one
			_, err = s.Read(ctx, existing)
			is.True(errors.Is(err, backend.ErrNotFound)) // reads as gone

			is.Equal(count(t, db, boltbackend.DefaultBucket), 0) // neither write left a record in the file
			is.NoErr(s.Close())                                  // Close
		})
	}
	is.True(len(tests) > 0) // the table ran
}

// TestReadExpiredButUnswept moves the injected clock past a record's expiry
// with no sweeper running: the record is still in the file, and Read must not
// return it.
func TestReadExpiredButUnswept(t *testing.T) {
	is := is.New(t)
	clk := testclock.New()
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{SweepInterval: -1, Now: clk.Now})
	ctx := t.Context()
	key := testkey.New()
	is.NoErr(s.Write(ctx, key, []byte("data"), time.Minute)) // expires one minute from now

	clk.Add(time.Minute - time.Nanosecond)
	got, err := s.Read(ctx, key)
	is.NoErr(err)                 // one nanosecond before expiry the record is live
	is.Equal(string(got), "data") // with its data

	clk.Add(time.Nanosecond)
	_, err = s.Read(ctx, key)
	is.True(errors.Is(err, backend.ErrNotFound))         // at the expiry instant it is gone
	is.Equal(count(t, db, boltbackend.DefaultBucket), 1) // although it has not been swept

	clk.Add(time.Hour)
	_, err = s.Read(ctx, key)
	is.True(errors.Is(err, backend.ErrNotFound)) // and stays gone
}

func TestWriteHugeTTL(t *testing.T) {
	is := is.New(t)
	s := open(t, boltbackend.Options{})
	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("x"), time.Duration(1<<63-1))) // a ttl of about 292 years
	got, err := s.Read(t.Context(), key)
	is.NoErr(err)              // the expiry saturates instead of overflowing into the past
	is.Equal(string(got), "x") // the record is live
}

// TestSessionsSurviveRestart is the reason this backend exists (the issue
// asked for exactly this test): a session written before the Store is closed
// is read back by a new Store on the same file, with its expiry intact.
func TestSessionsSurviveRestart(t *testing.T) {
	is := is.New(t)
	path := tempPath(t)
	clk := testclock.New()
	ctx := t.Context()
	live, short, deleted := testkey.New(), testkey.New(), testkey.New()

	first, err := boltbackend.Open(path, boltbackend.Options{Now: clk.Now})
	is.NoErr(err)                                                   // first process opens the file
	is.NoErr(first.Write(ctx, live, []byte("user=42"), time.Hour))  // a session that outlives the restart
	is.NoErr(first.Write(ctx, short, []byte("brief"), time.Minute)) // one that expires while down
	is.NoErr(first.Write(ctx, deleted, []byte("gone"), time.Hour))  // one logged out before the restart
	is.NoErr(first.Delete(ctx, deleted))                            // logout
	is.NoErr(first.Close())                                         // the process stops

	clk.Add(2 * time.Minute) // downtime
	second, err := boltbackend.Open(path, boltbackend.Options{Now: clk.Now})
	is.NoErr(err) // the next process opens the same file
	t.Cleanup(func() {
		is.NoErr(second.Close()) // Close
	})
	got, err := second.Read(ctx, live)
	is.NoErr(err)                    // the session survived the restart
	is.Equal(string(got), "user=42") // with its data
	_, err = second.Read(ctx, short)
	is.True(errors.Is(err, backend.ErrNotFound)) // its expiry survived too
	_, err = second.Read(ctx, deleted)
	is.True(errors.Is(err, backend.ErrNotFound)) // and so did the logout
}

// TestOpenLockedFile opens a file a second time while a Store has it open.
// bbolt's lock is per open file, so two opens in one process behave like two
// processes. The second Open must give up after Options.Timeout with an
// error that says why, not hang.
func TestOpenLockedFile(t *testing.T) {
	is := is.New(t)
	path := tempPath(t)
	first, err := boltbackend.Open(path, boltbackend.Options{SweepInterval: -1})
	is.NoErr(err) // the first Open takes the lock
	t.Cleanup(func() {
		is.NoErr(first.Close()) // Close
	})

	start := time.Now()
	second, err := boltbackend.Open(path, boltbackend.Options{Timeout: 50 * time.Millisecond})
	elapsed := time.Since(start)
	is.True(err != nil)                                                         // the second Open fails
	is.Equal(second, nil)                                                       // and returns no Store
	is.True(errors.Is(err, bolterrors.ErrTimeout))                              // it wraps bbolt's lock timeout
	is.True(strings.Contains(err.Error(), "file is locked by another process")) // and says so in words
	is.True(strings.HasPrefix(err.Error(), "chisess: bolt open "+path+": "))    // naming the file
	is.True(elapsed < boltbackend.DefaultTimeout)                               // within Options.Timeout, not the one-second default

	got, err := first.Read(t.Context(), testkey.New())
	is.True(errors.Is(err, backend.ErrNotFound)) // the first Store still works
	is.Equal(got, nil)                           // and returns nothing for an unknown key
}

// TestOpenAndNewErrors: Open and New refuse bad arguments with an error
// that names the argument, field or file and says what to pass instead.
func TestOpenAndNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		call    func(t *testing.T) (*boltbackend.Store, error)
		want    []string // substrings of the error
		invalid bool     // wraps ErrInvalidOptions
	}{
		{"empty path", func(t *testing.T) (*boltbackend.Store, error) {
			return boltbackend.Open("", boltbackend.Options{})
		}, []string{"boltbackend.Open: path is empty; pass the path of the bbolt file to open or create"}, false},
		{"path is a directory", func(t *testing.T) (*boltbackend.Store, error) {
			dir := t.TempDir()
			return boltbackend.Open(dir, boltbackend.Options{})
		}, []string{"is a directory; pass the path of a file in it, such as ", "sessions.db"}, false},
		{"missing directory", func(t *testing.T) (*boltbackend.Store, error) {
			return boltbackend.Open(filepath.Join(t.TempDir(), "no", "such", "dir", "sessions.db"), boltbackend.Options{})
		}, []string{"chisess: bolt open ", "/no/such/dir does not exist; create it, or pass a path in a directory that exists"}, false},
		{"not a bbolt file", func(t *testing.T) (*boltbackend.Store, error) {
			p := tempPath(t)
			is.New(t).NoErr(os.WriteFile(p, bytes.Repeat([]byte("not bolt"), 1024), 0o600)) // write junk
			return boltbackend.Open(p, boltbackend.Options{})
		}, []string{"chisess: bolt open ", "the file is not a bbolt database; pass the path of a new file or of a bbolt file"}, false},
		{"negative Timeout", func(t *testing.T) (*boltbackend.Store, error) {
			return boltbackend.Open(tempPath(t), boltbackend.Options{Timeout: -time.Second})
		}, []string{"Options.Timeout is -1s, want zero (for the default of 1s) or more"}, true},
		{"negative SweepBatch", func(t *testing.T) (*boltbackend.Store, error) {
			return boltbackend.Open(tempPath(t), boltbackend.Options{SweepBatch: -1})
		}, []string{"Options.SweepBatch is -1, want zero (for the default of 1000) or more"}, true},
		{"New with a nil DB", func(t *testing.T) (*boltbackend.Store, error) {
			return boltbackend.New(nil, boltbackend.Options{})
		}, []string{"boltbackend.New: db is nil; pass an open *bbolt.DB, or call Open with the path of a file"}, false},
		{"New with a negative SweepBatch", func(t *testing.T) (*boltbackend.Store, error) {
			return boltbackend.New(openDB(t), boltbackend.Options{SweepBatch: -5})
		}, []string{"Options.SweepBatch is -5, want zero"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			s, err := tt.call(t)
			is.True(err != nil) // the call fails
			is.Equal(s, nil)    // with no Store
			for _, want := range tt.want {
				is.True(strings.Contains(err.Error(), want)) // and an error that names what is wrong and what to pass
			}
			is.True(strings.HasPrefix(err.Error(), "chisess: "))                // in the house format
			is.Equal(errors.Is(err, boltbackend.ErrInvalidOptions), tt.invalid) // a bad option, and only that, is ErrInvalidOptions
		})
	}
}

func TestNewReadOnlyDB(t *testing.T) {
	is := is.New(t)
	path := tempPath(t)
	db, err := bbolt.Open(path, 0o600, nil)
	is.NoErr(err)        // create the file
	is.NoErr(db.Close()) // and let it go
	ro, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	is.NoErr(err) // reopen it read-only
	t.Cleanup(func() {
		is.NoErr(ro.Close()) // Close
	})
	s, err := boltbackend.New(ro, boltbackend.Options{})
	is.Equal(s, nil)                                        // a session store needs to write
	is.True(errors.Is(err, bolterrors.ErrDatabaseReadOnly)) // and the error says why
}

func TestOpenFileMode(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name string
		mode os.FileMode
		want os.FileMode
	}{
		{"default is owner-only", 0, 0o600},
		{"custom", 0o640, 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			path := tempPath(t)
			s, err := boltbackend.Open(path, boltbackend.Options{FileMode: tt.mode, SweepInterval: -1})
			is.NoErr(err)       // Open
			is.NoErr(s.Close()) // Close
			fi, err := os.Stat(path)
			is.NoErr(err)                       // the file exists
			is.Equal(fi.Mode().Perm(), tt.want) // with the permission asked for
		})
	}
	is.True(len(tests) > 0) // the table ran
}

func TestBucketOption(t *testing.T) {
	is := is.New(t)
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{Bucket: "app_sessions", SweepInterval: -1})
	is.NoErr(s.Write(t.Context(), testkey.New(), []byte("x"), time.Hour)) // write
	is.Equal(count(t, db, "app_sessions"), 1)                             // the record is in the named bucket
	is.Equal(count(t, db, boltbackend.DefaultBucket), 0)                  // and not in the default one
}

// TestNewLeavesDBOpen checks that a Store over the app's DB does not close
// it, and keeps working after its own Close, as documented.
func TestNewLeavesDBOpen(t *testing.T) {
	is := is.New(t)
	db := openDB(t)
	s, err := boltbackend.New(db, boltbackend.Options{})
	is.NoErr(err) // New starts a sweeper on the app's DB
	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("x"), time.Hour)) // write before Close
	is.NoErr(s.Close())                                         // Close stops the sweeper

	err = db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte("app_data"))
		return err
	})
	is.NoErr(err) // the app's DB is still open for the app
	got, err := s.Read(t.Context(), key)
	is.NoErr(err)              // and the Store still reads it
	is.Equal(string(got), "x") // the record written before Close
}

// TestClosedStoreFails checks that a Store whose file Close has closed
// reports errors, never ErrNotFound: chisess would otherwise start fresh
// sessions and silently log everyone out.
func TestClosedStoreFails(t *testing.T) {
	is := is.New(t)
	s, err := boltbackend.Open(tempPath(t), boltbackend.Options{})
	is.NoErr(err) // Open
	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("x"), time.Hour)) // write
	is.NoErr(s.Close())                                         // Close closes the file

	_, err = s.Read(t.Context(), key)
	is.True(err != nil)                                               // Read fails
	is.True(!errors.Is(err, backend.ErrNotFound))                     // with an error, not "not found"
	is.True(errors.Is(err, bolterrors.ErrDatabaseNotOpen))            // that says the file is closed
	is.True(s.Write(t.Context(), key, []byte("y"), time.Hour) != nil) // Write fails
	is.True(s.Delete(t.Context(), key) != nil)                        // Delete fails
	_, err = s.Sweep(t.Context())
	is.True(err != nil) // Sweep fails
	ok, err := s.Swap(t.Context(), key, []byte("x"), []byte("y"), time.Hour)
	is.True(err != nil)                                    // Swap fails
	is.True(!ok)                                           // without swapping
	is.True(errors.Is(err, bolterrors.ErrDatabaseNotOpen)) // and says the file is closed
}

// TestMalformedRecord puts a value this package never writes (shorter than
// the 8-byte expiry) under a key: Read reports an error instead of returning
// it as a session or calling it not found, and Sweep leaves it alone.
func TestMalformedRecord(t *testing.T) {
	is := is.New(t)
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{SweepInterval: -1})
	key := testkey.New()
	err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(boltbackend.DefaultBucket)).Put([]byte(key), []byte("abc"))
	})
	is.NoErr(err) // plant a 3-byte value

	_, err = s.Read(t.Context(), key)
	is.True(err != nil)                                        // Read fails
	is.True(!errors.Is(err, backend.ErrNotFound))              // rather than hiding the value
	is.True(strings.Contains(err.Error(), "malformed record")) // and says what is wrong
	n, err := s.Sweep(t.Context())
	is.NoErr(err)                                                // Sweep
	is.Equal(n, int64(0))                                        // deletes nothing it did not write
	is.Equal(count(t, db, boltbackend.DefaultBucket), 1)         // the value is still there
	is.NoErr(s.Write(t.Context(), key, []byte("ok"), time.Hour)) // a Write replaces it
	got, err := s.Read(t.Context(), key)
	is.NoErr(err)               // and the key reads normally again
	is.Equal(string(got), "ok") // with the new data
}

func TestContextCancelled(t *testing.T) {
	is := is.New(t)
	tests := []struct {
		name string
		call func(ctx context.Context, s *boltbackend.Store, key string) error
	}{
		{"Read", func(ctx context.Context, s *boltbackend.Store, key string) error {
			_, err := s.Read(ctx, key)
			return err
		}},
		{"Write", func(ctx context.Context, s *boltbackend.Store, key string) error {
			return s.Write(ctx, key, []byte("new"), time.Hour)
		}},
		{"Write with ttl 0", func(ctx context.Context, s *boltbackend.Store, key string) error {
			return s.Write(ctx, key, nil, 0)
		}},
		{"Delete", func(ctx context.Context, s *boltbackend.Store, key string) error {
			return s.Delete(ctx, key)
		}},
		{"Sweep", func(ctx context.Context, s *boltbackend.Store, key string) error {
			_, err := s.Sweep(ctx)
			return err
		}},
		// The record has expired when these run, so without the context
		// the create would replace it and the delete would remove it.
		{"Swap create", func(ctx context.Context, s *boltbackend.Store, key string) error {
			ok, err := s.Swap(ctx, key, nil, []byte("new"), time.Hour)
			if ok {
				return errors.New("Swap reported a swap with a cancelled context")
			}
			return err
		}},
		{"Swap create of nothing", func(ctx context.Context, s *boltbackend.Store, key string) error {
			ok, err := s.Swap(ctx, key, nil, nil, 0)
			if ok {
				return errors.New("Swap reported a swap with a cancelled context")
			}
			return err
		}},
	}
	for _, tt := range tests {
		for _, late := range []bool{false, true} {
			name := tt.name
			if late {
				if tt.name == "Read" {
					continue // a read never waits for the write lock
				}
				// The context ends after the call's first look at it,
				// as it does while the call waits for bbolt's write
				// lock behind other writers: the transaction must look
				// again once it holds the lock, or it writes for a
				// request that has already given up.
				name += ", ended while waiting"
			}
			t.Run(name, func(t *testing.T) {
				is := is.New(t)
				clk := testclock.New()
				s := open(t, boltbackend.Options{Now: clk.Now})
				key := testkey.New()
				is.NoErr(s.Write(t.Context(), key, []byte("old"), time.Minute)) // a record to leave alone
				clk.Add(2 * time.Minute)                                        // past its expiry, so a sweep would delete it

				ctx, cancel := context.WithCancel(t.Context())
				if late {
					ctx = &endsAfterFirstLook{Context: ctx, cancel: cancel}
				} else {
					cancel()
				}
				err := tt.call(ctx, s, key)
				is.True(errors.Is(err, context.Canceled))                 // the context's error, wrapped
				is.True(strings.HasPrefix(err.Error(), "chisess: bolt ")) // in the house format

				clk.Add(-2 * time.Minute) // back to when the record was live
				got, err := s.Read(t.Context(), key)
				is.NoErr(err)                // the record is still there
				is.Equal(string(got), "old") // unchanged: the cancelled call did nothing
			})
		}
	}
	is.True(len(tests) > 0) // the table ran
}

// endsAfterFirstLook is a context whose Err is nil the first time it is
// asked, after which it cancels: a context that ends while the call that
// checked it waits.
type endsAfterFirstLook struct {
	context.Context
	cancel context.CancelFunc
	looked atomic.Bool
}

func (c *endsAfterFirstLook) Err() error {
	if !c.looked.Swap(true) {
		return nil
	}
	c.cancel()
	return c.Context.Err()
}

// TestRecordLayout pins the file format: files outlive the binary that wrote
// them, so a new version must read what an old one wrote. A record is the
// expiry as 8 big-endian bytes of Unix nanoseconds, then the data.
func TestRecordLayout(t *testing.T) {
	is := is.New(t)
	clk := testclock.New()
	db := openDB(t)
	s := newOn(t, db, boltbackend.Options{SweepInterval: -1, Now: clk.Now})
	key := testkey.New()
	is.NoErr(s.Write(t.Context(), key, []byte("data"), time.Hour)) // write through the Store

	var raw []byte
	err := db.View(func(tx *bbolt.Tx) error {
		raw = bytes.Clone(tx.Bucket([]byte(boltbackend.DefaultBucket)).Get([]byte(key)))
		return nil
	})
	is.NoErr(err) // read the raw value
	want := binary.BigEndian.AppendUint64(nil, uint64(clk.Now().Add(time.Hour).UnixNano()))
	is.Equal(raw, append(want, "data"...)) // expiry header, then the data as given

	plant(t, db, 1, clk.Now().Add(time.Hour))
	is.Equal(count(t, db, boltbackend.DefaultBucket), 2) // a record planted in the same layout
	var planted string
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(boltbackend.DefaultBucket)).ForEach(func(k, _ []byte) error {
			if string(k) != key {
				planted = string(k)
			}
			return nil
		})
	})
	is.NoErr(err) // find the planted key
	got, err := s.Read(t.Context(), planted)
	is.NoErr(err)                    // the Store reads a record it did not write
	is.Equal(string(got), "planted") // and returns its data
}
