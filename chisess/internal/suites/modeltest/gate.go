package modeltest

import (
	"context"
	"fmt"
	"time"

	"github.com/chisess/kit/chisess/backend"
)

// gated wraps the backend of a run so that every call a request makes
// parks at a gate until the scheduler lets it go. Calls whose context
// carries no request (the checker's own Inspect calls) go straight through.
//
// The wrapper has exactly the optional powers of the backend it wraps
// (backend.Swapper, backend.Indexer), because chisess picks its commit path
// by type assertion.
type gated struct {
	inner backend.Backend
	s     *scheduler
}

var (
	_ backend.Backend = (*gated)(nil)
	_ backend.Swapper = gatedSwapper{}
	_ backend.Indexer = gatedIndexer{}
	_ backend.Swapper = gatedBoth{}
	_ backend.Indexer = gatedBoth{}
)

type (
	gatedSwapper struct{ *gated }
	gatedIndexer struct{ *gated }
	gatedBoth    struct{ gatedIndexer }
)

func (g gatedSwapper) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	return g.swap(ctx, key, old, data, ttl)
}

func (g gatedBoth) Swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	return g.swap(ctx, key, old, data, ttl)
}

func (g gatedIndexer) Index(ctx context.Context, owner, key string, ttl time.Duration) error {
	return g.index(ctx, owner, key, ttl)
}

func (g gatedIndexer) Unindex(ctx context.Context, owner, key string) error {
	return g.unindex(ctx, owner, key)
}

func (g gatedIndexer) Owned(ctx context.Context, owner string) ([]string, error) {
	return g.owned(ctx, owner)
}

// gate wraps inner for scheduler s.
func gate(inner backend.Backend, s *scheduler) backend.Backend {
	g := &gated{inner: inner, s: s}
	_, sw := inner.(backend.Swapper)
	_, ix := inner.(backend.Indexer)
	switch {
	case sw && ix:
		return gatedBoth{gatedIndexer{g}}
	case sw:
		return gatedSwapper{g}
	case ix:
		return gatedIndexer{g}
	}
	return g
}

func (g *gated) Read(ctx context.Context, key string) ([]byte, error) {
	r := g.s.park(ctx, "read")
	defer g.s.recordOp(ctx)
	data, err := g.inner.Read(ctx, key)
	g.s.note(r, "read %s: %s", g.s.alias(key), describeRecord(data, err))
	return data, err
}

func (g *gated) Write(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	r := g.s.park(ctx, "write")
	defer g.s.recordOp(ctx)
	err := g.inner.Write(ctx, key, data, ttl)
	g.s.note(r, "write %s %s: %s", g.s.alias(key), describeRecord(data, nil), errText(err, "ok"))
	return err
}

func (g *gated) Delete(ctx context.Context, key string) error {
	r := g.s.park(ctx, "delete")
	defer g.s.recordOp(ctx)
	err := g.inner.Delete(ctx, key)
	g.s.note(r, "delete %s: %s", g.s.alias(key), errText(err, "ok"))
	return err
}

func (g *gated) swap(ctx context.Context, key string, old, data []byte, ttl time.Duration) (bool, error) {
	r := g.s.park(ctx, "swap")
	defer g.s.recordOp(ctx)
	ok, err := g.inner.(backend.Swapper).Swap(ctx, key, old, data, ttl)
	res := "swapped"
	if !ok {
		res = "mismatch, nothing changed"
	}
	g.s.note(r, "swap %s to %s: %s", g.s.alias(key), describeRecord(data, nil), errText(err, res))
	return ok, err
}

func (g *gated) index(ctx context.Context, owner, key string, ttl time.Duration) error {
	r := g.s.park(ctx, "index")
	err := g.inner.(backend.Indexer).Index(ctx, owner, key, ttl)
	g.s.note(r, "index %s: %s", g.s.alias(key), errText(err, "ok"))
	return err
}

func (g *gated) unindex(ctx context.Context, owner, key string) error {
	r := g.s.park(ctx, "unindex")
	err := g.inner.(backend.Indexer).Unindex(ctx, owner, key)
	g.s.note(r, "unindex %s: %s", g.s.alias(key), errText(err, "ok"))
	return err
}

func (g *gated) owned(ctx context.Context, owner string) ([]string, error) {
	r := g.s.park(ctx, "owned")
	keys, err := g.inner.(backend.Indexer).Owned(ctx, owner)
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = g.s.alias(k)
	}
	g.s.note(r, "owned: %s", errText(err, fmt.Sprint(names)))
	return keys, err
}

// describeRecord says what a stored record is, for the trace: chisess's
// forward records (left by every renewal) start with 3, sessions with 1.
func describeRecord(data []byte, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case data == nil:
		return "nothing"
	case len(data) > 0 && data[0] == 3:
		return "forward record"
	}
	return fmt.Sprintf("session record (%d bytes)", len(data))
}

func errText(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}
