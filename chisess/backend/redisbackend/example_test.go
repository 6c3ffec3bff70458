package redisbackend_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend/redisbackend"
	"github.com/redis/go-redis/v9"
)

// ExampleNew wires chisess to Redis. It needs a server, so it is compiled
// but not run.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  os.Getenv("CHISESS_REDIS_ADDR"), // "localhost:6379"
		ContextTimeoutEnabled: true,                            // let request deadlines bound Redis calls
	})
	defer rdb.Close() // the Store does not close the client

	store, err := redisbackend.New(rdb, redisbackend.Options{})
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := chisess.New(chisess.Config{Backend: store})
	if err != nil {
		log.Fatal(err)
	}
	_ = sessions // r.Use(chisess.Load(sessions))
}

// ExampleNew_cluster wires chisess to a Redis Cluster. Sessions spread over
// all its nodes: each one is a single key.
func ExampleNew_cluster() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"redis-1:6379", "redis-2:6379", "redis-3:6379"},
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()

	store, err := redisbackend.New(rdb, redisbackend.Options{Prefix: "myapp:session:"})
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := chisess.New(chisess.Config{Backend: store})
	if err != nil {
		log.Fatal(err)
	}
	_ = sessions
}

// New checks the options without calling Redis, so a bad prefix fails at
// start-up, whether or not the server is up.
func ExampleNew_invalidPrefix() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()

	_, err := redisbackend.New(rdb, redisbackend.Options{Prefix: "{myapp}:session:"})
	fmt.Println(errors.Is(err, redisbackend.ErrInvalidOptions))
	fmt.Println(err)
	// Output:
	// true
	// chisess: invalid redis options: Options.Prefix "{myapp}:session:" contains a Redis Cluster hash tag {…}, which would put every session in one hash slot; pass printable text with no spaces and no {hash tag}, such as "myapp:session:", or leave it empty for "chisess:session:"
}
