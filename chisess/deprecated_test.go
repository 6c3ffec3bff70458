package chisess_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/matryer/is"
)

// The deprecated names keep working for one minor version: each is the new
// name under the old one.
func TestDeprecatedNamesStillWork(t *testing.T) {
	is := is.New(t)
	for _, tt := range []struct{ old, now error }{
		{chisess.ErrSessionGone, chisess.ErrStaleSession},
		{chisess.ErrCommitted, chisess.ErrResponseStarted},
		{chisess.ErrCommitFailed, chisess.ErrResponseReplaced},
		{chisess.ErrNoSession, chisess.ErrUnknownSession},
	} {
		wrapped := fmt.Errorf("x: %w", tt.now)
		is.True(errors.Is(wrapped, tt.old)) // code that checks the old name still matches
	}

	m := newManager(t, chisess.Config{Backend: backend.NewMemoryWithCleanup(0)})
	r := newRouter(t, m)
	var before, after string
	r.With(chisess.Rotate).Post("/old-login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		before = s.ID()
		s.RenewID()
		after = s.Token()
		s.Set("user", "ada")
	})
	c := newClient(t, m, r)
	c.do("GET", "/")
	old := c.cookie
	c.do("POST", "/old-login")
	is.True(c.cookie != old)  // Rotate still renews the token
	is.True(before != after)  // and so does RenewID
	is.Equal(c.cookie, after) // to the one Token reports
	is.True(before != old)    // Rotate renewed before the handler ran
}
