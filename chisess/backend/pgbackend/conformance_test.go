package pgbackend_test

import (
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/sessiontest"
)

// TestConformance runs the suite every chisess backend must pass, each rule
// on its own table, with the real clock (the expiry rules poll real short
// TTLs) and no sweeper.
func TestConformance(t *testing.T) {
	t.Parallel()
	sessiontest.RunConformance(t, func(t *testing.T) backend.Backend {
		return newTestDB(t).open(t, pgbackend.Options{})
	})
}
