package otelchisess_test

import (
	"context"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/matryer/is"
)

// Manager.Issue "creates a session holding values, stores it"; EventCreated
// is "a new session was stored for the first time", and
// docs/observability.md counts "sessions created" in
// chisess.session.created. It failed: a session made by Issue (a one-time
// login link, every session that migrate.Load takes over) was counted
// nowhere, neither in OnEvent nor in the metric.
func TestIssueCountsACreatedSession(t *testing.T) {
	for _, mode := range []string{"cookie", "memory"} {
		t.Run(mode, func(t *testing.T) {
			is := is.New(t)
			tel := newTelemetry(t)
			cfg := chisess.Config{Secret: testSecret, Observer: tel.obs}
			if mode == "memory" {
				mem := backend.NewMemory()
				t.Cleanup(func() { mem.Close() })
				cfg.Backend = mem
			}
			var created int
			cfg.OnEvent = func(_ context.Context, e chisess.Event) {
				if e.Kind == chisess.EventCreated {
					created++
				}
			}
			m, _ := newApp(t, cfg)
			_, err := m.Issue(context.Background(), map[string]any{"user": secretValue})
			is.NoErr(err)
			is.Equal(created, 1)                                                                    // OnEvent was told of the session Issue created
			is.Equal(tel.metrics(t)["chisess.session.created{chisess.backend="+mode+"}"], int64(1)) // and chisess.session.created counts it
		})
	}
}
