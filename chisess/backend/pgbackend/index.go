package pgbackend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/chisess/kit/chisess/backend"
)

var _ backend.Indexer = (*Store)(nil)

// ErrInvalidOwner is returned by [Store.Index] for an owner that a text
// column cannot hold: one that is not valid UTF-8 or holds a NUL byte.
// User IDs, e-mail addresses and UUIDs are all fine.
var ErrInvalidOwner = errors.New("chisess: postgres: owner is not valid UTF-8 without NUL bytes")

// validOwner reports whether owner fits in a PostgreSQL text value.
func validOwner(owner string) bool {
	return utf8.ValidString(owner) && !strings.Contains(owner, "\x00")
}

// Index implements [backend.Indexer] with one UPDATE that sets the owner
// column of the session's row. chisess indexes a session right after it
// writes the row, so the row is there; Index of a key with no row changes
// nothing and is not an error. Indexing the owner a row already has writes
// nothing.
//
// The entry lasts exactly as long as the row, so ttl is not stored:
// [Store.Owned] lists a key while its row is live (its expires_at, which
// every Write and Swap moves, has not passed), [Store.Write] and
// [Store.Swap] keep the owner when they replace a row's data, and Delete,
// expiry and the sweeper remove the entry with the row. A row has one owner: indexing a key under
// a second owner moves it there, which is all chisess needs, since a
// session has one owner at a time. A ttl of zero or less records nothing.
//
// An owner that is not valid UTF-8 or holds a NUL byte is an error
// wrapping [ErrInvalidOwner]. Other failures, the context's included, are
// wrapped as "chisess: postgres index: ...". Index needs the owner column;
// see [SchemaSQL] to add it to a table created without it.
func (s *Store) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("chisess: postgres index: %w", err)
	}
	if !validOwner(owner) {
		return fmt.Errorf("chisess: postgres index: %w", ErrInvalidOwner)
	}
	if ttl <= 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, s.indexSQL, key, owner); err != nil {
		return fmt.Errorf("chisess: postgres index: %w", err)
	}
	return nil
}

// Unindex implements [backend.Indexer] with one UPDATE that clears the
// owner column of the session's row if it holds owner. A missing row, or a
// row with another owner or none, is not an error and changes nothing.
// Failures, the context's included, are wrapped as "chisess: postgres
// unindex: ...".
func (s *Store) Unindex(ctx context.Context, owner, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("chisess: postgres unindex: %w", err)
	}
	if !validOwner(owner) {
		return nil // no row can hold it
	}
	if _, err := s.pool.Exec(ctx, s.unindexSQL, key, owner); err != nil {
		return fmt.Errorf("chisess: postgres unindex: %w", err)
	}
	return nil
}

// Owned implements [backend.Indexer] with one SELECT of the keys of the
// live rows whose owner column holds owner, by [Options.Now]. The partial
// index on owner (see [SchemaSQL]) finds them without reading any other
// row, so its cost grows with the owner's sessions, never with the table.
// An owner with no sessions, or one that Index would refuse, has none.
// Failures, the context's included, are wrapped as "chisess: postgres
// owned: ...".
func (s *Store) Owned(ctx context.Context, owner string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("chisess: postgres owned: %w", err)
	}
	if !validOwner(owner) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, s.ownedSQL, owner, s.now())
	if err != nil {
		return nil, fmt.Errorf("chisess: postgres owned: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("chisess: postgres owned: %w", err)
	}
	return keys, nil
}
