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
		InitAddress:       []string{os.Getenv("CHISESS_REDIS_ADDR")},
		CacheSizeEachConn: 64 << 20, // at most 64 MiB of cached sessions per connection
	}, rueidisbackend.Options{})
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
