package boltbackend_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/go-chi/chi/v5"
)

// Wire chisess to a bbolt file, then count visits across two requests.
func Example() {
	dir, err := os.MkdirTemp("", "boltbackend")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := boltbackend.Open(filepath.Join(dir, "sessions.db"), boltbackend.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops the sweeper and closes the file
	sessions, err := chisess.New(chisess.Config{Backend: store})
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		n, _ := chisess.Get[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprint(w, n+1)
	})

	var cookie *http.Cookie
	for range 2 {
		req := httptest.NewRequest("GET", "/", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		cookie = rec.Result().Cookies()[0]
		fmt.Println("visit", rec.Body.String())
	}
	// Output:
	// visit 1
	// visit 2
}

// Wire chisess to a bbolt file that keeps sessions across restarts.
// Compiled, not run: it writes under /var/lib.
func ExampleOpen_app() {
	store, err := boltbackend.Open("/var/lib/myapp/sessions.db", boltbackend.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops the sweeper and closes the file
	sessions, err := chisess.New(chisess.Config{Backend: store})
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", r))
}

// Open a file, store a record and read it back. An app hands the Store to
// chisess.New in Config.Backend and never calls Read or Write itself.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "boltbackend")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := boltbackend.Open(filepath.Join(dir, "sessions.db"), boltbackend.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	// Keys are the hashes chisess makes of session tokens.
	key := "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sEbDwCgg"
	if err := store.Write(ctx, key, []byte(`{"user_id":42}`), time.Hour); err != nil {
		log.Fatal(err)
	}
	data, err := store.Read(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(data))
	// Output: {"user_id":42}
}
