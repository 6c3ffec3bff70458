package rueidisbackend_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend/rueidisbackend"
	"github.com/redis/rueidis"
)

// An app server with sessions in Redis, read from a local cache. Give
// InitAddress several nodes of a Redis Cluster to use a cluster; the rest
// is the same.
func ExampleNew() {
	ctx := context.Background()
	store, err := rueidisbackend.New(ctx, rueidis.ClientOption{
		InitAddress: []string{os.Getenv("CHISESS_REDIS_ADDR")},
	}, rueidisbackend.Options{
		CacheBytes: 64 << 20, // at most 64 MiB of cached sessions
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // after the HTTP server has stopped
	sessions, err := chisess.New(chisess.Config{Backend: store})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/", chisess.Load(sessions)(http.NotFoundHandler()))
}

// Stats tells how well the cache serves: export it as metrics, and raise
// Options.CacheEntries or CacheBytes when evictions climb while the hit
// ratio falls.
func ExampleStore_Stats() {
	ctx := context.Background()
	store, err := rueidisbackend.New(ctx, rueidis.ClientOption{
		InitAddress: []string{os.Getenv("CHISESS_REDIS_ADDR")},
	}, rueidisbackend.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	st := store.Stats()
	log.Printf("session cache: %d sessions, %d bytes, hit ratio %.3f, %d evictions, %d flushes",
		st.Entries, st.Bytes, st.HitRatio(), st.Evictions, st.Flushes)
}
