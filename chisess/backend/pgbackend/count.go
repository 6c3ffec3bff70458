package pgbackend

import (
	"context"
	"fmt"

	"github.com/chisess/kit/chisess/backend"
)

var (
	_ backend.Counter = (*Store)(nil)
	_ backend.Sweeper = (*Store)(nil)
)

// Count implements [backend.Counter] with one SELECT count(*) of the rows
// whose expiry is after [Options.Now], so rows the sweeper has not deleted
// yet are left out. PostgreSQL counts by scanning the table or its
// expires_at index: call it from admin tools, not on every request.
// Failures are wrapped as "chisess: postgres count: ...".
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, s.countSQL, s.now()).Scan(&n); err != nil {
		return 0, fmt.Errorf("chisess: postgres count: %w", err)
	}
	return n, nil
}
