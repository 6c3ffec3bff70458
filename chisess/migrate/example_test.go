package migrate_test

import (
	"context"
	"encoding/gob"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/migrate"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/sessions"
)

// ExampleSCS takes over a session that scs stored: the user keeps their
// sign-in, gets a chisess cookie, and the scs cookie and session are gone.
func ExampleSCS() {
	// scs, configured as before the switch; LoadAndSave is no longer mounted.
	old := scs.New()
	old.Store = memstore.New() // or goredisstore.New(rdb), postgresstore.New(db), ...

	// A user who signed in before the switch.
	ctx, _ := old.Load(context.Background(), "")
	old.Put(ctx, "user_id", 42)
	token, _, _ := old.Commit(ctx)

	// chisess, with migrate.Load where chisess.Load goes.
	sessions, err := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(migrate.Load(sessions, migrate.Options{Until: time.Now().AddDate(0, 0, 30)}, migrate.SCS(old)))
	r.With(chisess.Autoload).Get("/", func(w http.ResponseWriter, r *http.Request) {
		id, err := chisess.Get[int](chisess.From(r.Context()), "user_id")
		fmt.Println("user", id, err)
	})

	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: token})
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		fmt.Println("Set-Cookie:", c.Name, "expired:", c.MaxAge < 0)
	}
	_, found, _ := old.Store.Find(token)
	fmt.Println("scs session still stored:", found)
	// Output:
	// user 42 <nil>
	// Set-Cookie: session expired: true
	// Set-Cookie: __Host-session expired: false
	// scs session still stored: false
}

// ExampleGorilla takes over a gorilla/sessions cookie, opened with the old
// hash and block keys.
func ExampleGorilla() {
	// gorilla, with the keys it had before the switch (older pairs after).
	hashKey := []byte("the-old-hash-key-64-bytes-the-old-hash-key-64-bytes-the-old-key")
	blockKey := []byte("the-old-block-key-32-bytes-long!")
	old := sessions.NewCookieStore(hashKey, blockKey)

	// A user who signed in before the switch.
	login := httptest.NewRequest("POST", "/login", nil)
	rec := httptest.NewRecorder()
	s, _ := old.Get(login, "app")
	s.Values["user_id"] = 42
	s.Save(login, rec)
	cookie := rec.Result().Cookies()[0]

	// chisess, with migrate.Load where chisess.Load goes.
	sessions, err := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(migrate.Load(sessions, migrate.Options{Until: time.Now().AddDate(0, 0, 30)}, migrate.Gorilla(old, "app")))
	r.With(chisess.Autoload).Get("/", func(w http.ResponseWriter, r *http.Request) {
		id, err := chisess.Get[int](chisess.From(r.Context()), "user_id")
		fmt.Println("user", id, err)
	})

	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		fmt.Println("Set-Cookie:", c.Name, "expired:", c.MaxAge < 0)
	}
	// Output:
	// user 42 <nil>
	// Set-Cookie: app expired: true
	// Set-Cookie: __Host-session expired: false
}

// ExampleConvert renames keys, converts an old type, and logs the keys it
// cannot convert, by name and type, never with their values.
func ExampleConvert() {
	type Cart struct{ Items []string } // an old type, still registered with gob
	type Prefs struct{ Dark bool }     // an old type nothing converts
	gob.Register(Cart{})
	gob.Register(Prefs{})

	old := scs.New()
	old.Store = memstore.New()
	ctx, _ := old.Load(context.Background(), "")
	old.Put(ctx, "uid", 42)
	old.Put(ctx, "cart", Cart{Items: []string{"tea"}})
	old.Put(ctx, "prefs", Prefs{Dark: true})
	old.Put(ctx, "csrf_token", "not needed any more")
	token, _, _ := old.Commit(ctx)

	opts := migrate.Options{
		Until:  time.Now().AddDate(0, 0, 30),
		Rename: map[string]string{"uid": "user_id", "csrf_token": ""}, // "" leaves a key out
		Converters: []migrate.Converter{
			migrate.Convert(func(c Cart) (any, error) { return c.Items, nil }), // a []string now
		},
		Logger: slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{} // for a stable output
				}
				return a
			},
		})),
	}
	sessions, err := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	if err != nil {
		log.Fatal(err)
	}
	app := migrate.Load(sessions, opts, migrate.SCS(old))(chisess.Autoload(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		cart, _ := chisess.Get[[]string](s, "cart")
		keys := s.Keys()
		slices.Sort(keys)
		fmt.Println(keys, cart)
	})))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: token})
	app.ServeHTTP(httptest.NewRecorder(), req)
	// Unordered output:
	// level=WARN msg="migrate: a value could not be converted; its key is left out" source=scs key=prefs type=migrate_test.Prefs
	// [cart user_id] [tea]
}
