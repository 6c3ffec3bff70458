package redisbackend_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/matryer/is"
)

// TestWithChisess runs a login, visit, logout flow through chisess with the
// Store on a real Redis, and checks what reaches Redis at each step.
func TestWithChisess(t *testing.T) {
	is := is.New(t)
	client := redisClient(t)
	log := &commandLog{}
	client.AddHook(log)
	store, prefix := newStore(t, client)
	sessions, err := chisess.New(chisess.Config{Backend: store, Insecure: true, Lifetime: time.Hour})
	is.NoErr(err) // chisess accepts the Store as its Backend

	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			http.Error(w, "load failed", http.StatusInternalServerError)
			return
		}
		if err := s.Set("user_id", 42); err != nil {
			http.Error(w, "set failed", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			http.Error(w, "load failed", http.StatusInternalServerError)
			return
		}
		id, _ := chisess.Get[int](s, "user_id")
		fmt.Fprint(w, id)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		if err := s.Load(r.Context()); err != nil {
			http.Error(w, "load failed", http.StatusInternalServerError)
			return
		}
		s.Destroy()
	})
	srv := httptest.NewServer(chisess.Load(sessions)(mux))
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	is.NoErr(err) // cookie jar
	httpClient := &http.Client{Jar: jar}
	var all []string // every command chisess sent, for the KEYS/SCAN check
	// get requests path and returns the status, the body and the names of
	// the Redis commands sent while the request ran.
	get := func(path string) (int, string, []string) {
		t.Helper()
		log.reset()
		resp, err := httpClient.Get(srv.URL + path)
		is.NoErr(err) // the request reaches the server
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		is.NoErr(err) // the body reads
		names := log.names()
		t.Logf("%s: %v", path, names)
		all = append(all, names...)
		return resp.StatusCode, string(body), names
	}

	code, _, sent := get("/login")
	is.Equal(code, http.StatusOK)   // login succeeds
	is.Equal(sent, []string{"set"}) // a new session costs one SET (no read: there was no cookie)
	cmds, _, _ := log.snapshot()
	key := cmds[0][1].(string)
	is.True(strings.HasPrefix(key, prefix)) // the session is under the store's prefix
	is.Equal(len(key), len(prefix)+43)      // followed by the 43-character hash chisess made
	pttl, err := client.PTTL(t.Context(), key).Result()
	is.NoErr(err)                                      // PTTL works
	is.True(pttl > 0 && pttl <= time.Hour+time.Minute) // Redis expires it with the session's lifetime (plus any grace chisess adds)
	cookies := jar.Cookies(mustURL(t, srv.URL))
	is.Equal(len(cookies), 1)                         // one session cookie
	is.True(!strings.Contains(key, cookies[0].Value)) // the Redis key is not the token
	n, err := client.Exists(t.Context(), prefix+cookies[0].Value).Result()
	is.NoErr(err)         // EXISTS works
	is.Equal(n, int64(0)) // nothing is stored under the raw token

	code, body, sent := get("/me")
	is.Equal(code, http.StatusOK)   // the visit succeeds
	is.Equal(body, "42")            // the session came back from Redis
	is.Equal(sent, []string{"get"}) // an unchanged session costs one GET and no write

	code, _, sent = get("/logout")
	is.Equal(code, http.StatusOK)             // logout succeeds
	is.True(slices.Contains(sent, "evalsha")) // logout deletes the record, if it is still what it loaded (one script)
	n, err = client.Exists(t.Context(), key).Result()
	is.NoErr(err)         // EXISTS works
	is.Equal(n, int64(0)) // the session is gone from Redis

	code, body, _ = get("/me")
	is.Equal(code, http.StatusOK)          // a visit after logout succeeds
	is.Equal(body, "0")                    // as an anonymous visitor
	is.True(!slices.Contains(all, "keys")) // chisess with this Store never sends KEYS
	is.True(!slices.Contains(all, "scan")) // nor SCAN
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
