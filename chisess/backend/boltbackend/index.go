package boltbackend

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/chisess/kit/chisess/backend"
)

var _ backend.Indexer = (*Store)(nil)

// ownersSuffix names the bucket of the owner index after the session
// bucket: "chisess_sessions_owners" by default.
const ownersSuffix = "_owners"

// ownerPrefix returns the start of every index key of owner: the length of
// owner as a uvarint, then owner. The length makes the prefixes of two
// owners disjoint, so a cursor over one owner's prefix never reaches the
// entries of an owner whose name merely starts the same ("ad" and "ada").
func ownerPrefix(owner string) []byte {
	p := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(owner)+43), uint64(len(owner)))
	return append(p, owner...)
}

// Index implements [backend.Indexer]: it records that the session under key
// belongs to owner until [Options.Now] plus ttl, or keeps the entry's
// later end if it has one, in one write transaction (synced like a Write
// unless [Options.NoSync]; an entry that already lasts long enough costs
// no write and no fsync). A ttl of zero or less records nothing.
//
// The index is a second bucket, [Options.Bucket] + "_owners", created on
// the first Index. Each entry is one key, the owner's length as a uvarint,
// the owner and the session key, whose value is the entry's end as 8
// big-endian bytes of Unix nanoseconds, as in a session record. Any owner
// string works, NUL bytes and invalid UTF-8 included.
//
// Failures, the context's included, are wrapped as "chisess: bolt index:
// ...".
func (s *Store) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("chisess: bolt index: %w", err)
	}
	if ttl <= 0 {
		return nil
	}
	v := record(s.now().UnixNano(), ttl, nil)
	end := binary.BigEndian.Uint64(v)
	k := append(ownerPrefix(owner), key...)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(s.ownersBucket())
		if err != nil {
			return err
		}
		if cur := b.Get(k); len(cur) >= headerLen && binary.BigEndian.Uint64(cur) >= end {
			return errRollback // already lasts as long: no write, no fsync
		}
		return b.Put(k, v)
	})
	if err != nil && !errors.Is(err, errRollback) {
		return fmt.Errorf("chisess: bolt index: %w", err)
	}
	return nil
}

// Unindex implements [backend.Indexer]: it deletes the pair's entry in one
// write transaction. A missing entry is not an error and costs no write.
// Failures, the context's included, are wrapped as "chisess: bolt unindex:
// ...".
func (s *Store) Unindex(ctx context.Context, owner, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("chisess: bolt unindex: %w", err)
	}
	k := append(ownerPrefix(owner), key...)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(s.ownersBucket())
		if b == nil || b.Get(k) == nil {
			return errRollback // nothing to delete: no write, no fsync
		}
		return b.Delete(k)
	})
	if err != nil && !errors.Is(err, errRollback) {
		return fmt.Errorf("chisess: bolt unindex: %w", err)
	}
	return nil
}

// Owned implements [backend.Indexer]: it returns the keys of owner's
// entries whose end has not passed by [Options.Now], in one read
// transaction that never waits for writers. It seeks a cursor to the
// owner's prefix and walks only that owner's entries, so its cost grows
// with the owner's sessions, never with the whole store. Entries past
// their end are left for [Store.Sweep]. Failures, the context's included,
// are wrapped as "chisess: bolt owned: ...".
func (s *Store) Owned(ctx context.Context, owner string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("chisess: bolt owned: %w", err)
	}
	now := s.now().UnixNano()
	prefix := ownerPrefix(owner)
	var keys []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(s.ownersBucket())
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(v) >= headerLen && !expired(v, now) {
				keys = append(keys, string(k[len(prefix):])) // string copies out of the memory map
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chisess: bolt owned: %w", err)
	}
	return keys, nil
}

func (s *Store) ownersBucket() []byte {
	return append(bytes.Clone(s.bucket), ownersSuffix...)
}
