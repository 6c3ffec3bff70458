package boltbackend_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/chisess/kit/chisess/backend/boltbackend"
)

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
