package sessiontest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
)

var errDown = errors.New("store is down")

// ops returns the Op of every call.
func ops(calls []sessiontest.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Op
	}
	return out
}

// TestBackendRecordsCalls drives the kit's app through a manager on the
// fake and checks the calls each request makes, in order, and that the
// kit's own calls (NewRequest's store, SessionOf's read) are not among them.
func TestBackendRecordsCalls(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string
		values  map[string]any // the session the request carries; none if nil
		wantOps []string
	}{
		{"untouched", "GET", "/about", nil, []string{}},
		{"new visitor reads", "GET", "/read", nil, []string{}}, // no cookie, nothing to read
		{"read", "GET", "/read", map[string]any{"user": "ada"}, []string{"read"}},
		{"new session", "POST", "/visit", nil, []string{"write"}},
		{"change", "POST", "/visit", map[string]any{"visits": 1}, []string{"read", "swap"}},
		{"renew", "POST", "/login", map[string]any{"cart": "tea"}, []string{"read", "write", "swap", "index"}},
		{"destroy", "POST", "/logout", map[string]any{"user": "ada"}, []string{"read", "swap"}}, // a swap to nothing
		{"clear", "POST", "/clear", map[string]any{"user": "ada"}, []string{"read", "swap"}},    // a swap to nothing
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b := sessiontest.NewBackend()
			m := newManager(t, chisess.Config{Backend: b})
			req := sessiontest.NewRequest(m, tt.method, tt.target, nil, tt.values)
			is.Equal(len(b.Calls()), 0) // NewRequest's own write is not recorded

			resp := serve(newKitApp(m), req)
			is.True(resp.StatusCode < 400)
			calls := b.Calls()
			is.Equal(ops(calls), tt.wantOps)

			_, _ = sessiontest.SessionOf(m, resp)
			is.Equal(len(b.Calls()), len(calls)) // SessionOf's read is not recorded either
			for _, c := range calls {
				is.True(c.Key != "")  // every call names its key
				is.True(c.Err == nil) // nothing failed
				if c.Op == "write" || c.Op == "swap" && c.Data != nil {
					is.True(len(c.Data) > 0) // writes record their bytes
					is.True(c.TTL > 0)       // and their TTL
				}
			}
		})
	}
}

// TestBackendCallFields checks each field of a Call for every op, and that
// the keys of calls and of Sessions are the same storage keys.
func TestBackendCallFields(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	b := sessiontest.NewBackend()
	is.NoErr(b.Write(ctx, "k", []byte("v1"), time.Hour))
	data, err := b.Read(ctx, "k")
	is.NoErr(err)
	data[0] = 'X' // the caller owns what Read returns
	_, err = b.Read(ctx, "missing")
	is.True(errors.Is(err, backend.ErrNotFound))
	ok, err := b.Swap(ctx, "k", []byte("v1"), []byte("v2"), time.Minute)
	is.NoErr(err)
	is.True(ok)
	ok, err = b.Swap(ctx, "k", []byte("v1"), nil, 0)
	is.NoErr(err)
	is.True(!ok) // a swap from a stale record changes nothing
	is.NoErr(b.Delete(ctx, "k"))

	want := []sessiontest.Call{
		{Op: "write", Key: "k", Data: []byte("v1"), TTL: time.Hour},
		{Op: "read", Key: "k", Data: []byte("v1")},
		{Op: "read", Key: "missing", Err: backend.ErrNotFound},
		{Op: "swap", Key: "k", Data: []byte("v2"), TTL: time.Minute, Swapped: true},
		{Op: "swap", Key: "k"},
		{Op: "delete", Key: "k"},
	}
	got := b.Calls()
	is.Equal(len(got), len(want))
	for i := range want {
		is.Equal(got[i].Op, want[i].Op)
		is.Equal(got[i].Key, want[i].Key)
		is.Equal(string(got[i].Data), string(want[i].Data))
		is.Equal(got[i].TTL, want[i].TTL)
		is.Equal(got[i].Swapped, want[i].Swapped) // whether a swap took effect
		is.Equal(got[i].Err, want[i].Err)
	}

	got[0].Data[0] = 'X'
	is.Equal(string(b.Calls()[0].Data), "v1") // Calls returns copies
	b.Reset()
	is.Equal(len(b.Calls()), 0) // Reset forgets the calls
}

// TestBackendSessions checks that Sessions decodes what the backend stores,
// under the keys the calls name, on the manager's codec.
func TestBackendSessions(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{Backend: b, Logger: discardLogger}) // the junk record below logs a warning
	is.Equal(len(b.Sessions(m)), 0)                                       // an empty backend has no sessions

	type cart struct{ Items []string }
	resp := serve(newKitApp(m), sessiontest.NewRequest(m, "POST", "/login", nil, map[string]any{"cart": cart{[]string{"tea"}}}))
	is.Equal(resp.StatusCode, http.StatusSeeOther)
	sessiontest.NewRequest(m, "GET", "/", nil, map[string]any{"user": "bob"})
	is.Equal(b.Len(), 3) // the login's session, the forward record of its old token, and bob's

	sessions := b.Sessions(m)
	is.Equal(len(sessions), 2)
	var written string
	for _, c := range b.Calls() {
		if c.Op == "write" {
			written = c.Key
		}
	}
	s := sessions[written] // the session the login wrote, found by its call's key
	is.True(s != nil)
	of, err := sessiontest.SessionOf(m, resp)
	is.NoErr(err)
	is.Equal(of.Handle(), written) // a session's Handle is its storage key
	user, err := chisess.Get[string](s, "user")
	is.NoErr(err)
	is.Equal(user, "ada")
	c, err := chisess.Get[cart](s, "cart")
	is.NoErr(err)
	is.Equal(c.Items, []string{"tea"}) // the login kept the cart
	err = s.Set("user", "eve")
	is.True(errors.Is(err, chisess.ErrReadOnly)) // the sessions are read-only

	is.NoErr(b.Write(context.Background(), "junk", []byte("not a session"), time.Hour))
	is.Equal(len(b.Sessions(m)), 2) // records that are not sessions are left out
}

func TestBackendSessionsPanicsOnAnotherManager(t *testing.T) {
	is := is.New(t)
	other := newManager(t, chisess.Config{Backend: sessiontest.NewBackend()})
	defer func() {
		is.True(recover() != nil) // Sessions needs the manager of this backend
	}()
	sessiontest.NewBackend().Sessions(other)
}

// TestBackendExpiry runs on synctest's fake clock: records, Len and
// Sessions honour the TTL.
func TestBackendExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		ctx := context.Background()
		b := sessiontest.NewBackend()
		m := newManager(t, chisess.Config{Backend: b})
		sessiontest.NewRequest(m, "GET", "/", nil, map[string]any{"user": "ada"})
		is.NoErr(b.Write(ctx, "short", []byte("v"), time.Minute))
		is.Equal(b.Len(), 2)
		time.Sleep(time.Minute) // the fake clock: returns at once
		is.Equal(b.Len(), 1)    // the short record expired
		_, err := b.Read(ctx, "short")
		is.True(errors.Is(err, backend.ErrNotFound))
		is.Equal(len(b.Sessions(m)), 1)
		time.Sleep(chisess.DefaultSessionCap)
		is.Equal(b.Len(), 0)
		is.Equal(len(b.Sessions(m)), 0)
	})
}

// TestBackendFailNext checks that a failure applies to exactly the next n
// calls of its op, leaves the store alone, and is recorded.
func TestBackendFailNext(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(b *sessiontest.Backend) error{
		"read": func(b *sessiontest.Backend) error {
			_, err := b.Read(ctx, "k")
			return err
		},
		"write":  func(b *sessiontest.Backend) error { return b.Write(ctx, "k", []byte("new"), time.Hour) },
		"delete": func(b *sessiontest.Backend) error { return b.Delete(ctx, "k") },
		"swap": func(b *sessiontest.Backend) error {
			_, err := b.Swap(ctx, "k", []byte("old"), []byte("new"), time.Hour)
			return err
		},
	}
	for _, op := range []string{"read", "write", "delete", "swap"} {
		t.Run(op, func(t *testing.T) {
			is := is.New(t)
			b := sessiontest.NewBackend()
			is.NoErr(b.Write(ctx, "k", []byte("old"), time.Hour))
			b.Reset()
			b.FailNext(op, 2, errDown)
			is.Equal(calls[op](b), errDown) // first failure
			is.Equal(calls[op](b), errDown) // second failure
			if op != "read" {
				data, err := b.Read(ctx, "k") // reads are not failed
				is.NoErr(err)
				is.Equal(string(data), "old") // a failed call leaves the store alone
			}
			is.NoErr(calls[op](b)) // n calls, then no more failures
			got := b.Calls()
			is.Equal(got[0].Op, op)
			is.Equal(got[0].Err, errDown) // failed calls are recorded with their error
			is.Equal(got[1].Err, errDown)
			is.Equal(got[len(got)-1].Err, nil)
		})
	}
}

// TestBackendFailNextThroughTheApp checks what an app test sees when the
// store fails: the error response, no Set-Cookie, nothing stored.
func TestBackendFailNextThroughTheApp(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		op     string
	}{
		{"new session", nil, "write"},
		{"changed session", map[string]any{"visits": 1}, "swap"},
		{"load", map[string]any{"visits": 1}, "read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b := sessiontest.NewBackend()
			m := newManager(t, chisess.Config{Backend: b, Logger: discardLogger})
			req := sessiontest.NewRequest(m, "POST", "/visit", nil, tt.values)
			b.FailNext(tt.op, 1, errDown)
			resp := serve(newKitApp(m), req)
			is.Equal(resp.StatusCode, http.StatusInternalServerError)
			sessiontest.AssertNoSession(t, m, resp)
			calls := b.Calls()
			is.True(errors.Is(calls[len(calls)-1].Err, errDown)) // the failed call is the last one
			if tt.values != nil {
				sessiontest.AssertValue(t, m, resp, "visits", 1) // the stored session is unchanged
			}
		})
	}
}

func TestBackendPanicsOnBadInput(t *testing.T) {
	tests := []struct {
		name string
		call func(b *sessiontest.Backend)
	}{
		{"FailNext unknown op", func(b *sessiontest.Backend) { b.FailNext("Write", 1, errDown) }},
		{"FailNext zero calls", func(b *sessiontest.Backend) { b.FailNext("write", 0, errDown) }},
		{"FailNext nil error", func(b *sessiontest.Backend) { b.FailNext("write", 1, nil) }},
		{"Hold unknown op", func(b *sessiontest.Backend) { b.Hold("get") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			defer func() {
				r := recover()
				msg, _ := r.(string)
				is.True(len(msg) > len("sessiontest: ")) // panics with a message
				is.Equal(msg[:len("sessiontest: ")], "sessiontest: ")
			}()
			tt.call(sessiontest.NewBackend())
		})
	}
}

// TestBackendHold checks the gate's barrier: the call stops at it, the test
// sees it arrive, and the call goes on only when released.
func TestBackendHold(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	b := sessiontest.NewBackend()
	g := b.Hold("write")
	defer g.Release()

	done := make(chan error)
	go func() { done <- b.Write(ctx, "k", []byte("v"), time.Hour) }()
	<-g.Reached()
	select {
	case <-done:
		t.Fatal("the held write returned before it was released")
	default:
	}
	is.Equal(b.Len(), 0)                                    // the held write has not stored anything yet
	is.Equal(len(b.Calls()), 0)                             // calls are recorded when they return
	is.NoErr(b.Write(ctx, "other", []byte("v"), time.Hour)) // one gate holds one call
	g.Release()
	is.NoErr(<-done)
	g.Release() // releasing twice is harmless
	is.Equal(b.Len(), 2)
	is.Equal(ops(b.Calls()), []string{"write", "write"})
}

func TestBackendHoldReleasedEarly(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	g := b.Hold("read")
	g.Release()
	_, err := b.Read(context.Background(), "k") // passes straight through
	is.True(errors.Is(err, backend.ErrNotFound))
	<-g.Reached() // and still marks the gate as reached
}

// TestBackendHoldHonoursContext checks that a held call ends with its
// context, so a gate left closed cannot hang a request for longer than the
// manager's timeout, and that a failure queued for it still applies after
// the gate.
func TestBackendHoldHonoursContext(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	g := b.Hold("delete")
	defer g.Release()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.Delete(ctx, "k") }()
	<-g.Reached()
	cancel()
	err := <-done
	is.True(errors.Is(err, context.Canceled))
	is.True(errors.Is(b.Calls()[0].Err, context.Canceled)) // recorded with the context's error

	g2 := b.Hold("delete")
	b.FailNext("delete", 1, errDown)
	go func() { done <- b.Delete(context.Background(), "k") }()
	<-g2.Reached()
	g2.Release()
	is.Equal(<-done, errDown) // held, then failed
}

// TestBackendHoldOrdersConcurrentRequests is the race the gate is for: a
// slow request that loaded a session before a logout must not bring it
// back when it saves after the logout.
func TestBackendHoldOrdersConcurrentRequests(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{Backend: b, Logger: discardLogger})
	h := newKitApp(m)
	slow := sessiontest.NewRequest(m, "POST", "/visit", nil, map[string]any{"user": "ada"})
	cookie, _ := slow.Cookie(m.CookieName())
	logout := sessiontest.NewRequest(m, "POST", "/logout", nil, nil)
	logout.AddCookie(cookie)

	g := b.Hold("swap")
	defer g.Release()
	done := make(chan *http.Response)
	go func() { done <- serve(h, slow) }()
	<-g.Reached() // the slow request has loaded the session and is saving
	resp := serve(h, logout)
	sessiontest.AssertDestroyed(t, m, cookie, resp)
	g.Release()
	resp = <-done
	is.Equal(resp.StatusCode, http.StatusInternalServerError) // the slow request's save fails...
	is.Equal(b.Len(), 0)                                      // ...and the session stays dead
}

// TestBackendConcurrentUse runs every method from many goroutines, for the
// race detector.
func TestBackendConcurrentUse(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{Backend: b, Logger: discardLogger})
	h := newKitApp(m)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			req := sessiontest.NewRequest(m, "POST", "/visit", nil, map[string]any{"visits": i})
			for range 5 {
				serve(h, req)
			}
			b.Calls()
			b.Len()
			b.Sessions(m)
			b.FailNext("read", 1, errDown)
			b.Hold("delete").Release()
		})
	}
	wg.Wait()
	is.Equal(b.Len(), 8)
	is.True(slices.Contains(ops(b.Calls()), "swap"))
}

// TestBackendOwnerIndex checks the fake's owner index through the
// manager's "your devices" and "log out everywhere", and that a failure of
// the index fails the login that needs it.
func TestBackendOwnerIndex(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	b := sessiontest.NewBackend()
	m := newManager(t, chisess.Config{Backend: b, Logger: discardLogger})
	laptop := sessiontest.NewClient(t, newKitApp(m))
	phone := sessiontest.NewClient(t, newKitApp(m))
	laptop.PostForm("/login", url.Values{"user": {"ada"}})
	phone.PostForm("/login", url.Values{"user": {"ada"}})

	devices, err := m.Sessions(ctx, "ada")
	is.NoErr(err)
	is.Equal(len(devices), 2) // one session per device

	b.Reset()
	n, err := m.DestroyOwner(ctx, "ada", nil)
	is.NoErr(err)
	is.Equal(n, 2)
	is.Equal(b.Len(), 0) // log out everywhere
	is.Equal(ops(b.Calls()), []string{"owned", "read", "swap", "unindex", "read", "swap", "unindex"})
	is.Equal(b.Calls()[0].Owner, m.CookieName()+" ada") // the index files owners under the manager's namespace
	is.Equal(readBody(t, laptop.Get("/read")), "")      // the laptop is logged out

	b.FailNext("index", 1, errDown)
	resp := laptop.PostForm("/login", url.Values{"user": {"ada"}})
	is.Equal(resp.StatusCode, http.StatusInternalServerError) // an unindexed session would escape log out everywhere
	sessiontest.AssertNoSession(t, m, resp)
}
