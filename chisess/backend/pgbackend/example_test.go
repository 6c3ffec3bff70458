package pgbackend_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Wire chisess to PostgreSQL. It needs a database, so it is compiled but
// not run.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("CHISESS_POSTGRES_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := pgbackend.New(ctx, pool, pgbackend.Options{CreateTable: true})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops the sweeper; close it before the pool
	sessions, err := chisess.New(chisess.Config{Backend: store})
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions))
}

func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("CHISESS_POSTGRES_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := pgbackend.New(ctx, pool, pgbackend.Options{CreateTable: true})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops the sweeper; close it before the pool

	// Hand store to chisess.Config.Backend.
	_ = store
}

func ExampleStore_Sweep() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("CHISESS_POSTGRES_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	// A cron job sweeps instead of the app's processes.
	store, err := pgbackend.New(ctx, pool, pgbackend.Options{SweepInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n, err := store.Sweep(ctx)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("deleted %d expired sessions", n)
}

func ExampleSchemaSQL() {
	fmt.Print(pgbackend.SchemaSQL("app.sessions"))
	// Output:
	// CREATE TABLE IF NOT EXISTS "app"."sessions" (
	// 	key        text        PRIMARY KEY,
	// 	data       bytea       NOT NULL,
	// 	expires_at timestamptz NOT NULL,
	// 	owner      text
	// );
	// CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx"
	// 	ON "app"."sessions" (expires_at);
	// ALTER TABLE "app"."sessions" ADD COLUMN IF NOT EXISTS owner text;
	// CREATE INDEX IF NOT EXISTS "sessions_owner_idx"
	// 	ON "app"."sessions" (owner) WHERE owner IS NOT NULL;
}
