package boltbackend

import (
	"context"
	"fmt"

	"github.com/chisess/kit/chisess/backend"
)

var (
	_ backend.Counter = (*Store)(nil)
	_ backend.Sweeper = (*Store)(nil)
)

// Count implements [backend.Counter]: it returns how many records of the
// bucket are live at [Options.Now], leaving out expired ones the sweeper
// has not deleted yet and the owner index. Like [Store.Sweep], it walks the
// bucket in read transactions of at most 10,000 keys, so it never holds one
// open for long; records written or deleted in between may or may not be
// counted. It checks ctx before each transaction and wraps its errors as
// "chisess: bolt count: ...".
func (s *Store) Count(ctx context.Context) (int64, error) {
	now := s.now().UnixNano()
	var total int64
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("chisess: bolt count: %w", err)
		}
		n, last, err := s.countLive(after, now)
		total += n
		if err != nil {
			return total, fmt.Errorf("chisess: bolt count: %w", err)
		}
		if last == nil {
			return total, nil
		}
		after = last
	}
}

// countLive counts, in one read transaction, the live records among at
// most sweepScan keys of the bucket that sort after the key after; last is
// as for [Store.scan].
func (s *Store) countLive(after []byte, now int64) (n int64, last []byte, err error) {
	last, err = s.scan(s.bucket, after, func(_, v []byte) bool {
		if len(v) >= headerLen && !expired(v, now) {
			n++
		}
		return true
	})
	return n, last, err
}
