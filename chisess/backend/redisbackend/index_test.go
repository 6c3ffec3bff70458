package redisbackend_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/chisess/kit/chisess/internal/testkey"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"
)

// ownerKey is the documented Redis key of an owner's index: the prefix,
// "owner:" and the unpadded base64url SHA-256 of the owner.
func ownerKey(prefix, owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return prefix + "owner:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// listingCommands are the commands that walk the keyspace or a whole
// collection. The Store must never send them, nor run them in a script.
var listingCommands = []string{"keys", "scan", "sscan", "zscan", "hscan"}

// TestIndexRoundTrips counts the commands each index method sends, through
// a go-redis hook, on a single node and on a cluster, once the scripts are
// cached: Index and Owned are one EVALSHA each and Unindex one ZREM, all on
// the owner's one key, never a pipeline, KEYS or SCAN.
func TestIndexRoundTrips(t *testing.T) {
	for _, c := range topologies {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			client := c.client(t)
			log := &commandLog{}
			client.AddHook(log)
			store, prefix := newStore(t, client)
			ctx := t.Context()
			key, other := testkey.New(), testkey.New()
			t.Cleanup(func() {
				_ = store.Unindex(context.Background(), "ada", key)
				_ = store.Unindex(context.Background(), "ada", other)
			})

			// Warm up: each script costs EVALSHA, or EVALSHA and then
			// EVAL when the owner's node has not cached it yet.
			is.NoErr(store.Index(ctx, "ada", key, time.Minute)) // warm-up Index
			_, err := store.Owned(ctx, "ada")
			is.NoErr(err) // warm-up Owned
			t.Logf("warm-up: %v", log.names())

			var all []string
			steps := []struct {
				name string
				call func() error
				want []string // command names sent, in order
			}{
				{"Index", func() error { return store.Index(ctx, "ada", other, time.Minute) }, []string{"evalsha"}},
				{"Index of an indexed pair", func() error { return store.Index(ctx, "ada", key, time.Hour) }, []string{"evalsha"}},
				{"Owned", func() error {
					got, err := store.Owned(ctx, "ada")
					if len(got) != 2 {
						return fmt.Errorf("Owned returned %q, want 2 keys", got)
					}
					return err
				}, []string{"evalsha"}},
				{"Unindex", func() error { return store.Unindex(ctx, "ada", other) }, []string{"zrem"}},
				{"Unindex of a missing pair", func() error { return store.Unindex(ctx, "ada", other) }, []string{"zrem"}},
				{"Index with ttl 0", func() error { return store.Index(ctx, "ada", other, 0) }, []string{}}, // sends nothing
				{"Owned after Unindex", func() error {
					got, err := store.Owned(ctx, "ada")
					if !slices.Equal(got, []string{key}) {
						return fmt.Errorf("Owned returned %q, want only %q", got, key)
					}
					return err
				}, []string{"evalsha"}},
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
					is.True(slices.Contains(args, any(ownerKey(prefix, "ada")))) // the one key sent is the owner's
				}
			}
			for _, name := range listingCommands {
				is.True(!slices.Contains(all, name)) // no key listing
			}
		})
	}
}

// TestOwnedNeverScans proves on the server that listing an owner's sessions
// never walks the keyspace: it reads each node's INFO commandstats, which
// counts the commands scripts run as well, before and after indexing,
// listing and unindexing the sessions of 50 owners, and checks that no KEYS
// or SCAN ran while ZRANGEBYSCORE, which Owned's script runs, did.
func TestOwnedNeverScans(t *testing.T) {
	for _, c := range topologies {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			client := c.client(t)
			store, _ := newStore(t, client)
			ctx := t.Context()

			before := commandCalls(t, client)
			const owners = 50
			for i := range owners {
				owner := fmt.Sprint("user:", i)
				keys := []string{testkey.New(), testkey.New()}
				for _, k := range keys {
					is.NoErr(store.Index(ctx, owner, k, time.Minute)) // Index
				}
				got, err := store.Owned(ctx, owner)
				is.NoErr(err)         // Owned
				is.Equal(len(got), 2) // lists the owner's two sessions
				for _, k := range keys {
					is.NoErr(store.Unindex(ctx, owner, k)) // Unindex
				}
			}
			after := commandCalls(t, client)

			for _, name := range listingCommands {
				is.Equal(after[name], before[name]) // the server ran no KEYS and no SCAN
			}
			// Other tests may run ZRANGEBYSCORE at the same time, so at
			// least one call per Owned.
			is.True(after["zrangebyscore"]-before["zrangebyscore"] >= owners) // the script's own commands are counted
		})
	}
}

// commandCalls sums, over every master that client reaches, how many times
// each command has run, from INFO commandstats.
func commandCalls(t *testing.T, client redis.UniversalClient) map[string]int64 {
	t.Helper()
	is := is.New(t)
	is.Helper()
	var mu sync.Mutex
	calls := map[string]int64{}
	add := func(ctx context.Context, node *redis.Client) error {
		info, err := node.Info(ctx, "commandstats").Result()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for line := range strings.SplitSeq(info, "\n") {
			// cmdstat_get:calls=12,usec=34,...
			name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":calls=")
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			if err != nil {
				return err
			}
			calls[strings.ToLower(name)] += n
		}
		return nil
	}
	var err error
	switch c := client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(t.Context(), add)
	case *redis.Client:
		err = add(t.Context(), c)
	default:
		t.Fatalf("commandCalls: unexpected client %T", client)
	}
	is.NoErr(err) // INFO commandstats
	return calls
}

// TestIndexLayout checks where an owner's index lives and what it holds:
// one sorted set under the prefix, "owner:" and the hash of the owner,
// whose members are the session keys and whose scores are the ends of the
// entries, in Unix milliseconds of the server's clock, with a TTL to the
// latest end. An entry's end only moves later, an Index drops the entries
// that have ended, and Unindex removes one member.
func TestIndexLayout(t *testing.T) {
	is := is.New(t)
	client := redisClient(t)
	store, prefix := newStore(t, client)
	ctx := t.Context()
	owner := "user:{42} *"
	zkey := ownerKey(prefix, owner)
	t.Cleanup(func() { client.Del(context.Background(), zkey) })
	key, other := testkey.New(), testkey.New()

	serverNow := func() time.Time {
		now, err := client.Time(ctx).Result()
		is.NoErr(err) // TIME
		return now
	}
	score := func(member string) time.Time {
		ms, err := client.ZScore(ctx, zkey, member).Result()
		is.NoErr(err) // ZSCORE
		return time.UnixMilli(int64(ms))
	}
	pttl := func() time.Duration {
		d, err := client.PTTL(ctx, zkey).Result()
		is.NoErr(err) // PTTL
		return d
	}
	near := func(got, want time.Time) bool { return got.Sub(want).Abs() < 5*time.Second }

	is.NoErr(store.Index(ctx, owner, key, time.Hour)) // Index
	typ, err := client.Type(ctx, zkey).Result()
	is.NoErr(err)         // TYPE
	is.Equal(typ, "zset") // the owner's index is one sorted set
	n, err := client.Exists(ctx, prefix+"owner:"+owner).Result()
	is.NoErr(err)                                                              // EXISTS
	is.Equal(n, int64(0))                                                      // under a hash of the owner, not the owner itself
	is.True(near(score(key), serverNow().Add(time.Hour)))                      // the score is the end, by the server's clock
	is.True(pttl() > 59*time.Minute && pttl() <= time.Hour)                    // the set lives as long as its latest entry
	is.NoErr(store.Index(ctx, owner, key, time.Minute))                        // Index with a shorter ttl
	is.True(near(score(key), serverNow().Add(time.Hour)))                      // keeps the later end
	is.True(pttl() > 59*time.Minute)                                           // and the set's TTL
	is.NoErr(store.Index(ctx, owner, key, 2*time.Hour))                        // Index with a longer ttl
	is.True(near(score(key), serverNow().Add(2*time.Hour)))                    // moves the end later
	is.True(pttl() > 119*time.Minute && pttl() <= 2*time.Hour)                 // and the set's TTL with it
	is.NoErr(client.ZAdd(ctx, zkey, redis.Z{Score: 1, Member: "ended"}).Err()) // plant an entry that ended in 1970
	is.NoErr(store.Index(ctx, owner, other, time.Minute))                      // the next Index
	members, err := client.ZRange(ctx, zkey, 0, -1).Result()
	is.NoErr(err)                            // ZRANGE
	is.Equal(members, []string{other, key})  // dropped the ended entry, in order of end
	is.NoErr(store.Unindex(ctx, owner, key)) // Unindex
	members, err = client.ZRange(ctx, zkey, 0, -1).Result()
	is.NoErr(err)                      // ZRANGE
	is.Equal(members, []string{other}) // removed only that member
	is.True(pttl() > 119*time.Minute)  // and left the set's TTL alone
	got, err := store.Owned(ctx, owner)
	is.NoErr(err)                  // Owned
	is.Equal(got, []string{other}) // lists what is left
}

// TestOwnersSpreadOverCluster indexes a session for each of 90 owners on a
// cluster, some of whose names look like hash tags, and checks that every
// listing works and that the owners' sets land on all three masters: the
// hash of the owner decides the slot, so names like "{team}a" and
// "{team}b" do not pile onto one node.
func TestOwnersSpreadOverCluster(t *testing.T) {
	is := is.New(t)
	client := clusterClient(t)
	store, prefix := newStore(t, client)
	ctx := t.Context()

	const owners = 90
	keys := map[string]string{} // owner → key
	for i := range owners {
		owner := fmt.Sprint("user:", i)
		if i%3 == 0 {
			owner = fmt.Sprint("{team}", i)
		}
		keys[owner] = testkey.New()
		is.NoErr(store.Index(ctx, owner, keys[owner], time.Minute)) // Index on the cluster, no CROSSSLOT
	}
	t.Cleanup(func() {
		for owner, k := range keys {
			_ = store.Unindex(context.Background(), owner, k)
		}
	})
	slots := map[int64]bool{}
	for owner, k := range keys {
		got, err := store.Owned(ctx, owner)
		is.NoErr(err)              // Owned on the cluster
		is.Equal(got, []string{k}) // lists the owner's session
		if strings.HasPrefix(owner, "{team}") {
			slot, err := client.ClusterKeySlot(ctx, ownerKey(prefix, owner)).Result()
			is.NoErr(err) // CLUSTER KEYSLOT
			slots[slot] = true
		}
	}
	is.True(len(slots) > 1) // owners that share a hash-tag-like name do not share a slot

	sets := make([]string, 0, len(keys))
	for owner := range keys {
		sets = append(sets, ownerKey(prefix, owner))
	}
	assertSpread(t, client, sets, "owner sets")
}

// TestIndexOutage points a Store at a port nobody listens on: the index
// methods fail with the network error, never reporting an owner with no
// sessions.
func TestIndexOutage(t *testing.T) {
	client := redis.NewClient(&redis.Options{
		Addr:          testenv.DeadAddr(t),
		DialTimeout:   time.Second,
		DialerRetries: 1,
		MaxRetries:    -1,
	})
	t.Cleanup(func() { _ = client.Close() })
	store, err := redisbackend.New(client, redisbackend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Index", func(ctx context.Context) error { return store.Index(ctx, "ada", testkey.New(), time.Minute) }},
		{"Unindex", func(ctx context.Context) error { return store.Unindex(ctx, "ada", testkey.New()) }},
		{"Owned", func(ctx context.Context) error { _, err := store.Owned(ctx, "ada"); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			err := c.call(t.Context())
			t.Logf("%s: %v", c.name, err)
			var netErr net.Error
			is.True(errors.As(err, &netErr))                                                       // the network error is wrapped
			is.True(!errors.Is(err, backend.ErrNotFound))                                          // an outage is never "not found"
			is.True(strings.HasPrefix(err.Error(), "chisess: redis "+strings.ToLower(c.name)+":")) // the error says which operation failed
		})
	}
}

// TestOwnerIndexWithChisess logs one user in on three devices through
// chisess with the Store on a real Redis, lists the devices, logs out
// everywhere else, and checks that no request and no listing sent KEYS or
// SCAN.
func TestOwnerIndexWithChisess(t *testing.T) {
	is := is.New(t)
	client := redisClient(t)
	log := &commandLog{}
	client.AddHook(log)
	store, _ := newStore(t, client)
	m, err := chisess.New(chisess.Config{Backend: store, Insecure: true, Lifetime: time.Hour})
	is.NoErr(err) // chisess accepts the Store as its Backend

	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			http.Error(w, "load failed", http.StatusInternalServerError)
			return
		}
		if err := s.SetOwner("ada"); err != nil {
			http.Error(w, "set owner failed", http.StatusInternalServerError)
			return
		}
		s.SetDescription(r.URL.Query().Get("device"))
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			http.Error(w, "load failed", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, s.Owner())
	})
	h := chisess.Load(m)(mux)
	// do sends one request with the device's cookie and keeps the cookie
	// the response sets.
	do := func(cookie **http.Cookie, target string) string {
		req := httptest.NewRequest("GET", target, nil)
		if *cookie != nil {
			req.AddCookie(*cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		is.Equal(rec.Code, http.StatusOK) // the request succeeds
		if cs := rec.Result().Cookies(); len(cs) > 0 {
			*cookie = cs[0]
		}
		return rec.Body.String()
	}

	devices := []string{"laptop", "phone", "tablet"}
	cookies := make([]*http.Cookie, len(devices))
	for i, d := range devices {
		do(&cookies[i], "/login?device="+d)
	}
	infos, err := m.Sessions(t.Context(), "ada")
	is.NoErr(err)           // the owner's sessions list
	is.Equal(len(infos), 3) // all three devices
	t.Cleanup(func() { _, _ = m.DestroyOwner(context.Background(), "ada", nil) })

	n, err := m.DestroyOwner(t.Context(), "ada", nil)
	is.NoErr(err)                        // log out everywhere
	is.Equal(n, 3)                       // ends the three sessions
	is.Equal(do(&cookies[1], "/me"), "") // the phone is logged out
	infos, err = m.Sessions(t.Context(), "ada")
	is.NoErr(err)           // listing again
	is.Equal(len(infos), 0) // finds nothing

	names := log.names()
	is.True(slices.Contains(names, "evalsha")) // the index was used
	for _, name := range listingCommands {
		is.True(!slices.Contains(names, name)) // and nothing listed keys
	}
}

// TestIndexHugeTTL indexes sessions for more than a year and for the
// longest time.Duration: the script's arithmetic on Unix milliseconds stays
// exact, and both are listed.
func TestIndexHugeTTL(t *testing.T) {
	is := is.New(t)
	client := redisClient(t)
	store, prefix := newStore(t, client)
	ctx := t.Context()
	t.Cleanup(func() { client.Del(context.Background(), ownerKey(prefix, "ada")) })
	year, forever := testkey.New(), testkey.New()
	is.NoErr(store.Index(ctx, "ada", year, 400*24*time.Hour))          // Index for 400 days
	is.NoErr(store.Index(ctx, "ada", forever, time.Duration(1<<63-1))) // Index for 292 years
	now, err := client.Time(ctx).Result()
	is.NoErr(err) // TIME
	ms, err := client.ZScore(ctx, ownerKey(prefix, "ada"), year).Result()
	is.NoErr(err)                                                                           // ZSCORE
	is.True(time.UnixMilli(int64(ms)).Sub(now.Add(400*24*time.Hour)).Abs() < 5*time.Second) // the end is the server time plus 400 days
	got, err := store.Owned(ctx, "ada")
	is.NoErr(err)                                                        // Owned
	is.Equal(sortedStrings(got), sortedStrings([]string{year, forever})) // lists both
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
