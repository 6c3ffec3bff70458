package boltbackend

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/bbolt"
)

// sweepScan is the most keys one read transaction of a sweep examines.
// Long read transactions do not block writers, but they keep bbolt from
// reusing freed pages and from growing its memory map, so a sweep of a large
// bucket is split into many short ones.
const sweepScan = 10_000

// Sweep deletes every record whose expiry has passed by [Options.Now] and
// returns how many it deleted, as an int64 like pgbackend's Sweep, so code
// that sweeps either store reads the count the same way. It walks the
// bucket in read transactions of at most 10,000 keys and deletes what they
// found in write transactions of at most [Options.SweepBatch] keys,
// checking each record's expiry again under the write lock, so a session
// rewritten in between is kept. Values too short to be a record, which the
// Store never writes, are left alone. Sweep then deletes the expired entries
// of the owner index ([Store.Index]) the same way; they are not counted in
// the number it returns.
//
// Sweep checks ctx before each transaction and stops at the first error, the
// context's included, returning the records deleted so far with an error
// wrapped as "chisess: bolt sweep: ...".
//
// The sweeper started by [Open] and [New] calls Sweep on its interval; most
// apps never call it. Call it from tests, or from a cron job or the app
// itself when [Options.SweepInterval] is negative.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	now := s.now().UnixNano()
	n, err := s.sweepBucket(ctx, s.bucket, now)
	if err != nil {
		return n, fmt.Errorf("chisess: bolt sweep: %w", err)
	}
	if _, err := s.sweepBucket(ctx, s.ownersBucket(), now); err != nil {
		return n, fmt.Errorf("chisess: bolt sweep: owner index: %w", err)
	}
	return n, nil
}

// sweepBucket deletes every value of bucket whose expiry has passed by now
// and returns how many it deleted.
func (s *Store) sweepBucket(ctx context.Context, bucket []byte, now int64) (int64, error) {
	var total int64
	var after []byte // last key examined; nil before the first scan
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		keys, last, err := s.scanExpired(bucket, after, now)
		if err != nil {
			return total, err
		}
		if len(keys) > 0 {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			n, err := s.deleteExpired(bucket, keys, now)
			total += n
			if err != nil {
				return total, err
			}
		}
		if last == nil {
			return total, nil
		}
		after = last
	}
}

// scanExpired collects, in one read transaction, up to s.batch keys of
// expired values in bucket that sort after the key after (from the first
// key when after is nil), examining at most sweepScan keys. last is a copy
// of the last key it examined, or nil when it reached the end of the
// bucket.
func (s *Store) scanExpired(bucket, after []byte, now int64) (keys [][]byte, last []byte, err error) {
	last, err = s.scan(bucket, after, func(k, v []byte) bool {
		// v is nil for a nested bucket, which the Store never makes.
		if len(v) >= headerLen && expired(v, now) {
			keys = append(keys, bytes.Clone(k))
		}
		return len(keys) < s.batch
	})
	return keys, last, err
}

// scan calls visit, in one read transaction, with the keys and values of
// bucket that sort after the key after (from the first key when after is
// nil), until visit returns false or it has examined sweepScan keys. It
// returns a copy of the last key it examined, or nil when it reached the
// end of the bucket. A missing bucket has no keys.
func (s *Store) scan(bucket, after []byte, visit func(k, v []byte) (more bool)) (last []byte, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var k, v []byte
		if after == nil {
			k, v = c.First()
		} else if k, v = c.Seek(after); bytes.Equal(k, after) {
			k, v = c.Next()
		}
		for scanned := 0; k != nil; k, v = c.Next() {
			more := visit(k, v)
			if scanned++; scanned == sweepScan || !more {
				last = bytes.Clone(k)
				return nil
			}
		}
		return nil
	})
	return last, err
}

// deleteExpired deletes, in one write transaction, those of keys whose
// values in bucket are still expired at now, and reports how many it
// deleted.
func (s *Store) deleteExpired(bucket []byte, keys [][]byte, now int64) (int64, error) {
	var n int64
	err := s.db.Update(func(tx *bbolt.Tx) error {
		n = 0 // in case bbolt ever retries the function
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		for _, k := range keys {
			v := b.Get(k)
			if len(v) < headerLen || !expired(v, now) {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
