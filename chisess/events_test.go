package chisess_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
	"github.com/matryer/is"
)

// eventLog records events for a test.
type eventLog struct {
	mu     sync.Mutex
	events []chisess.Event
}

func (l *eventLog) hook(_ context.Context, e chisess.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// take returns the kinds (with reasons) recorded since the last take.
func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		k := e.Kind.String()
		if e.Reason != 0 {
			k += ":" + e.Reason.String()
		}
		out = append(out, k)
	}
	l.events = nil
	return out
}

func (l *eventLog) all() []chisess.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]chisess.Event(nil), l.events...)
}

func TestLifecycleEvents(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		log := &eventLog{}
		cfg := tm.cfg
		cfg.OnEvent = log.hook
		_, c := newApp(t, cfg)

		c.do("GET", "/")
		is.Equal(log.take(), []string{"created", "committed"}) // a new session stored
		c.do("GET", "/read")
		is.Equal(log.take(), []string{"loaded"}) // read only
		c.do("GET", "/")
		is.Equal(log.take(), []string{"loaded", "committed"})
		c.do("POST", "/renew")
		evs := log.all()
		is.Equal(log.take(), []string{"loaded", "renewed", "committed"})
		is.True(evs[1].Previous != "" && evs[1].Previous != evs[1].Session) // renewal names both IDs
		c.do("POST", "/destroy")
		is.Equal(log.take(), []string{"loaded", "destroyed"})

		stale := c.withCookie("not-a-token")
		stale.do("GET", "/read")
		is.Equal(log.take(), []string{"rejected:malformed"})
	})
}

func TestRejectReasons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		log := &eventLog{}
		cookieM := newManager(t, chisess.Config{Secret: testSecret, Lifetime: time.Hour, OnEvent: log.hook})
		mem := backend.NewMemoryWithCleanup(0)
		serverM := newManager(t, chisess.Config{Backend: mem, Lifetime: time.Hour, OnEvent: log.hook})
		ctx := context.Background()
		sealed, err := cookieM.Issue(ctx, map[string]any{"a": 1})
		is.NoErr(err)
		token, err := serverM.Issue(ctx, map[string]any{"a": 1})
		is.NoErr(err)
		is.Equal(log.take(), []string{"created", "created"}) // each Issue reports the session it created

		read := func(m *chisess.Manager, value string) []string {
			c := newClient(t, m, newRouter(t, m))
			c.cookie = value
			c.do("GET", "/read")
			return log.take()
		}
		is.Equal(read(cookieM, sealed.Value[:10]+"~"+sealed.Value[11:]), []string{"rejected:malformed"})  // not base64url
		is.Equal(read(cookieM, sealed.Value[:len(sealed.Value)-4]+"AAAA"), []string{"rejected:tampered"}) // the tag no longer matches
		is.Equal(read(serverM, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA"), []string{"rejected:unknown"})
		time.Sleep(2 * time.Hour)
		is.Equal(read(cookieM, sealed.Value), []string{"rejected:expired"})
		is.Equal(read(serverM, token.Value), []string{"rejected:unknown"}) // the memory store dropped it at its TTL
	})
}

func TestErrorEvent(t *testing.T) {
	is := is.New(t)
	b := sessiontest.NewBackend()
	log := &eventLog{}
	_, c := newApp(t, chisess.Config{Backend: b, OnEvent: log.hook})
	c.do("GET", "/")
	log.take()
	b.FailNext("swap", 1, errOutage) // the save of the change
	c.do("GET", "/")
	evs := log.all()
	is.Equal(log.take(), []string{"loaded", "error"})
	is.True(strings.Contains(evs[1].Err.Error(), errOutage.Error())) // the error event carries the cause
}

// Neither a token nor the secret ever reaches the logs, whether from
// chisess's own records or from LogEvents, across a whole flow with
// failures and hostile input.
func TestLogsNeverCarryTokensOrSecrets(t *testing.T) {
	forEachMode(t, func(t *testing.T, tm mode) {
		is := is.New(t)
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg := tm.cfg
		cfg.Secret = testSecret
		cfg.Logger = logger
		cfg.OnEvent = chisess.LogEvents(logger)
		_, c := newApp(t, cfg)

		var tokens []string
		remember := func() {
			if c.cookie != "" {
				tokens = append(tokens, c.cookie)
			}
		}
		c.do("GET", "/")
		remember()
		c.do("POST", "/renew")
		remember()
		if tm.b != nil {
			tm.b.FailNext(tm.update, 1, errOutage)
			c.do("GET", "/") // an error record
		}
		c.do("POST", "/destroy")
		hostile := c.withCookie(tokens[0][:20])
		hostile.do("GET", "/read")

		out := buf.String()
		is.True(strings.Contains(out, "event=created")) // the flow was logged
		is.True(strings.Contains(out, "event=destroyed"))
		for _, tok := range tokens {
			is.True(!strings.Contains(out, tok)) // no token in any log line
		}
		is.True(!strings.Contains(out, testSecret)) // nor the secret
	})
}

// Counting events is all a metrics integration needs.
func ExampleLogEvents() {
	var created, rejected atomic.Int64
	sessions, _ := chisess.New(chisess.Config{
		Secret: exampleSecret,
		OnEvent: func(ctx context.Context, e chisess.Event) {
			switch e.Kind {
			case chisess.EventCreated:
				created.Add(1) // e.g. a Prometheus counter
			case chisess.EventRejected:
				rejected.Add(1)
			}
		},
	})
	r := chi.NewRouter()
	r.Use(chisess.Load(sessions), chisess.Autoload)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		chisess.From(r.Context()).Set("seen", true)
	})
	(&browser{h: r}).get("GET", "/")
	(&browser{h: r, cookie: &http.Cookie{Name: sessions.CookieName(), Value: "forged"}}).get("GET", "/")
	fmt.Println(created.Load(), rejected.Load())
	// Output: 2 1
}
