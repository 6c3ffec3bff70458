package migrate_test

// Attacks on the promises of Options.Owner and Options.Timeout, each
// quoting the promise it tries to break.

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/migrate"
)

// Options.Owner: "When the owner cannot be indexed, the request is
// answered by Config.ErrorHandler and the old session is kept for the next
// one"; that is for a failure that passes. An owner the application's
// Owner names from the old values that SetOwner can never take (a NUL
// byte, invalid UTF-8), or an owner key that takes a session full to
// Config.MaxKeys past it, fails the same way on every request. It failed
// when every request of that client until Until was answered by the
// ErrorHandler (and stored one more chisess session that no client ever
// got), as an undecodable old session no longer is.
func TestOwnerThatCanNeverBeSetDoesNotFailEveryRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		owner   string
		maxKeys int
	}{
		{"a NUL byte", "42\x00", 0},
		{"invalid UTF-8", "\xff42", 0},
		{"one key past MaxKeys", "42", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			sm := newSCS(memstore.NewWithCleanupInterval(0), false)
			token := signIn(t, sm) // user_id: one key
			var answered atomic.Int32
			m, err := chisess.New(chisess.Config{Backend: backend.NewMemory(), MaxKeys: tc.maxKeys, Logger: discardLogger(),
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					answered.Add(1)
					http.Error(w, "sorry", http.StatusInternalServerError)
				}})
			is.NoErr(err)
			app := migrate.Load(m, migrate.Options{
				Until:  time.Now().Add(time.Hour),
				Owner:  func(*chisess.Session) string { return tc.owner },
				Logger: discardLogger(),
			}, migrate.SCS(sm))(whoami)
			for range 2 {
				rec := getWithOld(app, token)
				is.True(rec.Code != http.StatusInternalServerError) // the handler answers
			}
			is.Equal(answered.Load(), int32(0)) // the ErrorHandler never
		})
	}
}
