package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
)

// A store is one test's own place on one kind of server: the flags that
// point chisessctl at it, and a way to open it from the test, with a clock
// an hour behind (so what it writes with a short TTL is already expired
// for chisessctl) or on time.
type store struct {
	env  map[string]string
	open func(t *testing.T, late bool) backend.Backend
	// sweeps: the store keeps expired records until a sweep (PostgreSQL,
	// bbolt); Redis expires them itself.
	sweeps bool
}

// stores returns the stores of every backend chisessctl handles.
func stores() []struct {
	name string
	make func(t *testing.T) store
} {
	return []struct {
		name string
		make func(t *testing.T) store
	}{
		{"redis", func(t *testing.T) store { return redisStore(t, requireService(t, envRedis)) }},
		{"redis cluster", func(t *testing.T) store { return redisStore(t, requireService(t, envCluster)) }},
		{"postgres", postgresStore},
		{"bolt", boltStore},
	}
}

func redisStore(t *testing.T, addr string) store {
	prefix := randomName("chisessctl:test:") + ":"
	var client redis.UniversalClient
	if addrs := strings.Split(addr, ","); len(addrs) > 1 {
		client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	} else {
		client = redis.NewClient(&redis.Options{Addr: addr})
	}
	t.Cleanup(func() { client.Close() })
	return store{
		env: map[string]string{"CHISESS_BACKEND": "redis", "CHISESS_REDIS_ADDR": addr, "CHISESS_REDIS_PREFIX": prefix},
		open: func(t *testing.T, _ bool) backend.Backend {
			s, err := redisbackend.New(client, redisbackend.Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func postgresStore(t *testing.T) store {
	url := requireService(t, envPostgres)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	table := randomName("chisessctl_test_")
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize()); err != nil {
			t.Errorf("drop table %s: %v", table, err)
		}
	})
	return store{
		env:    map[string]string{"CHISESS_BACKEND": "postgres", "CHISESS_POSTGRES_URL": url, "CHISESS_POSTGRES_TABLE": table},
		sweeps: true,
		open: func(t *testing.T, late bool) backend.Backend {
			s, err := pgbackend.New(context.Background(), pool, pgbackend.Options{Table: table, CreateTable: true, SweepInterval: -1, Now: clock(late)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func boltStore(t *testing.T) store {
	path := filepath.Join(t.TempDir(), "sessions.db")
	return store{
		env:    map[string]string{"CHISESS_BACKEND": "bolt", "CHISESS_BOLT_PATH": path},
		sweeps: true,
		open: func(t *testing.T, late bool) backend.Backend {
			s, err := boltbackend.Open(path, boltbackend.Options{SweepInterval: -1, NoSync: true, Now: clock(late)})
			if err != nil {
				t.Fatal(err)
			}
			// bbolt lets one process at a time hold the file, and
			// chisessctl opens it too: each step closes it.
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

// clock returns the real clock, or one an hour behind.
func clock(late bool) func() time.Time {
	if late {
		return func() time.Time { return time.Now().Add(-time.Hour) }
	}
	return time.Now
}

// namespace is the app's Config.Namespace, which chisessctl must be given
// to find its sessions.
const namespace = "ctltest"

// appManager is the app's manager on b.
func appManager(t *testing.T, b backend.Backend) *chisess.Manager {
	t.Helper()
	m, err := chisess.New(chisess.Config{Backend: b, Namespace: namespace, RememberFor: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// step runs f on a fresh open of the store and closes it after, so that
// chisessctl can open a bbolt file between steps.
func step(t *testing.T, st store, late bool, f func(m *chisess.Manager, b backend.Backend)) {
	t.Helper()
	t.Run("", func(t *testing.T) {
		b := st.open(t, late)
		f(appManager(t, b), b)
	})
}

// listed is the JSON of sessions.
type listed struct {
	Owner    string       `json:"owner"`
	Sessions []sessionRow `json:"sessions"`
}

// TestStoreCommands: against each real store, sessions made by an app's
// manager are listed, decoded by token, counted, revoked one by one and
// all at once, and swept when expired, and the store is checked after each
// command.
func TestStoreCommands(t *testing.T) {
	for _, sub := range stores() {
		t.Run(sub.name, func(t *testing.T) {
			is := is.New(t)
			st := sub.make(t)
			env := func(extra ...string) map[string]string {
				e := map[string]string{"CHISESS_NAMESPACE": namespace, "CHISESS_REMEMBER_FOR": "24h"}
				for k, v := range st.env {
					e[k] = v
				}
				for i := 0; i+1 < len(extra); i += 2 {
					e[extra[i]] = extra[i+1]
				}
				return e
			}
			var laptop, phone, bobs string
			step(t, st, false, func(m *chisess.Manager, _ backend.Backend) {
				laptop = signIn(t, m, owned("ada", "Firefox on Linux", false))
				phone = signIn(t, m, owned("ada", "Safari on iPhone", true))
				bobs = signIn(t, m, owned("bob", "Chrome on Windows", false))
			})

			// sessions lists ada's two, and only with her namespace.
			r := ctl(env(), "-json", "sessions", "ada")
			is.Equal(r.code, exitOK) // sessions ada
			var got listed
			decodeJSON(t, r, &got)
			is.Equal(got.Owner, "ada")
			is.Equal(len(got.Sessions), 2) // ada's two sessions
			descs := map[string]sessionRow{}
			for _, s := range got.Sessions {
				descs[s.Description] = s
				is.True(s.Expires.After(s.LastUsed)) // each ends after its last use
			}
			is.True(descs["Safari on iPhone"].Remembered)  // the phone was remembered
			is.True(!descs["Firefox on Linux"].Remembered) // the laptop not
			r = ctl(env("CHISESS_NAMESPACE", "another"), "-json", "sessions", "ada")
			decodeJSON(t, r, &got)
			is.Equal(len(got.Sessions), 0) // another namespace sees none of them

			r = ctl(env(), "sessions", "ada")
			is.Equal(r.code, exitOK)                                // sessions as a table
			is.True(strings.Contains(r.stdout, "HANDLE"))           // with a header
			is.True(strings.Contains(r.stdout, "Safari on iPhone")) // and each session
			is.True(strings.Contains(r.stdout, descs["Firefox on Linux"].Handle))

			// decode takes a token on a server-side store as well.
			r = ctl(env(), "-json", "decode", phone)
			is.Equal(r.code, exitOK) // decode of a token
			var d decoded
			decodeJSON(t, r, &d)
			is.Equal(d.Owner, "ada")
			is.Equal(d.Values["user"], "ada")
			r = ctl(env(), "decode", strings.Repeat("A", 43))
			is.Equal(r.code, exitNotFound)                          // a token the store does not know
			is.True(strings.Contains(r.stderr, "holds no session")) // says so

			// count sees the three sessions, not the owner index.
			var n struct {
				Sessions int64 `json:"sessions"`
			}
			decodeJSON(t, ctl(env(), "-json", "count"), &n)
			is.Equal(n.Sessions, int64(3)) // three sessions in the store

			// revoke ends the laptop's session, and only that.
			laptopHandle := descs["Firefox on Linux"].Handle
			r = ctl(env(), "revoke", "ada", laptopHandle)
			is.Equal(r.code, exitOK) // revoke
			is.True(strings.Contains(r.stdout, "revoked session "+laptopHandle))
			step(t, st, false, func(m *chisess.Manager, _ backend.Backend) {
				_, err := m.Inspect(context.Background(), laptop)
				is.True(errors.Is(err, chisess.ErrUnknownSession)) // the laptop's session is gone from the store
				_, err = m.Inspect(context.Background(), phone)
				is.NoErr(err) // the phone's is still there
			})
			r = ctl(env(), "revoke", "ada", laptopHandle)
			is.Equal(r.code, exitNotFound) // revoking it again finds nothing
			r = ctl(env(), "revoke", "bob", descs["Safari on iPhone"].Handle)
			is.Equal(r.code, exitNotFound) // nor does a handle of another owner's session
			step(t, st, false, func(m *chisess.Manager, _ backend.Backend) {
				_, err := m.Inspect(context.Background(), phone)
				is.NoErr(err) // which stays
			})

			// revoke-all ends the rest of ada's; bob's stays.
			r = ctl(env(), "-json", "revoke-all", "ada")
			var revoked struct {
				Revoked int `json:"revoked"`
			}
			decodeJSON(t, r, &revoked)
			is.Equal(revoked.Revoked, 1) // the phone's
			step(t, st, false, func(m *chisess.Manager, _ backend.Backend) {
				_, err := m.Inspect(context.Background(), phone)
				is.True(errors.Is(err, chisess.ErrUnknownSession)) // the phone's session is gone
				_, err = m.Inspect(context.Background(), bobs)
				is.NoErr(err) // bob's is not
			})
			decodeJSON(t, ctl(env(), "-json", "count"), &n)
			is.Equal(n.Sessions, int64(1)) // bob's alone is left

			// sweep deletes records that expired and were not swept.
			// Redis counts a TTL on its own clock and deletes them by
			// itself, so only the stores that sweep get any.
			var expired []string
			if st.sweeps {
				expired = []string{strings.Repeat("x", 43), strings.Repeat("y", 43)}
			}
			step(t, st, true, func(_ *chisess.Manager, b backend.Backend) {
				for _, k := range expired {
					is.NoErr(b.Write(context.Background(), k, []byte("old"), time.Minute)) // written an hour ago, for a minute
				}
			})
			decodeJSON(t, ctl(env(), "-json", "count"), &n)
			is.Equal(n.Sessions, int64(1)) // expired records do not count
			r = ctl(env(), "-json", "sweep")
			is.Equal(r.code, exitOK) // sweep
			var swept struct {
				Swept int64  `json:"swept"`
				Note  string `json:"note"`
			}
			decodeJSON(t, r, &swept)
			if st.sweeps {
				is.Equal(swept.Swept, int64(len(expired))) // the expired records
				step(t, st, true, func(_ *chisess.Manager, b backend.Backend) {
					for _, k := range expired {
						_, err := b.Read(context.Background(), k)
						is.True(errors.Is(err, backend.ErrNotFound)) // gone even for a clock an hour behind
					}
				})
			} else {
				is.Equal(swept.Swept, int64(0))                                     // nothing to sweep
				is.True(strings.Contains(swept.Note, "expires sessions by itself")) // and says why
			}
			step(t, st, false, func(m *chisess.Manager, _ backend.Backend) {
				_, err := m.Inspect(context.Background(), bobs)
				is.NoErr(err) // a sweep never touches a live session
			})
		})
	}
}
