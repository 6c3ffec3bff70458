package chisess_test

import (
	"context"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/matryer/is"
)

// the Observer's wrapper hides backend.Counter and backend.Sweeper
// from chisess's own calls, but Manager.Backend returns the backend as
// configured, so admin tools (chisessctl count, sweep) and otelchisess's
// CacheReporter still find them; chisess itself never calls them.
func TestObserverKeepsCounterThroughBackend(t *testing.T) {
	is := is.New(t)
	mem := backend.NewMemory()
	t.Cleanup(func() { mem.Close() })
	m, err := chisess.New(chisess.Config{Backend: mem, Observer: &observerLog{}})
	is.NoErr(err)
	ct, ok := m.Backend().(backend.Counter)
	is.True(ok)
	_, err = m.Issue(context.Background(), map[string]any{"a": 1})
	is.NoErr(err)
	n, err := ct.Count(context.Background())
	is.NoErr(err)
	is.Equal(n, int64(1))
}
