package chisess_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/chisess/kit/chisess"
	"github.com/matryer/is"
)

func TestIssueAndInspect(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		ctx := context.Background()
		m := newManager(t, tm.cfg)
		cookie, err := m.Issue(ctx, map[string]any{"user": "ada", "visits": 2})
		is.NoErr(err)
		is.Equal(cookie.Name, "__Host-session")   // the default name, host-only
		is.True(cookie.Secure && cookie.HttpOnly) // issued cookies carry the configured attributes
		is.Equal(cookie.SameSite, http.SameSiteLaxMode)

		// A request carrying the issued cookie sees the values.
		c := newClient(t, m, newRouter(t, m))
		c.cookie = cookie.Value
		is.Equal(c.do("GET", "/read").Body.String(), "2")
		c.do("GET", "/") // visits 3

		s, err := m.Inspect(ctx, c.cookie)
		is.NoErr(err)
		n, err := chisess.Get[int](s, "visits")
		is.NoErr(err)
		is.Equal(n, 3) // Inspect sees what the response stored
		is.True(!s.IsNew())
		err = s.Set("x", 1)
		is.True(errors.Is(err, chisess.ErrReadOnly)) // an inspected session is read-only

		_, err = m.Inspect(ctx, "not-a-session")
		is.True(errors.Is(err, chisess.ErrUnknownSession))
		_, err = m.Issue(ctx, map[string]any{"bad": func() {}})
		is.True(err != nil) // an unencodable value is an error
	})
}

func ExampleManager_Inspect() {
	sessions, _ := chisess.New(chisess.Config{Secret: "an-example-secret-of-32-bytes-or-more"})
	ctx := context.Background()
	cookie, _ := sessions.Issue(ctx, map[string]any{"user_id": 42})

	s, err := sessions.Inspect(ctx, cookie.Value)
	if err != nil {
		panic(err)
	}
	id, _ := chisess.Get[int](s, "user_id")
	fmt.Println(id, s.Keys())
	// Output: 42 [user_id]
}
