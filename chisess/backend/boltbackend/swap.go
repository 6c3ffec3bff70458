package boltbackend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Swap implements [backend.Swapper]: it replaces the record under key with
// data, to expire at [Options.Now] plus ttl, only if the record is live and
// its data is byte for byte equal to old, and reports whether it did.
// chisess uses it to merge the changes of concurrent requests on one
// session without losing any, and to keep a slow request from bringing back
// a session that another request destroyed or renewed.
//
// When old is nil the swap is a create: it succeeds only if no live record
// is under key (an expired record the sweeper has not reached yet counts as
// absent and is replaced). When data is nil, or ttl is zero or less, a
// successful swap deletes the record.
//
// The read, the comparison and the change are one bbolt write transaction,
// and bbolt runs one write transaction at a time, so nothing can change the
// record in between. A swap that changes the file is synced to disk before
// Swap returns, as a Write is (unless [Options.NoSync]); a swap that does
// not match, or has nothing to change, rolls its transaction back and costs
// no fsync.
//
// Swap returns false and a nil error when the record differs, is absent or
// has expired, and never creates, changes or deletes such a record. A stored
// value too short to hold an expiry, which this package never writes, is an
// error, as it is for Read. Failures, the context's included, are wrapped as
// "chisess: bolt swap: ...".
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("chisess: bolt swap: %w", err)
	}
	now := s.now().UnixNano()
	remove := data == nil || ttl <= 0
	var v []byte // the new record, built outside the write lock
	if !remove {
		v = record(now, ttl, data)
	}
	k := []byte(key)
	swapped := false
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		swapped = false // in case bbolt ever retries the function
		b := tx.Bucket(s.bucket)
		var cur []byte
		if b != nil {
			cur = b.Get(k)
		}
		if cur != nil && len(cur) < headerLen {
			return fmt.Errorf("malformed record of %d bytes, shorter than its %d-byte expiry", len(cur), headerLen)
		}
		live := cur != nil && !expired(cur, now)
		switch {
		case old == nil && live, old != nil && !live, old != nil && !bytes.Equal(cur[headerLen:], old):
			return errRollback
		}
		swapped = true
		if remove {
			if cur == nil {
				return errRollback // nothing to delete: no write, no fsync
			}
			return b.Delete(k)
		}
		if b == nil {
			var err error
			if b, err = tx.CreateBucket(s.bucket); err != nil {
				return err
			}
		}
		return b.Put(k, v)
	})
	if err != nil && !errors.Is(err, errRollback) {
		return false, fmt.Errorf("chisess: bolt swap: %w", err)
	}
	return swapped, nil
}

// errRollback ends a write transaction of Swap that has nothing to write:
// bbolt rolls back a transaction whose function returns an error, where a
// commit, even of no change, would write a meta page and fsync.
var errRollback = errors.New("rollback")
