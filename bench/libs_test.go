package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
	"github.com/chisess/kit/chisess/backend/rueidisbackend"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
)

// The session every scenario starts from: ten small strings and a counter,
// about 330 bytes of keys and values.
const (
	cookieName = "session"
	readKey    = "key03"
	readWant   = "value-03-abcdefgh"
	counterKey = "counter"
	seedCount  = 1 // the counter's value in a seeded session
)

var seedStrings = func() (kv [10][2]string) {
	for i := range kv {
		kv[i] = [2]string{"key0" + strconv.Itoa(i), "value-0" + strconv.Itoa(i) + "-abcdefgh"}
	}
	return kv
}()

// Routes every library serves. /seed and /counter are for setting up and
// checking; the benchmarks time the other four.
const (
	pathSeed      = "/seed"
	pathUntouched = "/untouched"
	pathRead      = "/read"
	pathRMW       = "/rmw"
	pathNew       = "/new"
	pathCounter   = "/counter"
)

// handlers is what one library plugs into the common router. Each handler
// uses the library the way its documentation shows, answers 200 with a
// small body on success and 500 when the session is not what it should be,
// so a broken adapter fails the benchmark instead of looking fast.
type handlers struct {
	mw        func(http.Handler) http.Handler // nil: none (bare chi, gorilla)
	seed      http.HandlerFunc                // store the ten strings and the counter
	untouched http.HandlerFunc                // never touch the session
	read      http.HandlerFunc                // write the value of readKey
	rmw       http.HandlerFunc                // counter = counter + 1
	create    http.HandlerFunc                // a new session holding counter = 1
	counter   http.HandlerFunc                // write the counter
}

// router mounts h on a chi router, the same way for every library.
func router(h handlers) http.Handler {
	r := chi.NewRouter()
	if h.mw != nil {
		r.Use(h.mw)
	}
	r.Get(pathSeed, h.seed)
	r.Get(pathUntouched, h.untouched)
	r.Get(pathRead, h.read)
	r.Get(pathRMW, h.rmw)
	r.Get(pathNew, h.create)
	r.Get(pathCounter, h.counter)
	return r
}

func ok(w http.ResponseWriter) { io.WriteString(w, "ok") }

func fail(w http.ResponseWriter, what string) {
	http.Error(w, what, http.StatusInternalServerError)
}

// A library is one row of the tables: a session library with one store.
type library struct {
	name string
	// needs names the environment variable of the service the library
	// talks to, or is empty.
	needs string
	// cookieStore is set when the session lives in the cookie, so that
	// every write must send a new cookie.
	cookieStore bool
	// setup builds a fresh instance, closed when tb ends.
	setup func(tb testing.TB) instance
}

// An instance is a library ready to serve.
type instance struct {
	handler http.Handler
	rt      *roundTrips // Redis commands sent; nil when not counted
	// hits returns the reads served so far from a local cache and all
	// reads; nil for a library without one.
	hits func() (hits, reads uint64)
}

// bare is chi alone. Its /seed hands out a cookie as long as a sealed
// session's, so that its requests are the same size as everyone else's.
var bare = library{name: "chi-bare", setup: func(tb testing.TB) instance {
	h := func(w http.ResponseWriter, r *http.Request) { ok(w) }
	return instance{handler: router(handlers{
		seed: func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: strings.Repeat("x", 450)})
			ok(w)
		},
		untouched: h, read: h, rmw: h, create: h, counter: h,
	})}
}}

// libraries is every row but bare chi, in the order of the tables.
var libraries = []library{
	{name: "chisess-memory", setup: func(tb testing.TB) instance {
		mem := backend.NewMemory()
		tb.Cleanup(func() { mem.Close() })
		return chisessInstance(tb, chisess.Config{Backend: mem}, nil)
	}},
	{name: "chisess-cookie", cookieStore: true, setup: func(tb testing.TB) instance {
		return chisessInstance(tb, chisess.Config{Secret: secret}, nil)
	}},
	{name: "chisess-redis", needs: envRedis, setup: func(tb testing.TB) instance {
		client, rt := redisClient(tb, envRedis)
		store, err := redisbackend.New(client, redisbackend.Options{Prefix: redisPrefix(tb, envRedis, "chisess")})
		if err != nil {
			tb.Fatal(err)
		}
		return chisessInstance(tb, chisess.Config{Backend: store}, rt)
	}},
	{name: "chisess-rueidis", needs: envRedis, setup: func(tb testing.TB) instance {
		return chisessRueidis(tb, envRedis, rueidisbackend.Options{})
	}},
	// Every read misses: the cached entry expires at once, so each read
	// costs the round trip that fills the cache.
	{name: "chisess-rueidis-cold", needs: envRedis, setup: func(tb testing.TB) instance {
		return chisessRueidis(tb, envRedis, rueidisbackend.Options{CacheFor: time.Nanosecond})
	}},
	// On Valkey 8.1 a swap is one SET … IFEQ, not Redis 7.0's transaction
	// around a script; scs-goredis-valkey is the same server's baseline.
	{name: "chisess-rueidis-valkey", needs: envValkey, setup: func(tb testing.TB) instance {
		return chisessRueidis(tb, envValkey, rueidisbackend.Options{})
	}},
	{name: "chisess-bolt", setup: func(tb testing.TB) instance {
		return chisessBolt(tb, false)
	}},
	{name: "chisess-bolt-nosync", setup: func(tb testing.TB) instance {
		return chisessBolt(tb, true)
	}},
	{name: "chisess-postgres", needs: envPostgres, setup: func(tb testing.TB) instance {
		pool := pgPool(tb)
		table := "chisess_bench_" + randHex(tb, 6)
		store, err := pgbackend.New(context.Background(), pool, pgbackend.Options{
			Table: table, CreateTable: true, SweepInterval: -1,
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			store.Close()
			_, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize())
			if err != nil {
				tb.Errorf("drop %s: %v", table, err)
			}
		})
		return chisessInstance(tb, chisess.Config{Backend: store}, nil)
	}},
	{name: "scs-memstore", setup: func(tb testing.TB) instance {
		// No cleanup goroutine: it would keep the store, and every session
		// E created, alive (and the GC busy) for the rest of the run, and
		// its StopCleanup races with it in scs v2.9.0. Find checks expiry
		// on every read, so requests cost the same.
		return scsInstance(memstore.NewWithCleanupInterval(0), nil)
	}},
	{name: "scs-goredis", needs: envRedis, setup: func(tb testing.TB) instance {
		client, rt := redisClient(tb, envRedis)
		return scsInstance(goredisstore.NewWithPrefix(client, redisPrefix(tb, envRedis, "scs")), rt)
	}},
	{name: "scs-goredis-valkey", needs: envValkey, setup: func(tb testing.TB) instance {
		client, rt := redisClient(tb, envValkey)
		return scsInstance(goredisstore.NewWithPrefix(client, redisPrefix(tb, envValkey, "scs")), rt)
	}},
	{name: "gorilla-cookie-hmac", cookieStore: true, setup: func(tb testing.TB) instance {
		return gorillaInstance(sessions.NewCookieStore(hashKey))
	}},
	{name: "gorilla-cookie-aes", cookieStore: true, setup: func(tb testing.TB) instance {
		return gorillaInstance(sessions.NewCookieStore(hashKey, blockKey))
	}},
	{name: "gorilla-filesystem", setup: func(tb testing.TB) instance {
		return gorillaInstance(sessions.NewFilesystemStore(tb.TempDir(), hashKey))
	}},
}

// Fixed keys: the numbers must not depend on the key, and the tests need
// no secrecy.
var (
	secret   = "bench-secret-0123456789abcdefghijklmnopqrstuv" // chisess: ≥ 32 bytes
	hashKey  = []byte("bench-hmac-key-0123456789abcdefghijklmnopqrstuvwxyz-0123456789ab")
	blockKey = []byte("bench-aes-key-0123456789abcdef!!") // 32 bytes: AES-256
)

func randHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// chisess ---------------------------------------------------------------

func chisessInstance(tb testing.TB, cfg chisess.Config, rt *roundTrips) instance {
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.CookieName = cookieName // one name for every library under test
	m, err := chisess.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return instance{handler: router(chisessHandlers(m)), rt: rt}
}

// chisessRueidis is chisess on rueidisbackend with opts, on the server at
// the address in env, its round trips counted as the writes its client
// makes to its connection.
func chisessRueidis(tb testing.TB, env string, opts rueidisbackend.Options) instance {
	addr := requireService(tb, env)
	rt := new(roundTrips)
	opts.Prefix = redisPrefix(tb, env, "chisess-rueidis")
	store, err := rueidisbackend.New(context.Background(), rueidis.ClientOption{InitAddress: []string{addr}, DialCtxFn: rt.dial}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(store.Close)
	inst := chisessInstance(tb, chisess.Config{Backend: store}, rt)
	inst.hits = func() (uint64, uint64) {
		st := store.Stats()
		return st.Hits, st.Hits + st.Misses
	}
	return inst
}

func chisessBolt(tb testing.TB, noSync bool) instance {
	store, err := boltbackend.Open(filepath.Join(tb.TempDir(), "sessions.db"), boltbackend.Options{
		SweepInterval: -1, NoSync: noSync,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := store.Close(); err != nil {
			tb.Error(err)
		}
	})
	return chisessInstance(tb, chisess.Config{Backend: store}, nil)
}

func chisessHandlers(m *chisess.Manager) handlers {
	// load is what every handler that uses the session starts with.
	load := func(w http.ResponseWriter, r *http.Request) *chisess.Session {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			fail(w, "load")
			return nil
		}
		return s
	}
	return handlers{
		mw: chisess.Load(m),
		seed: func(w http.ResponseWriter, r *http.Request) {
			s := load(w, r)
			if s == nil {
				return
			}
			for _, kv := range seedStrings {
				if err := s.Set(kv[0], kv[1]); err != nil {
					fail(w, "set")
					return
				}
			}
			if err := s.Set(counterKey, seedCount); err != nil {
				fail(w, "set")
				return
			}
			ok(w)
		},
		untouched: func(w http.ResponseWriter, r *http.Request) { ok(w) },
		read: func(w http.ResponseWriter, r *http.Request) {
			s := load(w, r)
			if s == nil {
				return
			}
			v, err := chisess.Get[string](s, readKey)
			if err != nil {
				fail(w, "get")
				return
			}
			io.WriteString(w, v)
		},
		rmw: func(w http.ResponseWriter, r *http.Request) {
			s := load(w, r)
			if s == nil {
				return
			}
			n, err := chisess.Get[int](s, counterKey)
			if err != nil {
				fail(w, "get")
				return
			}
			if err := s.Set(counterKey, n+1); err != nil {
				fail(w, "set")
				return
			}
			ok(w)
		},
		create: func(w http.ResponseWriter, r *http.Request) {
			s := load(w, r)
			if s == nil {
				return
			}
			if err := s.Set(counterKey, 1); err != nil {
				fail(w, "set")
				return
			}
			ok(w)
		},
		counter: func(w http.ResponseWriter, r *http.Request) {
			s := load(w, r)
			if s == nil {
				return
			}
			n, err := chisess.Get[int](s, counterKey)
			if err != nil {
				fail(w, "get")
				return
			}
			io.WriteString(w, strconv.Itoa(n))
		},
	}
}

// scs -------------------------------------------------------------------

func scsInstance(store scs.Store, rt *roundTrips) instance {
	sm := scs.New()
	sm.Store = store
	sm.Cookie.Name = cookieName
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) { fail(w, "scs") }
	return instance{handler: router(scsHandlers(sm)), rt: rt}
}

func scsHandlers(sm *scs.SessionManager) handlers {
	return handlers{
		mw: sm.LoadAndSave,
		seed: func(w http.ResponseWriter, r *http.Request) {
			for _, kv := range seedStrings {
				sm.Put(r.Context(), kv[0], kv[1])
			}
			sm.Put(r.Context(), counterKey, seedCount)
			ok(w)
		},
		untouched: func(w http.ResponseWriter, r *http.Request) { ok(w) },
		read: func(w http.ResponseWriter, r *http.Request) {
			v := sm.GetString(r.Context(), readKey)
			if v == "" { // scs reports a missing key as the zero value
				fail(w, "get")
				return
			}
			io.WriteString(w, v)
		},
		rmw: func(w http.ResponseWriter, r *http.Request) {
			n := sm.GetInt(r.Context(), counterKey)
			if n == 0 {
				fail(w, "get")
				return
			}
			sm.Put(r.Context(), counterKey, n+1)
			ok(w)
		},
		create: func(w http.ResponseWriter, r *http.Request) {
			sm.Put(r.Context(), counterKey, 1)
			ok(w)
		},
		counter: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strconv.Itoa(sm.GetInt(r.Context(), counterKey)))
		},
	}
}

// gorilla/sessions ------------------------------------------------------

func gorillaInstance(store sessions.Store) instance {
	return instance{handler: router(gorillaHandlers(store))}
}

func gorillaHandlers(store sessions.Store) handlers {
	// get returns the request's session; a cookie that does not decode is
	// an error, a missing one gives a new session.
	get := func(w http.ResponseWriter, r *http.Request) *sessions.Session {
		s, err := store.Get(r, cookieName)
		if err != nil {
			fail(w, "get")
			return nil
		}
		return s
	}
	save := func(w http.ResponseWriter, r *http.Request, s *sessions.Session) {
		if err := s.Save(r, w); err != nil {
			fail(w, "save")
			return
		}
		ok(w)
	}
	return handlers{
		seed: func(w http.ResponseWriter, r *http.Request) {
			s := get(w, r)
			if s == nil {
				return
			}
			for _, kv := range seedStrings {
				s.Values[kv[0]] = kv[1]
			}
			s.Values[counterKey] = seedCount
			save(w, r, s)
		},
		untouched: func(w http.ResponseWriter, r *http.Request) { ok(w) },
		read: func(w http.ResponseWriter, r *http.Request) {
			s := get(w, r)
			if s == nil {
				return
			}
			v, isString := s.Values[readKey].(string)
			if !isString {
				fail(w, "get")
				return
			}
			io.WriteString(w, v)
		},
		rmw: func(w http.ResponseWriter, r *http.Request) {
			s := get(w, r)
			if s == nil {
				return
			}
			n, isInt := s.Values[counterKey].(int)
			if !isInt {
				fail(w, "get")
				return
			}
			s.Values[counterKey] = n + 1
			save(w, r, s)
		},
		create: func(w http.ResponseWriter, r *http.Request) {
			s := get(w, r)
			if s == nil {
				return
			}
			s.Values[counterKey] = 1
			save(w, r, s)
		},
		counter: func(w http.ResponseWriter, r *http.Request) {
			s := get(w, r)
			if s == nil {
				return
			}
			n, _ := s.Values[counterKey].(int)
			io.WriteString(w, strconv.Itoa(n))
		},
	}
}

// pgPool returns a pool of the PostgreSQL at CHISESS_POSTGRES_URL, closed
// when tb ends.
func pgPool(tb testing.TB) *pgxpool.Pool {
	url := requireService(tb, envPostgres)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		tb.Fatalf("postgres at %s: %v", envPostgres, err)
	}
	tb.Cleanup(pool.Close)
	if err := pool.Ping(context.Background()); err != nil {
		tb.Fatalf("postgres at %s does not answer: %v", envPostgres, err)
	}
	return pool
}
