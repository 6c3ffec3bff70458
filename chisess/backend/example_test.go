package backend_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
)

// An app hands a Memory store to chisess and closes it when it shuts
// down. chisess makes the keys, so the app never calls the store itself.
func ExampleNewMemory() {
	store := backend.NewMemory()
	defer store.Close() // stops the janitor

	sessions, err := chisess.New(chisess.Config{Backend: store})
	if err != nil {
		log.Fatal(err)
	}
	app := chisess.Load(sessions)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			chisess.Error(w, r, err)
			return
		}
		s.Set("user", "ada")
	}))
	app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	fmt.Println("sessions stored:", store.Len())
	// Output: sessions stored: 1
}

// The Backend contract on a Memory store: what a custom backend must do
// too (sessiontest.RunConformance checks every rule).
func ExampleMemory() {
	ctx := context.Background()
	m := backend.NewMemoryWithCleanup(0) // no janitor: an expired record goes when it is read
	defer m.Close()

	if err := m.Write(ctx, "key-1", []byte("session data"), time.Hour); err != nil {
		log.Fatal(err)
	}
	data, err := m.Read(ctx, "key-1")
	fmt.Printf("%s %v\n", data, err)

	_ = m.Write(ctx, "key-2", []byte("never stored"), 0) // a ttl of zero or less stores nothing
	_, err = m.Read(ctx, "key-2")
	fmt.Println(errors.Is(err, backend.ErrNotFound))

	// Swap replaces a record only if it is still what the caller read.
	ok, _ := m.Swap(ctx, "key-1", []byte("what another request read"), []byte("new"), time.Hour)
	fmt.Println("swapped:", ok)
	fmt.Println("records:", m.Len())
	// Output:
	// session data <nil>
	// true
	// swapped: false
	// records: 1
}

// A Sealer is what chisess uses when Config.Backend is nil; apps rarely
// make one. The first secret seals and every secret opens, which is how a
// secret is rotated; the cookie name and the expiry are sealed in.
func ExampleSealer() {
	const (
		oldSecret = "old-secret-0123456789-0123456789-abc"
		newSecret = "new-secret-0123456789-0123456789-abc"
	)
	before, err := backend.NewSealer(oldSecret)
	if err != nil {
		log.Fatal(err)
	}
	after, err := backend.NewSealer(newSecret, oldSecret) // newest first
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	value, err := before.Seal("session", []byte(`{"user":"ada"}`), now, now.Add(time.Hour))
	if err != nil {
		log.Fatal(err)
	}

	payload, secret, err := after.Open("session", value, now)
	fmt.Printf("%s opened by secret %d (re-seal it) %v\n", payload, secret, err)
	_, _, err = after.Open("other-cookie", value, now)
	fmt.Println(errors.Is(err, backend.ErrCookieTampered))
	_, _, err = after.Open("session", value, now.Add(2*time.Hour))
	fmt.Println(errors.Is(err, backend.ErrCookieExpired))
	_, err = after.Seal("session", make([]byte, 4000), now, now.Add(time.Hour))
	fmt.Println(errors.Is(err, backend.ErrCookieTooLarge))
	// Output:
	// {"user":"ada"} opened by secret 1 (re-seal it) <nil>
	// true
	// true
	// true
}
