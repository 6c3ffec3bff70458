package pgbackend

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Swap implements [backend.Swapper]: it replaces the row under key with
// data, to expire at [Options.Now] plus ttl, only if the row is live and its
// data is byte for byte equal to old, and reports whether it did. chisess
// uses it to merge the changes of concurrent requests on one session
// without losing any, and to keep a slow request from bringing back a
// session that another request destroyed or renewed.
//
// Every case is one statement, atomic on its own, with no transaction
// around it:
//
//   - old and data set, ttl positive: an UPDATE whose WHERE clause compares
//     the key, the data and the expiry;
//   - old set, data nil or ttl zero or less: a DELETE with the same WHERE
//     clause;
//   - old nil (create only if absent): an INSERT ... ON CONFLICT DO UPDATE
//     that replaces an existing row only if it has expired, so an expired
//     row the sweeper has not reached yet counts as absent and a live row
//     is never touched;
//   - old nil, data nil or ttl zero or less: nothing to create, so a SELECT
//     reports whether the key is free.
//
// Under PostgreSQL's default READ COMMITTED isolation, an UPDATE or DELETE
// that waits for another transaction's lock on the row checks its WHERE
// clause again against the row that transaction committed, so of two
// requests that swap from the same old data, exactly one succeeds.
//
// The data comparison is an equality test of two bytea values, done on the
// row the primary key finds: a session record is small (a few hundred
// bytes), so it costs about as much as comparing a version number would.
//
// Swap returns false and a nil error when the row differs, is absent or has
// expired, and never creates, changes or deletes such a row. Any failure,
// the context's included, is wrapped as "chisess: postgres swap: ...". As
// with [Store.Write], an error does not prove that nothing was changed: the
// server may finish a statement whose context ended while it ran.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	now := s.now()
	remove := data == nil || ttl <= 0
	var (
		tag pgconn.CommandTag
		err error
	)
	switch {
	case old == nil && remove:
		var free bool
		if err := s.pool.QueryRow(ctx, s.absentSQL, key, now).Scan(&free); err != nil {
			return false, fmt.Errorf("chisess: postgres swap: %w", err)
		}
		return free, nil
	case old == nil:
		tag, err = s.pool.Exec(ctx, s.createSQL, key, data, now.Add(ttl), now)
	case remove:
		tag, err = s.pool.Exec(ctx, s.swapDeleteSQL, key, old, now)
	default:
		tag, err = s.pool.Exec(ctx, s.swapSQL, key, old, now, data, now.Add(ttl))
	}
	if err != nil {
		return false, fmt.Errorf("chisess: postgres swap: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
