package migrate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/v2"
	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/chisess/kit/chisess/migrate"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"
)

// legacyCart is a type the old sessions hold that nothing converts: it is
// left out, and its key logged.
type legacyCart struct{ Items []string }

// legacyPrefs is a type the old sessions hold that a Converter turns into
// a string.
type legacyPrefs struct{ Theme string }

func init() {
	gob.Register(legacyCart{})
	gob.Register(legacyPrefs{})
	gob.Register(time.Time{}) // scs and gorilla store values as interfaces: gob needs their types registered
}

// signedInAt is when the user signed in under the old library.
var signedInAt = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// secretItem is in the cart: it must never reach the log.
const secretItem = "secret-item-4711"

// signedIn is what the old apps store at /login: a signed-in user.
var signedIn = map[string]any{
	"user_id":      42,
	"name":         "ada",
	"roles":        []string{"admin", "editor"},
	"signed_in_at": signedInAt,
	"admin":        true,
	"prefs":        legacyPrefs{Theme: "dark"},
	"cart":         legacyCart{Items: []string{secretItem}},
}

// wantAccount is what the new app's /account shows for that user.
const wantAccount = "42 ada [admin editor] 2025-03-14T09:26:53Z true dark cart:false"

// oldApp is an application as it ran before the switch.
type oldApp struct {
	handler http.Handler   // serves /login, which signs the user in
	source  migrate.Source // the same library, for migrate.Load
	cookie  string         // the old cookie's name
	// stored reports whether the old store still holds the session of
	// token; nil when the session lives in the cookie alone.
	stored func(t *testing.T, token string) bool
}

// oldSCS is an scs app over store: LoadAndSave, as scs's README wires it.
func oldSCS(store scs.Store) oldApp {
	sm := scs.New()
	sm.Store = store
	sm.Cookie.Secure = true
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		for k, v := range signedIn {
			sm.Put(r.Context(), k, v)
		}
		io.WriteString(w, "signed in")
	})
	return oldApp{
		handler: sm.LoadAndSave(mux),
		source:  migrate.SCS(sm),
		cookie:  sm.Cookie.Name,
		stored: func(t *testing.T, token string) bool {
			find := store.Find
			if cs, ok := store.(scs.CtxStore); ok { // goredisstore has only the Ctx methods
				find = func(token string) ([]byte, bool, error) { return cs.FindCtx(context.Background(), token) }
			}
			_, found, err := find(token)
			if err != nil {
				t.Fatal(err)
			}
			return found
		},
	}
}

// The old gorilla app's keys: a hash key and a block key, as its README
// advises.
var (
	gorillaHash  = []byte("gorilla-hash-key-gorilla-hash-key-64-bytes-gorilla-hash-key-64b")
	gorillaBlock = []byte("gorilla-block-key-32-bytes-long!")
)

// oldGorilla is a gorilla/sessions app with a CookieStore.
func oldGorilla() oldApp {
	store := sessions.NewCookieStore(gorillaHash, gorillaBlock)
	const name = "gsession"
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, name)
		for k, v := range signedIn {
			s.Values[k] = v
		}
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "signed in")
	})
	return oldApp{handler: mux, source: migrate.Gorilla(store, name), cookie: name}
}

// The old apps, one per store.
var oldApps = []struct {
	name string
	new  func(t *testing.T) oldApp
}{
	{"scs redis", func(t *testing.T) oldApp {
		return oldSCS(goredisstore.NewWithPrefix(redisClient(t), randomName(t, "chisess-migrate:")+":"))
	}},
	{"scs postgres", func(t *testing.T) oldApp { return oldSCS(postgresStore(t)) }},
	{"gorilla cookie", func(t *testing.T) oldApp { return oldGorilla() }},
}

// newApp is the application after the switch: chisess with migrate.Load.
// /account needs a signed-in user and shows what the session holds.
func newApp(t *testing.T, opts migrate.Options, source migrate.Source) (http.Handler, *chisess.Manager) {
	t.Helper()
	store := backend.NewMemory()
	t.Cleanup(func() { store.Close() })
	m, err := chisess.New(chisess.Config{Backend: store})
	if err != nil {
		t.Fatal(err)
	}
	opts.Converters = append(opts.Converters, migrate.Convert(func(p legacyPrefs) (any, error) { return p.Theme, nil }))
	opts.Rename = map[string]string{"prefs": "theme"}
	mux := http.NewServeMux()
	mux.Handle("/account", chisess.Require("user_id", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "sign in", http.StatusUnauthorized)
	}))(http.HandlerFunc(account)))
	return migrate.Load(m, opts, source)(mux), m
}

func account(w http.ResponseWriter, r *http.Request) {
	s := chisess.From(r.Context())
	id, err1 := chisess.Get[int](s, "user_id")
	name, err2 := chisess.Get[string](s, "name")
	roles, err3 := chisess.Get[[]string](s, "roles")
	at, err4 := chisess.Get[time.Time](s, "signed_in_at")
	admin, err5 := chisess.Get[bool](s, "admin")
	theme, err6 := chisess.Get[string](s, "theme")
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	fmt.Fprintf(w, "%d %s %v %s %t %s cart:%t", id, name, roles, at.UTC().Format(time.RFC3339), admin, theme, s.Has("cart"))
}

// switchable is a server's handler, swapped as a deployment swaps the app.
type switchable struct{ h atomic.Pointer[http.Handler] }

func (s *switchable) set(h http.Handler)                               { s.h.Store(&h) }
func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

// body reads resp's body (sessiontest's Client has read it already).
func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setCookie returns the cookie named name that resp sets, or nil.
func setCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// A user signed in under the old library keeps their data and their
// sign-in when the app switches to chisess: the first request trades the
// old cookie for a chisess one, the old cookie is expired and the old
// session deleted, and the next request needs only the chisess cookie.
func TestSignedInUserKeepsTheirSession(t *testing.T) {
	for _, tt := range oldApps {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			old := tt.new(t)
			var logs bytes.Buffer
			app, m := newApp(t, migrate.Options{
				Until:  time.Now().Add(time.Hour),
				Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
			}, old.source)
			var srv switchable
			srv.set(old.handler)
			c := sessiontest.NewClient(t, &srv)

			is.Equal(c.Get("/login").StatusCode, http.StatusOK)
			before := c.Cookie(old.cookie)
			is.True(before != nil) // the old app set its cookie

			srv.set(app) // the switch
			resp := c.Get("/account")
			is.Equal(resp.StatusCode, http.StatusOK)
			is.Equal(body(t, resp), wantAccount)            // the data, typed, and the sign-in
			is.True(setCookie(resp, m.CookieName()) != nil) // a chisess cookie
			expired := setCookie(resp, old.cookie)
			is.True(expired != nil && expired.MaxAge < 0)           // the old cookie expired (Max-Age=0)
			is.True(c.Cookie(old.cookie) == nil)                    // and gone from the browser
			is.True(c.Cookie(m.CookieName()).Value != before.Value) // a fresh token, not the old one
			if old.stored != nil {
				is.True(!old.stored(t, before.Value)) // the old session is deleted from its store
			}
			is.True(strings.Contains(logs.String(), `"key":"cart"`)) // the key left out is logged by name
			is.True(!strings.Contains(logs.String(), secretItem))    // and never with its value
			is.True(!strings.Contains(logs.String(), before.Value))  // nor the old token

			resp = c.Get("/account") // the next request, with the chisess cookie alone
			is.Equal(resp.StatusCode, http.StatusOK)
			is.Equal(body(t, resp), wantAccount)
			is.Equal(len(resp.Cookies()), 0) // nothing more to set or expire
		})
	}
}

// An old cookie that leads to no session is never adopted: an scs token
// its store does not know, a gorilla cookie signed with other keys. The
// request goes on with a new, empty session, and the old cookie is
// expired.
func TestUnverifiedOldCookieIsNotAdopted(t *testing.T) {
	otherKeys := securecookie.CodecsFromPairs([]byte("another-hash-key-another-hash-key"), []byte("another-block-key-32-bytes-long!"))
	forged, err := securecookie.EncodeMulti("gsession", map[any]any{"user_id": 42}, otherKeys...)
	if err != nil {
		t.Fatal(err)
	}
	unknown := strings.Repeat("A", 43) // the form of an scs token
	tests := []struct {
		name  string
		old   int // index in oldApps
		value string
	}{
		{"scs redis, unknown token", 0, unknown},
		{"scs postgres, unknown token", 1, unknown},
		{"gorilla, cookie signed with other keys", 2, forged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			old := oldApps[tt.old].new(t)
			app, m := newApp(t, migrate.Options{Until: time.Now().Add(time.Hour)}, old.source)
			c := sessiontest.NewClient(t, app)
			c.SetCookie(&http.Cookie{Name: old.cookie, Value: tt.value, Path: "/"})

			resp := c.Get("/account")
			is.Equal(resp.StatusCode, http.StatusUnauthorized) // not signed in
			is.True(setCookie(resp, m.CookieName()) == nil)    // no chisess session
			expired := setCookie(resp, old.cookie)
			is.True(expired != nil && expired.MaxAge < 0) // the old cookie expired
		})
	}
}

// After Options.Until, Load is chisess.Load: nothing is taken over, the
// old cookie and the old session are left alone.
func TestNothingIsTakenOverAfterUntil(t *testing.T) {
	for _, tt := range oldApps {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			old := tt.new(t)
			app, _ := newApp(t, migrate.Options{Until: time.Now().Add(-time.Minute)}, old.source)
			var srv switchable
			srv.set(old.handler)
			c := sessiontest.NewClient(t, &srv)
			is.Equal(c.Get("/login").StatusCode, http.StatusOK)
			before := c.Cookie(old.cookie)

			srv.set(app)
			resp := c.Get("/account")
			is.Equal(resp.StatusCode, http.StatusUnauthorized) // not signed in
			is.Equal(len(resp.Cookies()), 0)                   // no cookie set or expired
			is.Equal(c.Cookie(old.cookie).Value, before.Value) // the old cookie kept
			if old.stored != nil {
				is.True(old.stored(t, before.Value)) // the old session kept
			}
		})
	}
}

// A client that holds a live chisess session keeps it: an old cookie it
// still sends is expired unread, and the old session left to its store's
// expiry.
func TestLiveChisessSessionWins(t *testing.T) {
	for _, tt := range oldApps {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			old := tt.new(t)
			app, m := newApp(t, migrate.Options{Until: time.Now().Add(time.Hour)}, old.source)
			var srv switchable
			srv.set(old.handler)
			c := sessiontest.NewClient(t, &srv)
			is.Equal(c.Get("/login").StatusCode, http.StatusOK)
			before := c.Cookie(old.cookie)
			cookie, err := m.Issue(context.Background(), map[string]any{
				"user_id": 7, "name": "grace", "roles": []string{}, "signed_in_at": signedInAt, "admin": false, "theme": "light",
			})
			is.NoErr(err)
			c.SetCookie(cookie)

			srv.set(app)
			resp := c.Get("/account")
			is.Equal(resp.StatusCode, http.StatusOK)
			is.Equal(body(t, resp), "7 grace [] 2025-03-14T09:26:53Z false light cart:false") // the chisess session, not the old one
			expired := setCookie(resp, old.cookie)
			is.True(expired != nil && expired.MaxAge < 0)   // the old cookie expired
			is.True(setCookie(resp, m.CookieName()) == nil) // the chisess cookie unchanged
			is.Equal(c.Cookie(m.CookieName()).Value, cookie.Value)
			if old.stored != nil {
				is.True(old.stored(t, before.Value)) // unread: left to expire in its store
			}
		})
	}
}

// redisClient connects to the test Redis.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Lookup(t, testenv.RedisAddr)})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// postgresStore returns scs's PostgreSQL store over a table of its own on
// the test database.
func postgresStore(t *testing.T) *postgresstore.PostgresStore {
	t.Helper()
	cfg, err := pgx.ParseConfig(testenv.Lookup(t, testenv.PostgresURL))
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	table := randomName(t, "scs_sessions_")
	mustExec(t, db, "CREATE TABLE "+table+" (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)")
	t.Cleanup(func() { mustExec(t, db, "DROP TABLE "+table) })
	return postgresstore.NewWithConfig(db, postgresstore.Config{TableName: table})
}

func mustExec(t *testing.T, db *sql.DB, query string) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query); err != nil {
		t.Fatal(err)
	}
}

// randomName returns prefix and random hex, so that parallel runs on the
// shared servers never meet.
func randomName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// A user who ticked "keep me signed in" under scs (RememberMe, with
// Cookie.Persist off) is remembered in chisess too: the chisess cookie
// lasts Config.RememberFor, not the browser session, even when the handler
// of the request that migrates fails, and scs's own "__rememberMe" key is
// not carried over as a value. A user who did not tick it gets the
// browser-session cookie the Config gives. On a server-side backend and
// on the sealed cookie. Modelled on scs v2.9.0's TestRememberMe.
func TestSCSRememberMeIsKept(t *testing.T) {
	tests := []struct {
		name       string
		backend    func() backend.Backend // nil: the sealed cookie
		remember   bool
		wantMaxAge int
	}{
		{"memory, remembered", func() backend.Backend { return backend.NewMemory() }, true, int(chisess.DefaultRememberFor / time.Second)},
		{"memory, not remembered", func() backend.Backend { return backend.NewMemory() }, false, 0},
		{"cookie, remembered", nil, true, int(chisess.DefaultRememberFor / time.Second)},
		{"cookie, not remembered", nil, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			sm, old := rememberingSCS(t, tt.remember)
			cfg := chisess.Config{Secret: "a secret of at least thirty-two bytes, for the test"}
			if tt.backend != nil {
				cfg.Backend = tt.backend()
			}
			m, err := chisess.New(cfg)
			is.NoErr(err)
			failing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "down for a moment", http.StatusInternalServerError)
			})
			var srv switchable
			srv.set(old)
			c := sessiontest.NewClient(t, &srv)
			is.Equal(c.Get("/login").StatusCode, http.StatusOK)

			srv.set(migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour)}, migrate.SCS(sm))(failing)) // the switch
			resp := c.Get("/")
			is.Equal(resp.StatusCode, http.StatusInternalServerError)
			var sent []*http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == m.CookieName() {
					sent = append(sent, c)
				}
			}
			is.Equal(len(sent), 1)
			is.True(sent[0].MaxAge >= tt.wantMaxAge-1 && sent[0].MaxAge <= tt.wantMaxAge+1) // RememberFor, or a browser-session cookie
			s, err := m.Inspect(context.Background(), c.Cookie(m.CookieName()).Value)
			is.NoErr(err)
			is.Equal(s.Remembered(), tt.remember)
			is.Equal(s.Keys(), []string{"user_id"}) // scs's __rememberMe is not a value
		})
	}
}

// With Options.Owner, a migrated session is in the owner index from its
// first request, as a login's SetOwner puts it: "your devices" lists the
// sessions of every device that switched, and "log out everywhere" ends
// them. A visitor's session, for which Owner answers "", has no owner.
func TestMigratedSessionsHaveTheirOwner(t *testing.T) {
	is := is.New(t)
	sm := scs.New()
	sm.Store = goredisstore.NewWithPrefix(redisClient(t), randomName(t, "chisess-migrate:")+":")
	old := http.NewServeMux()
	old.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) { sm.Put(r.Context(), "user_id", 42) })
	old.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) { sm.Put(r.Context(), "theme", "dark") })
	store := backend.NewMemory()
	t.Cleanup(func() { store.Close() })
	m, err := chisess.New(chisess.Config{Backend: store})
	is.NoErr(err)
	app := migrate.Load(m, migrate.Options{
		Until: time.Now().Add(time.Hour),
		Owner: func(s *chisess.Session) string {
			id, err := chisess.Get[int](s, "user_id")
			if err != nil {
				return ""
			}
			return strconv.Itoa(id)
		},
	}, migrate.SCS(sm))(chisess.Require("user_id", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "sign in", http.StatusUnauthorized)
	}))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))

	var srv switchable
	srv.set(sm.LoadAndSave(old))
	laptop, phone, visitor := sessiontest.NewClient(t, &srv), sessiontest.NewClient(t, &srv), sessiontest.NewClient(t, &srv)
	is.Equal(laptop.Get("/login").StatusCode, http.StatusOK)
	is.Equal(phone.Get("/login").StatusCode, http.StatusOK)
	is.Equal(visitor.Get("/visit").StatusCode, http.StatusOK)

	srv.set(app) // the switch
	is.Equal(laptop.Get("/").StatusCode, http.StatusOK)
	is.Equal(phone.Get("/").StatusCode, http.StatusOK)
	is.Equal(visitor.Get("/").StatusCode, http.StatusUnauthorized)
	ctx := context.Background()
	devices, err := m.Sessions(ctx, "42")
	is.NoErr(err)
	is.Equal(len(devices), 2) // both devices listed
	s, err := m.Inspect(ctx, visitor.Cookie(m.CookieName()).Value)
	is.NoErr(err)
	is.Equal(s.Owner(), "") // the visitor's has no owner

	ended, err := m.DestroyOwner(ctx, "42", nil) // log out everywhere
	is.NoErr(err)
	is.Equal(ended, 2)
	is.Equal(laptop.Get("/").StatusCode, http.StatusUnauthorized)
	is.Equal(phone.Get("/").StatusCode, http.StatusUnauthorized)
}

// The request that finishes a migrated session (RememberMe, the owner)
// runs on its own: another manager's Load mounted outside migrate.Load
// neither sees it nor takes its headers, and the request's own session of
// that manager is untouched.
func TestFinishingBelowAnotherManagersLoad(t *testing.T) {
	is := is.New(t)
	sm, old := rememberingSCS(t, true)
	prefs, err := chisess.New(chisess.Config{Secret: "a secret of at least thirty-two bytes, for prefs", CookieName: "prefs"})
	is.NoErr(err)
	store := backend.NewMemory()
	t.Cleanup(func() { store.Close() })
	m, err := chisess.New(chisess.Config{Backend: store})
	is.NoErr(err)
	app := chisess.Load(prefs)(migrate.Load(m, migrate.Options{
		Until: time.Now().Add(time.Hour),
		Owner: func(*chisess.Session) string { return "42" },
	}, migrate.SCS(sm))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := prefs.From(r.Context())
		if err := p.Load(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := p.Set("theme", "dark"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})))
	var srv switchable
	srv.set(old)
	c := sessiontest.NewClient(t, &srv)
	is.Equal(c.Get("/login").StatusCode, http.StatusOK)

	srv.set(app) // the switch
	resp := c.Get("/")
	is.Equal(resp.StatusCode, http.StatusOK)
	var names []string
	for _, sc := range resp.Cookies() {
		names = append(names, sc.Name)
	}
	slices.Sort(names)
	is.Equal(names, []string{m.CookieName(), "prefs", "session"}) // each once: the new session, prefs, the old one expired
	s, err := m.Inspect(context.Background(), c.Cookie(m.CookieName()).Value)
	is.NoErr(err)
	is.True(s.Remembered())
	is.Equal(s.Owner(), "42")
	ps, err := prefs.Inspect(context.Background(), c.Cookie("prefs").Value)
	is.NoErr(err)
	theme, _ := chisess.Get[string](ps, "theme")
	is.Equal(theme, "dark")
}

// rememberingSCS returns an scs manager on the test Redis whose cookie
// lasts the browser session unless RememberMe, and its old app, whose
// /login signs user 42 in with RememberMe(remember).
func rememberingSCS(t *testing.T, remember bool) (*scs.SessionManager, http.Handler) {
	sm := scs.New()
	sm.Store = goredisstore.NewWithPrefix(redisClient(t), randomName(t, "chisess-migrate:")+":")
	sm.Cookie.Persist = false
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "user_id", 42)
		sm.RememberMe(r.Context(), remember)
	})
	return sm, sm.LoadAndSave(mux)
}
