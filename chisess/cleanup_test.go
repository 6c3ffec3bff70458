package chisess_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/matryer/is"
)

// lateSwapBackend is a sessiontest.Backend whose next Swap, once armed,
// is carried out but answered only after the caller's deadline: a Redis
// command that ran but whose reply arrived late (or any backend whose
// write landed before the context ended). The caller sees the context's
// error, though the swap took effect.
type lateSwapBackend struct {
	*sessiontest.Backend
	armed atomic.Bool
}

func (b *lateSwapBackend) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	if !b.armed.CompareAndSwap(true, false) {
		return b.Backend.Swap(ctx, key, old, data, ttl)
	}
	if _, err := b.Backend.Swap(context.WithoutCancel(ctx), key, old, data, ttl); err != nil {
		return false, err
	}
	<-ctx.Done()
	return false, ctx.Err()
}

// A periodic renewal whose retire (the swap of the old record for its
// forward record) lands but reports the context's error. The forward
// record under the old token leads to the new copy, so the renewal
// stands, as one that succeeded. An independent review found the
// clean-up deleting the copy, once it had a Config.Timeout of its own, so
// the client's next request found no session.
func TestAmbiguousRetireDoesNotLoseTheSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		b := &lateSwapBackend{Backend: sessiontest.NewBackend()}
		m := newManager(t, chisess.Config{Backend: b, RenewEvery: time.Minute})
		c := newClient(t, m, reviewRouter(t, m))
		c.do("GET", "/") // visits 1
		time.Sleep(2 * time.Minute)
		b.armed.Store(true)
		c.do("GET", "/read")                              // periodic renewal; the retire lands, its reply is late
		is.Equal(c.do("GET", "/read").Body.String(), "1") // the client still reaches its session
	})
}

// A commit whose owner-index call fails by using up Config.Timeout ends
// the session it stored with one more Config.Timeout of its own (see
// reindex): with both slow, the request takes twice Config.Timeout, no
// more, as Config.Timeout's doc says.
func TestCommitWithSlowIndexAndCleanUpTakesTwoTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		b := sessiontest.NewBackend()
		m := newManager(t, chisess.Config{Backend: b})
		c := newClient(t, m, reviewRouter(t, m))
		c.do("GET", "/")
		g := b.Hold("index")
		go func() {
			<-g.Reached()
			b.Hold("read") // the clean-up's read is slow too
		}()
		start := time.Now()
		rec := c.do("POST", "/own?owner=ada")
		is.True(rec.Code >= 500)
		is.Equal(time.Since(start), 2*chisess.DefaultTimeout) // the index call's Timeout, then the clean-up's
	})
}

// The same with an owned session: whether the renewal that stands gets
// its owner-index entry or is ended, no session of the owner outlives
// "log out everywhere" once the old token's forward record has expired.
func TestAmbiguousRetireOfAnOwnedSessionStaysInReach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		b := &lateSwapBackend{Backend: sessiontest.NewBackend()}
		m := newManager(t, chisess.Config{Backend: b, RenewEvery: time.Minute})
		c := newClient(t, m, reviewRouter(t, m))
		c.do("GET", "/")
		is.Equal(c.do("POST", "/own?owner=ada").Code, http.StatusOK) // indexed under ada
		time.Sleep(2 * time.Minute)
		b.armed.Store(true)
		c.do("GET", "/read")                                // periodic renewal; the retire lands, its reply is late
		c.do("GET", "/read")                                // the client goes on with what it holds
		time.Sleep(chisess.DefaultRenewGrace + time.Second) // the old token's forward record expires
		_, err := m.DestroyOwner(context.Background(), "ada", nil)
		is.NoErr(err)
		s, err := m.Inspect(context.Background(), c.cookie)
		if err == nil {
			is.True(s.Owner() != "ada") // no session of ada's outlives "log out everywhere"
		}
	})
}
