package redisbackend_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/chisess/kit/chisess/internal/testkey"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"
)

func TestNew(t *testing.T) {
	is := is.New(t)
	// New makes no Redis call, so a client of an address nobody listens
	// on is enough.
	client := redis.NewClient(&redis.Options{Addr: testenv.DeadAddr(t)})
	t.Cleanup(func() { _ = client.Close() })
	var nilClient *redis.Client
	var nilCluster *redis.ClusterClient

	tests := []struct {
		name    string
		client  redis.UniversalClient
		prefix  string
		wantErr string // "" for no error
	}{
		{name: "zero options", client: client},
		{name: "own prefix", client: client, prefix: "myapp:sess:"},
		{name: "unicode prefix", client: client, prefix: "sessões:"},
		{name: "open brace only", client: client, prefix: "a{b:"},
		{name: "empty hash tag", client: client, prefix: "a{}b:"},
		{name: "close before open", client: client, prefix: "a}b{:"},
		{name: "nil client", wantErr: "redisbackend.New: client is nil; pass the app's go-redis client"},
		{name: "nil *redis.Client", client: nilClient, wantErr: "client is nil; pass"},
		{name: "nil *redis.ClusterClient", client: nilCluster, wantErr: "client is nil; pass"},
		{name: "space", client: client, prefix: "my app:", wantErr: "Options.Prefix \"my app:\" contains a space; pass printable text with no spaces and no {hash tag}, such as \"myapp:session:\", or leave it empty for \"chisess:session:\""},
		{name: "tab", client: client, prefix: "app\t", wantErr: "Options.Prefix \"app\\t\" contains the white-space character U+0009"},
		{name: "newline", client: client, prefix: "app\n", wantErr: "Options.Prefix \"app\\n\" contains the white-space character U+000A"},
		{name: "no-break space", client: client, prefix: "app\u00a0", wantErr: "contains the white-space character U+00A0"},
		{name: "NUL", client: client, prefix: "app\x00", wantErr: "contains the control character U+0000"},
		{name: "DEL", client: client, prefix: "app\x7f", wantErr: "contains the control character U+007F"},
		{name: "invalid UTF-8", client: client, prefix: "app\xff", wantErr: "is not valid UTF-8"},
		{name: "hash tag", client: client, prefix: "{app}:", wantErr: "Options.Prefix \"{app}:\" contains a Redis Cluster hash tag"},
		{name: "hash tag later", client: client, prefix: "a:{b}:", wantErr: "contains a Redis Cluster hash tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			store, err := redisbackend.New(tt.client, redisbackend.Options{Prefix: tt.prefix})
			if tt.wantErr == "" {
				is.NoErr(err)         // valid options
				is.True(store != nil) // a Store comes back with no error
				return
			}
			is.True(err != nil)                                  // invalid options are refused
			is.True(store == nil)                                // no Store comes back with an error
			is.True(strings.Contains(err.Error(), tt.wantErr))   // the error says what is wrong, naming the argument or field
			is.True(strings.Contains(err.Error(), "; pass "))    // and what to pass instead
			is.True(strings.HasPrefix(err.Error(), "chisess: ")) // errors carry the package prefix
			if tt.prefix != "" {
				is.True(errors.Is(err, redisbackend.ErrInvalidOptions)) // bad options wrap ErrInvalidOptions
			}
		})
	}
	is.Equal(redisbackend.DefaultPrefix, "chisess:session:") // documented default
}

// TestRoundTrips counts the commands each method sends, through a go-redis
// hook, on a single node and on a cluster: one per call, never a pipeline,
// and never KEYS or SCAN.
func TestRoundTrips(t *testing.T) {
	for _, c := range topologies {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			client := c.client(t)
			log := &commandLog{}
			client.AddHook(log)
			store, prefix := newStore(t, client)
			ctx := t.Context()
			key := testkey.New()
			// Warm up: the first call may dial and, on a cluster, load
			// the slot map and the command table. Count what follows.
			_, err := store.Read(ctx, testkey.New())
			is.True(errors.Is(err, backend.ErrNotFound)) // warm-up read of a missing key
			warm, _, dials := log.snapshot()
			t.Logf("first call: %d commands (%v), %d dials", len(warm), log.names(), dials)
			log.reset()

			var all []string
			steps := []struct {
				name string
				call func() error
				want []string // command names sent, in order
			}{
				{"Read of a missing key", func() error {
					_, err := store.Read(ctx, key)
					if !errors.Is(err, backend.ErrNotFound) {
						return fmt.Errorf("want ErrNotFound, got %v", err)
					}
					return nil
				}, []string{"get"}},
				{"Write", func() error { return store.Write(ctx, key, []byte("data"), time.Minute) }, []string{"set"}},
				{"Read", func() error { _, err := store.Read(ctx, key); return err }, []string{"get"}},
				{"Write again", func() error { return store.Write(ctx, key, []byte("data2"), time.Minute) }, []string{"set"}},
				{"Delete", func() error { return store.Delete(ctx, key) }, []string{"del"}},
				{"Delete of a missing key", func() error { return store.Delete(ctx, key) }, []string{"del"}},
				{"Write with ttl 0", func() error { return store.Write(ctx, key, []byte("data"), 0) }, []string{"del"}},
			}
			for _, s := range steps {
				log.reset()
				is.NoErr(s.call()) // each step succeeds
				cmds, pipelines, dials := log.snapshot()
				got := log.names()
				t.Logf("%s: %v", s.name, got)
				is.Equal(got, s.want)  // one command per call
				is.Equal(pipelines, 0) // no pipelines or transactions
				is.Equal(dials, 0)     // the pooled connection is reused
				all = append(all, got...)
				for _, args := range cmds {
					is.True(strings.HasPrefix(args[1].(string), prefix)) // every key sent is under the store's prefix
				}
			}
			is.True(!slices.Contains(all, "keys")) // the store never sends KEYS
			is.True(!slices.Contains(all, "scan")) // nor SCAN
		})
	}
}

// TestWriteRelativeTTL checks that Write sends SET … PX with the TTL in
// milliseconds, rounded up, and that Redis holds the key with that TTL
// (PTTL), never an absolute expiry that app/server clock skew could move.
func TestWriteRelativeTTL(t *testing.T) {
	is := is.New(t)
	client := redisClient(t)
	log := &commandLog{}
	client.AddHook(log)
	store, prefix := newStore(t, client)

	tests := []struct {
		name   string
		ttl    time.Duration
		wantPX int64
	}{
		{"whole seconds", 90 * time.Second, 90_000},
		{"whole hours", 24 * time.Hour, 86_400_000},
		{"more than a year", 400 * 24 * time.Hour, 34_560_000_000},
		{"milliseconds", 1500 * time.Millisecond, 1500},
		{"fraction of a millisecond rounds up", 1500 * time.Microsecond, 2},
		{"one nanosecond rounds up", time.Nanosecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			key := testkey.New()
			data := []byte("session")
			log.reset()
			is.NoErr(store.Write(t.Context(), key, data, tt.ttl)) // write succeeds
			args := log.last()
			is.Equal(len(args), 5)            // SET key value PX ms, nothing else
			is.Equal(args[0], "set")          // one SET
			is.Equal(args[1], prefix+key)     // the key is prefix + key
			is.Equal(args[2], any(data))      // the value as given
			is.Equal(args[3], "px")           // a relative TTL in milliseconds, not EX, EXAT or PXAT
			is.Equal(args[4], any(tt.wantPX)) // the TTL in milliseconds, rounded up
			if tt.wantPX < 10_000 {
				return // may have expired already; PTTL would say -2
			}
			pttl, err := client.PTTL(t.Context(), prefix+key).Result()
			is.NoErr(err)                                                           // PTTL works
			is.True(pttl <= time.Duration(tt.wantPX)*time.Millisecond)              // Redis holds no more than the TTL asked for
			is.True(pttl > time.Duration(tt.wantPX)*time.Millisecond-5*time.Second) // and counts it from the write, not from an app clock
			is.NoErr(store.Delete(t.Context(), key))                                // tidy up
		})
	}
	for _, name := range log.names() {
		is.True(!strings.Contains(name, "expire")) // no EXPIRE, EXPIREAT, PEXPIREAT
	}
}

// TestKeyLayout checks where a session lands: prefix + key, and nowhere
// else, with the documented default prefix when Options.Prefix is empty.
func TestKeyLayout(t *testing.T) {
	is := is.New(t)
	client := redisClient(t)
	custom, customPrefix := newStore(t, client)
	def, err := redisbackend.New(client, redisbackend.Options{})
	is.NoErr(err) // zero Options are valid

	tests := []struct {
		name   string
		store  *redisbackend.Store
		prefix string
	}{
		{"own prefix", custom, customPrefix},
		{"default prefix", def, "chisess:session:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			ctx := t.Context()
			key := testkey.New()                                               // random, so the default prefix shares the server safely
			is.NoErr(tt.store.Write(ctx, key, []byte("session"), time.Minute)) // write succeeds
			t.Cleanup(func() { _ = tt.store.Delete(context.Background(), key) })

			got, err := client.Get(ctx, tt.prefix+key).Result()
			is.NoErr(err)            // the session is a plain string under prefix + key
			is.Equal(got, "session") // holding the bytes written
			n, err := client.Exists(ctx, key).Result()
			is.NoErr(err)         // EXISTS works
			is.Equal(n, int64(0)) // nothing is stored under the bare key
			typ, err := client.Type(ctx, tt.prefix+key).Result()
			is.NoErr(err)           // TYPE works
			is.Equal(typ, "string") // one string key per session, no hash or set beside it

			is.NoErr(tt.store.Delete(ctx, key)) // delete succeeds
			n, err = client.Exists(ctx, tt.prefix+key).Result()
			is.NoErr(err)         // EXISTS works
			is.Equal(n, int64(0)) // Delete removed the key from Redis
		})
	}
}

// TestClusterSpread writes 200 sessions through a cluster client and checks
// that they land on all three masters, with no CROSSSLOT or other errors:
// each session is one key, so one hash slot.
func TestClusterSpread(t *testing.T) {
	is := is.New(t)
	client := clusterClient(t)
	store, prefix := newStore(t, client)
	ctx := t.Context()

	const sessions = 200
	keys := make([]string, sessions)
	for i := range keys {
		keys[i] = testkey.New()
		is.NoErr(store.Write(ctx, keys[i], []byte(fmt.Sprint("session ", i)), time.Minute)) // every write succeeds, no CROSSSLOT
	}
	t.Cleanup(func() {
		for _, k := range keys {
			_ = store.Delete(context.Background(), k)
		}
	})
	for i, k := range keys {
		got, err := store.Read(ctx, k)
		is.NoErr(err)                                    // every session reads back through the cluster
		is.Equal(string(got), fmt.Sprint("session ", i)) // with its own data
	}

	stored := make([]string, len(keys))
	for i, k := range keys {
		stored[i] = prefix + k
	}
	assertSpread(t, client, stored, "sessions")
}

// TestOutage points a Store at a port nobody listens on: every call fails
// fast with an error that wraps the network error and is not ErrNotFound,
// so chisess fails the request instead of starting a fresh session.
func TestOutage(t *testing.T) {
	is := is.New(t)
	client := redis.NewClient(&redis.Options{
		Addr:          testenv.DeadAddr(t),
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		DialerRetries: 1,  // one dial per call, no backoff
		MaxRetries:    -1, // no command retries (0 means the default, 3)
	})
	t.Cleanup(func() { _ = client.Close() })
	store, err := redisbackend.New(client, redisbackend.Options{})
	is.NoErr(err) // New makes no Redis call, so it succeeds while Redis is down

	key := testkey.New()
	calls := []struct {
		name   string
		call   func(ctx context.Context) error
		prefix string
	}{
		{"Read", func(ctx context.Context) error { _, err := store.Read(ctx, key); return err }, "chisess: redis read: "},
		{"Write", func(ctx context.Context) error { return store.Write(ctx, key, []byte("session"), time.Minute) }, "chisess: redis write: "},
		{"Write with ttl 0", func(ctx context.Context) error { return store.Write(ctx, key, []byte("session"), 0) }, "chisess: redis write: "},
		{"Delete", func(ctx context.Context) error { return store.Delete(ctx, key) }, "chisess: redis delete: "},
		{"Swap", func(ctx context.Context) error {
			return swapErr(store.Swap(ctx, key, []byte("old"), []byte("new"), time.Minute))
		}, "chisess: redis swap: "},
		{"Swap create", func(ctx context.Context) error {
			return swapErr(store.Swap(ctx, key, nil, []byte("new"), time.Minute))
		}, "chisess: redis swap: "},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			err := c.call(t.Context())
			t.Logf("%s: %v", c.name, err)
			is.True(err != nil)                           // a call to a down server fails
			is.True(!errors.Is(err, backend.ErrNotFound)) // an outage is never "not found"
			var netErr net.Error
			is.True(errors.As(err, &netErr))                  // the network error is wrapped, for errors.As
			is.True(strings.HasPrefix(err.Error(), c.prefix)) // the error says which operation failed
		})
	}
}

// TestDeadlineWhileWaiting points a Store at a server that accepts and never
// answers. With ContextTimeoutEnabled, as the package doc advises, a call
// returns when its context's deadline passes, long before the client's
// ReadTimeout, with an error that wraps both context.DeadlineExceeded and
// the network timeout.
func TestDeadlineWhileWaiting(t *testing.T) {
	is := is.New(t)
	client := redis.NewClient(&redis.Options{
		Addr:                  silentAddr(t),
		ReadTimeout:           time.Minute,
		WriteTimeout:          time.Minute,
		DialerRetries:         1,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = client.Close() })
	store, err := redisbackend.New(client, redisbackend.Options{})
	is.NoErr(err) // valid options

	key := testkey.New()
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Read", func(ctx context.Context) error { _, err := store.Read(ctx, key); return err }},
		{"Write", func(ctx context.Context) error { return store.Write(ctx, key, []byte("session"), time.Minute) }},
		{"Delete", func(ctx context.Context) error { return store.Delete(ctx, key) }},
		{"Swap", func(ctx context.Context) error {
			return swapErr(store.Swap(ctx, key, []byte("old"), []byte("new"), time.Minute))
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- c.call(ctx) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				is.Fail() // the call ignored its context's deadline and waited for ReadTimeout
			}
			t.Logf("%s: %v", c.name, err)
			is.True(errors.Is(err, context.DeadlineExceeded)) // the context's error is wrapped
			is.True(!errors.Is(err, backend.ErrNotFound))     // a timeout is never "not found"
		})
	}
}

// payload330 is about the size of a small real session: a user ID, a CSRF
// token, a flash message and chisess's metadata.
var payload330 = []byte(strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", 10)[:330])

func BenchmarkRead(b *testing.B) {
	store, _ := newStore(b, redisClient(b))
	ctx := b.Context()
	key := testkey.New()
	if err := store.Write(ctx, key, payload330, time.Minute); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Delete(context.Background(), key) })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := store.Read(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	store, _ := newStore(b, redisClient(b))
	ctx := b.Context()
	key := testkey.New()
	b.Cleanup(func() { _ = store.Delete(context.Background(), key) })
	b.ReportAllocs()
	for b.Loop() {
		if err := store.Write(ctx, key, payload330, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// swapErr returns Swap's error, and an error of its own if Swap also
// reported a swap, which a failed call must never do.
func swapErr(swapped bool, err error) error {
	if swapped {
		return fmt.Errorf("swap returned true with error %v", err)
	}
	return err
}
