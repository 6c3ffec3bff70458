package suites_test

// Tests written by an outside review, run on every store of the table.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/testhook"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// A read-only request's idle refresh under Rolling (touch) re-indexes the
// session under the owner it had *when the request loaded it*
// (reindex: Index(s.src.owner, s.src.key)), even when another request
// changed the owner meanwhile: the touch's swap then fails, touch reads the
// record, finds it "changed meanwhile, and so used", reports it alive, and
// reindex files it under the old owner again.
//
// On a store whose index holds several owners per key (memory, Redis,
// bbolt) that is a stale entry, harmless. PostgreSQL keeps the owner in the
// session's row, and "indexing a key under a second owner moves it there":
// the row moves back to the old owner, and the new owner's index no longer
// lists a session that is live and theirs, so DestroyOwner of the new owner
// (log out everywhere, an account disabled) misses it.
//
// The interleaving: a session owned by alice is read by request A (its
// refresh due); request B re-owns it to bob (SetOwner("bob"), same token)
// and commits; then A commits.
//
// What should happen: DestroyOwner("bob") ends bob's session on every
// store. The touch should index under the owner of the record it found (or
// not index at all when the record changed).
func TestReviewStaleRefreshKeepsTheOwnerIndex(t *testing.T) {
	for _, sub := range subjects {
		t.Run(sub.name, func(t *testing.T) {
			sub.ready(t)
			st := sub.fresh(t)
			if _, ok := st.(backend.Indexer); !ok {
				t.Skip("no owner index")
			}
			is := is.New(t)
			ctx := context.Background()
			m, err := chisess.New(chisess.Config{Backend: st, Lifetime: time.Hour, Rolling: true, Logger: slog.New(slog.DiscardHandler)})
			is.NoErr(err)
			var mu sync.Mutex
			now := time.Now()
			testhook.SetClock(m, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
			loadedA, goOnA := make(chan struct{}), make(chan struct{})
			r := chi.NewRouter()
			r.Use(chisess.Load(m), chisess.Autoload)
			r.Post("/own", func(w http.ResponseWriter, r *http.Request) {
				if err := chisess.From(r.Context()).SetOwner(r.URL.Query().Get("owner")); err != nil {
					chisess.Error(w, r, err)
				}
			})
			r.Get("/read", func(w http.ResponseWriter, r *http.Request) {
				close(loadedA)
				<-goOnA
				fmt.Fprint(w, chisess.From(r.Context()).Owner())
			})
			do := func(method, target, token string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(method, target, nil)
				if token != "" {
					req.AddCookie(&http.Cookie{Name: m.CookieName(), Value: token})
				}
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, req)
				return rec
			}
			rec := do("POST", "/own?owner=alice", "")
			is.Equal(rec.Code, http.StatusOK)
			token := rec.Result().Cookies()[0].Value

			mu.Lock()
			now = now.Add(2 * time.Minute) // A's refresh is due
			mu.Unlock()
			a := make(chan *httptest.ResponseRecorder)
			go func() { a <- do("GET", "/read", token) }()
			<-loadedA
			is.Equal(do("POST", "/own?owner=bob", token).Code, http.StatusOK) // B
			close(goOnA)
			is.Equal((<-a).Code, http.StatusOK)

			n, err := m.DestroyOwner(ctx, "bob", nil) // log out everywhere, for bob
			is.NoErr(err)
			_, err = m.Inspect(ctx, token)
			is.True(errors.Is(err, chisess.ErrUnknownSession)) // bob's session is over
			is.Equal(n, 1)
		})
	}
}
