package migrate_test

import (
	"context"
	"encoding/gob"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/migrate"
	"github.com/gorilla/sessions"
	"github.com/matryer/is"
)

// namedSCS returns an scs manager over store whose cookie is called name,
// with one session holding key=value, and that session's token.
func namedSCS(t *testing.T, store scs.Store, name, key string, value any) (*scs.SessionManager, string) {
	t.Helper()
	sm := scs.New()
	sm.Store = store
	sm.Cookie.Name = name
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	sm.Put(ctx, key, value)
	token, _, err := sm.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sm, token
}

// A request carries the cookies of two sources; the first old session is
// deleted, then deleting the second fails. docs/migrating.md: "When the
// old store or the chisess backend fails, the request is answered by
// Config.ErrorHandler and nothing is lost: no cookie changes, and the old
// session is still there for the next request." It failed: the first old
// session was gone, the chisess session holding its values was never sent,
// and once the second store was back the user had the second session's
// values only: user_id, from the first, was lost.
func TestSecondSourceEndFailingLosesNothing(t *testing.T) {
	is := is.New(t)
	storeA := &gatedStore{Store: memstore.NewWithCleanupInterval(0)}
	storeB := &gatedStore{Store: memstore.NewWithCleanupInterval(0)}
	smA, tokenA := namedSCS(t, storeA, "a_session", "user_id", 42)
	smB, tokenB := namedSCS(t, storeB, "b_session", "theme", "dark")
	storeB.deleteErr = errors.New("store b down")

	m, err := chisess.New(chisess.Config{Backend: backend.NewMemory(), ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "sorry", http.StatusInternalServerError)
	}})
	is.NoErr(err)
	app := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour), Logger: discardLogger()}, migrate.SCS(smA), migrate.SCS(smB))(whoami)

	// A browser: a jar of cookies, updated from each response.
	jar := map[string]*http.Cookie{
		"a_session": {Name: "a_session", Value: tokenA},
		"b_session": {Name: "b_session", Value: tokenB},
	}
	send := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/", nil)
		for _, c := range jar {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			if c.MaxAge < 0 {
				delete(jar, c.Name)
			} else {
				jar[c.Name] = c
			}
		}
		return rec
	}

	send() // store b fails to delete its session
	storeB.deleteErr = nil
	rec := send()
	is.Equal(rec.Body.String(), "42") // still signed in: user_id was not lost
}

// gorillaLogin signs user in under store's session called name and
// returns its cookie.
func gorillaLogin(t *testing.T, store sessions.Store, name string, user int) *http.Cookie {
	t.Helper()
	login := httptest.NewRequest("POST", "/login", nil)
	rec := httptest.NewRecorder()
	s, _ := store.Get(login, name)
	s.Values["user_id"] = user
	if err := s.Save(login, rec); err != nil {
		t.Fatal(err)
	}
	return rec.Result().Cookies()[0]
}

// Cookie tossing through the migration: a sibling subdomain plants the
// attacker's own old cookie (valid: the attacker signed in before the
// switch) for a deeper Path, so that the victim's browser sends it first,
// before the victim's own. docs/security.md promises of several cookies of
// the session's name that "two that lead to different live sessions ...
// make the request ambiguous ..., so the victim never lands in the
// attacker's session". It failed: migrate.Load took over the first old
// cookie only, put the victim in a chisess session holding the attacker's
// user_id, and expired the victim's own old cookie.
func TestTossedOldCookieDoesNotLandVictimInAttackersSession(t *testing.T) {
	tests := []struct {
		name string
		old  func(t *testing.T) (migrate.Source, *http.Cookie, *http.Cookie) // the attacker's, then the victim's
	}{
		{"gorilla cookie", func(t *testing.T) (migrate.Source, *http.Cookie, *http.Cookie) {
			store := sessions.NewCookieStore(gorillaHash, gorillaBlock)
			return migrate.Gorilla(store, "gsession"), gorillaLogin(t, store, "gsession", 66), gorillaLogin(t, store, "gsession", 42)
		}},
		{"scs", func(t *testing.T) (migrate.Source, *http.Cookie, *http.Cookie) {
			sm, attacker := namedSCS(t, memstore.NewWithCleanupInterval(0), "session", "user_id", 66)
			victim := signIn(t, sm)
			return migrate.SCS(sm), &http.Cookie{Name: "session", Value: attacker}, &http.Cookie{Name: "session", Value: victim}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			source, attacker, victim := tt.old(t)
			m, err := chisess.New(chisess.Config{Backend: backend.NewMemory()})
			is.NoErr(err)
			app := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour), Logger: discardLogger()}, source)(whoami)

			req := httptest.NewRequest("GET", "/deeper/page", nil)
			req.AddCookie(attacker) // the planted one, for /deeper, comes first
			req.AddCookie(victim)
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			is.True(rec.Body.String() != "66") // the victim is not in the attacker's session
		})
	}
}

// A planted old cookie that leads to no session, sent before the user's
// own, is passed over: the user's old session is taken over (the first
// cookie alone led to no session, and the user's was expired unread).
func TestDeadTossedOldCookieIsPassedOver(t *testing.T) {
	is := is.New(t)
	store := sessions.NewCookieStore(gorillaHash, gorillaBlock)
	victim := gorillaLogin(t, store, "gsession", 42)
	m, err := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	is.NoErr(err)
	app := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour), Logger: discardLogger()}, migrate.Gorilla(store, "gsession"))(whoami)

	req := httptest.NewRequest("GET", "/deeper/page", nil)
	req.AddCookie(&http.Cookie{Name: "gsession", Value: "forged"})
	req.AddCookie(victim)
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	is.Equal(rec.Body.String(), "42") // the user's own old session was taken over
}

// Values of types nothing converts (a map, a []int, a gob-registered
// struct) are left out and logged by key and type, never with the value;
// a cookie signed with the store's second (rotated) key pair opens.
func TestRotatedKeysAndUnknownTypesHold(t *testing.T) {
	is := is.New(t)
	newHash := []byte("new-hash-key-new-hash-key-new-hash-key-new-hash-key-new-hash-ke")
	newBlock := []byte("new-block-key-32-bytes-long-new!")
	gob.Register(map[string]string{}) // as the old app registered it
	before := sessions.NewCookieStore(gorillaHash, gorillaBlock)
	login := httptest.NewRequest("POST", "/login", nil)
	rec := httptest.NewRecorder()
	s, _ := before.Get(login, "gsession")
	s.Values["user_id"] = 42
	s.Values["scores"] = []int{7, 8}
	s.Values["meta"] = map[string]string{"k": secretItem}
	s.Values["cart"] = legacyCart{Items: []string{secretItem}}
	is.NoErr(s.Save(login, rec))
	old := rec.Result().Cookies()[0]

	after := sessions.NewCookieStore(newHash, newBlock, gorillaHash, gorillaBlock) // rotated: the old pair second
	var logged strings.Builder
	m, err := chisess.New(chisess.Config{Backend: backend.NewMemory()})
	is.NoErr(err)
	app := migrate.Load(m, migrate.Options{Until: time.Now().Add(time.Hour), Logger: slog.New(slog.NewTextHandler(&logged, nil))}, migrate.Gorilla(after, "gsession"))(whoami)
	resp := serveWith(app, old)
	is.Equal(resp.StatusCode, http.StatusOK) // signed in through the second key pair
	for _, want := range []string{"key=scores type=[]int", "key=meta type=map[string]string", "key=cart type=migrate_test.legacyCart"} {
		is.True(strings.Contains(logged.String(), want)) // each key left out is logged by name and type
	}
	is.True(!strings.Contains(logged.String(), secretItem)) // never with its value
}
