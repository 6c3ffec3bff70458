package chisess_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
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

// TestInspectSaysWhy: the error of Inspect for a value that leads to no
// live session carries the RejectReason, which errors.As finds, so an admin
// tool can tell a wrong secret from an expired session.
func TestInspectSaysWhy(t *testing.T) {
	other := newManager(t, chisess.Config{Secret: "another-secret-0123456789-abcdefghijkl"})
	tests := []struct {
		name  string
		cfg   chisess.Config
		value func(t *testing.T, m *chisess.Manager) string
		want  chisess.RejectReason
	}{
		{
			name: "sealed with another secret",
			cfg:  chisess.Config{Secret: testSecret},
			value: func(t *testing.T, _ *chisess.Manager) string {
				c, err := other.Issue(t.Context(), map[string]any{"user": "ada"})
				if err != nil {
					t.Fatal(err)
				}
				return c.Value
			},
			want: chisess.ReasonTampered,
		},
		{
			name:  "not a sealed cookie",
			cfg:   chisess.Config{Secret: testSecret},
			value: func(*testing.T, *chisess.Manager) string { return "not-a-session" },
			want:  chisess.ReasonMalformed,
		},
		{
			name: "past its lifetime",
			cfg:  chisess.Config{Secret: testSecret, Lifetime: time.Hour},
			value: func(t *testing.T, m *chisess.Manager) string {
				c, err := m.Issue(t.Context(), map[string]any{"user": "ada"})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * time.Hour) // the bubble's clock
				return c.Value
			},
			want: chisess.ReasonExpired,
		},
		{
			name:  "a token the backend does not know",
			cfg:   chisess.Config{Backend: backend.NewMemoryWithCleanup(0)},
			value: func(*testing.T, *chisess.Manager) string { return strings.Repeat("A", 43) },
			want:  chisess.ReasonUnknown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				m := newManager(t, tt.cfg)
				_, err := m.Inspect(t.Context(), tt.value(t, m))
				is.True(errors.Is(err, chisess.ErrUnknownSession)) // no live session
				var why chisess.RejectReason
				is.True(errors.As(err, &why)) // the error carries the reason
				is.Equal(why, tt.want)
				is.True(strings.Contains(err.Error(), "("+tt.want.String()+")")) // and names it
			})
		})
	}
}

// Issue names the value it cannot store, so a caller (a migration) can
// leave that key out and try again; the error never holds the value.
func TestIssueNamesTheValueItCannotStore(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		cfg := tm.cfg
		cfg.MaxValueSize = 64
		m := newManager(t, cfg)
		for _, tt := range []struct {
			name    string
			value   any
			tooLong bool
		}{
			{"a value the codec cannot encode", make(chan int), false},
			{"a value past MaxValueSize", strings.Repeat("secret", 20), true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				is := is.New(t)
				_, err := m.Issue(t.Context(), map[string]any{"bad": tt.value})
				var ve *chisess.ValueError
				is.True(errors.As(err, &ve))                              // the error is a ValueError
				is.Equal(ve.Key, "bad")                                   // naming the key
				is.Equal(errors.Is(err, chisess.ErrTooLarge), tt.tooLong) // and wrapping ErrTooLarge for a limit
				is.True(!strings.Contains(err.Error(), "secret"))         // never the value
			})
		}
	})
}
