package chisess_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/sessiontest"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/matryer/is"
)

// These tests prove that the session is committed just before the first
// byte of the response, whichever path sends it, without buffering the body,
// and that every capability of the wrapped ResponseWriter survives the wrap.

// writerRouter mounts Load(m) and two routes: /set runs set, and /get
// answers the session's "k" (404 when there is none), so a test can read a
// commit back the way a browser's next request would.
func writerRouter(t *testing.T, m *chisess.Manager, set http.HandlerFunc) *chi.Mux {
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	r.Get("/set", set)
	r.Get("/get", loaded(t, readKey))
	return r
}

// readKey answers the session's "k", or 404.
func readKey(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
	v, err := chisess.Get[string](s, "k")
	if err != nil {
		http.Error(w, "no key", http.StatusNotFound)
		return
	}
	io.WriteString(w, v)
}

// storedKey reads "k" back through h, sending the session cookie value
// cookie, as the next request of a browser would.
func storedKey(t *testing.T, m *chisess.Manager, h http.Handler, cookie string) string {
	t.Helper()
	c := newClient(t, m, h)
	c.cookie = cookie
	return c.do(http.MethodGet, "/get").Body.String()
}

// writerProtos are the real transports the wrapper must work on.
var writerProtos = []struct {
	name  string
	http2 bool
	major int
}{
	{"HTTP/1.1", false, 1},
	{"HTTP/2", true, 2},
}

// writerServer serves h over HTTP/1.1, or over HTTP/2 with TLS, on a free
// port, and closes it when the test ends.
func writerServer(t *testing.T, h http.Handler, http2 bool) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	if http2 {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts
}

// serverGet sends GET path to ts, with the session cookie value cookie
// unless it is empty, and returns the response and its whole body.
func serverGet(t *testing.T, ts *httptest.Server, name, path, cookie string) (*http.Response, string) {
	t.Helper()
	is := is.New(t)
	is.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+path, nil)
	is.NoErr(err) // the request is well formed
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: name, Value: cookie})
	}
	res, err := ts.Client().Do(req)
	is.NoErr(err) // the server answers
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	is.NoErr(err) // the whole body arrives
	return res, string(body)
}

// hijackers are the two routes to Hijack that handlers use.
var hijackers = []struct {
	name   string
	hijack func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error)
}{
	{"ResponseController", func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
		return http.NewResponseController(w).Hijack()
	}},
	{"Hijacker assertion", func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
		return w.(http.Hijacker).Hijack()
	}},
}

// firstBytePaths are the ways a handler can start its response. Each one
// must commit the session before the first byte.
var firstBytePaths = []struct {
	name string
	send func(w http.ResponseWriter) error
	code int
	body string
}{
	{"WriteHeader then Write", func(w http.ResponseWriter) error {
		w.WriteHeader(http.StatusCreated)
		_, err := w.Write([]byte("hi"))
		return err
	}, http.StatusCreated, "hi"},
	{"Write", func(w http.ResponseWriter) error {
		_, err := w.Write([]byte("hi"))
		return err
	}, http.StatusOK, "hi"},
	{"io.WriteString", func(w http.ResponseWriter) error {
		_, err := io.WriteString(w, "hi")
		return err
	}, http.StatusOK, "hi"},
	{"empty handler", func(http.ResponseWriter) error { return nil }, http.StatusOK, ""},
	// A *strings.Reader is an io.WriterTo, so io.Copy sends it through
	// WriteString, not ReadFrom.
	{"io.Copy from strings.Reader", func(w http.ResponseWriter) error {
		_, err := io.Copy(w, strings.NewReader("hi"))
		return err
	}, http.StatusOK, "hi"},
	// Hiding WriteTo makes io.Copy call the writer's ReadFrom.
	{"io.Copy through ReadFrom", func(w http.ResponseWriter) error {
		_, err := io.Copy(w, struct{ io.Reader }{strings.NewReader("hi")})
		return err
	}, http.StatusOK, "hi"},
	{"Flusher before Write", func(w http.ResponseWriter) error {
		w.(http.Flusher).Flush()
		_, err := io.WriteString(w, "hi")
		return err
	}, http.StatusOK, "hi"},
	{"ResponseController Flush before Write", func(w http.ResponseWriter) error {
		if err := http.NewResponseController(w).Flush(); err != nil {
			return err
		}
		_, err := io.WriteString(w, "hi")
		return err
	}, http.StatusOK, "hi"},
}

func TestCommitBeforeFirstByte(t *testing.T) {
	for _, p := range firstBytePaths {
		t.Run(p.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m := newManager(t, tm.cfg)
				var setErr, sendErr error
				h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
					setErr = s.Set("k", "v")
					sendErr = p.send(w)
				}))
				c := newClient(t, m, h)

				rec := c.do(http.MethodGet, "/set")
				// Result's header is the snapshot taken at the first byte, so
				// what it holds was set before the response started.
				res := rec.Result()
				is.NoErr(setErr)                                                 // the change came before the first byte
				is.NoErr(sendErr)                                                // the handler's path to the client works
				is.Equal(rec.Code, p.code)                                       // the handler's status
				is.Equal(rec.Body.String(), p.body)                              // the handler's body, unbuffered and whole
				is.True(setCookie(rec, m.CookieName()) != nil)                   // Set-Cookie went out with the first byte
				is.True(hasHeaderValue(res.Header, "Vary", "Cookie"))            // Vary: Cookie went out with it
				is.True(hasHeaderValue(res.Header, "Cache-Control", "no-store")) // and Cache-Control: no-store
				if tm.b != nil {
					is.Equal(tm.writes(), 1) // one backend write
				}
				is.Equal(c.do(http.MethodGet, "/get").Body.String(), "v") // the next request sees the key
			})
		})
	}
}

func TestCommitBeforeFirstByteOnServer(t *testing.T) {
	file := filepath.Join(t.TempDir(), "body.txt")
	if err := os.WriteFile(file, []byte("hi"), 0o600); err != nil {
		t.Fatal(err)
	}
	paths := []struct {
		name string
		send func(w http.ResponseWriter) error
		body string
	}{
		{"Write", func(w http.ResponseWriter) error {
			_, err := io.WriteString(w, "hi")
			return err
		}, "hi"},
		// On HTTP/1.1 this is the sendfile path: *os.File's WriteTo calls
		// the writer's ReadFrom, which must reach net/http's.
		{"io.Copy from a file", func(w http.ResponseWriter) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		}, "hi"},
		{"ResponseController Flush before Write", func(w http.ResponseWriter) error {
			if err := http.NewResponseController(w).Flush(); err != nil {
				return err
			}
			_, err := io.WriteString(w, "hi")
			return err
		}, "hi"},
		{"empty handler", func(http.ResponseWriter) error { return nil }, ""},
	}
	for _, proto := range writerProtos {
		for _, p := range paths {
			t.Run(proto.name+"/"+p.name, func(t *testing.T) {
				forEachMode(t, func(t *testing.T, tm mode) {
					is := is.New(t)
					m := newManager(t, tm.cfg)
					errs := make(chan error, 1)
					h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
						if err := s.Set("k", "v"); err != nil {
							errs <- err
							return
						}
						errs <- p.send(w)
					}))
					ts := writerServer(t, h, proto.http2)

					res, body := serverGet(t, ts, m.CookieName(), "/set", "")
					is.NoErr(<-errs)                                                 // Set and the handler's writes succeeded
					is.Equal(res.ProtoMajor, proto.major)                            // the transport under test
					is.Equal(res.StatusCode, http.StatusOK)                          // the handler's status
					is.Equal(body, p.body)                                           // the handler's body
					is.True(hasHeaderValue(res.Header, "Vary", "Cookie"))            // Vary: Cookie on the wire
					is.True(hasHeaderValue(res.Header, "Cache-Control", "no-store")) // Cache-Control: no-store on the wire
					cookie := responseCookie(res, m.CookieName())
					is.True(cookie != nil)                          // Set-Cookie on the wire
					is.Equal(storedKey(t, m, h, cookie.Value), "v") // the stored session has the key
				})
			})
		}
	}
}

func TestFlushSendsCookieAndFirstChunkBeforeHandlerReturns(t *testing.T) {
	starts := []struct {
		name       string
		flushFirst bool // flush the headers alone before the first event
	}{
		{"write then flush", false},
		{"flush before write", true},
	}
	for _, proto := range writerProtos {
		for _, st := range starts {
			t.Run(proto.name+"/"+st.name, func(t *testing.T) {
				forEachMode(t, func(t *testing.T, tm mode) {
					is := is.New(t)
					m := newManager(t, tm.cfg)
					release := make(chan struct{})
					flushed := make(chan error, 1)
					h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
						w.Header().Set("Content-Type", "text/event-stream")
						rc := http.NewResponseController(w)
						err := s.Set("k", "v")
						if err == nil && st.flushFirst {
							err = rc.Flush()
						}
						if err == nil {
							_, err = io.WriteString(w, "data: 1\n\n")
						}
						if err == nil {
							err = rc.Flush()
						}
						flushed <- err
						if err != nil {
							return
						}
						select { // held here until the test has seen the first event
						case <-release:
						case <-r.Context().Done():
							return
						}
						io.WriteString(w, "data: 2\n\n")
					}))
					ts := writerServer(t, h, proto.http2)
					var once sync.Once
					free := func() { once.Do(func() { close(release) }) }
					t.Cleanup(free) // runs before ts.Close, which waits for the handler

					req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/set", nil)
					is.NoErr(err) // the request is well formed
					res, err := ts.Client().Do(req)
					is.NoErr(err) // the headers arrived while the handler is still held
					defer res.Body.Close()
					is.NoErr(<-flushed)                     // Set, Write and Flush succeeded in the handler
					is.Equal(res.ProtoMajor, proto.major)   // the transport under test
					is.Equal(res.StatusCode, http.StatusOK) // the handler's status
					cookie := responseCookie(res, m.CookieName())
					is.True(cookie != nil)                                           // Set-Cookie came with the flushed headers
					is.True(hasHeaderValue(res.Header, "Vary", "Cookie"))            // and Vary: Cookie
					is.True(hasHeaderValue(res.Header, "Cache-Control", "no-store")) // and Cache-Control: no-store
					br := bufio.NewReader(res.Body)
					line, err := br.ReadString('\n')
					is.NoErr(err)               // the first event arrived while the handler is still held
					is.Equal(line, "data: 1\n") // nothing was buffered

					free()
					rest, err := io.ReadAll(br)
					is.NoErr(err)                                   // the stream ends cleanly
					is.Equal(string(rest), "\ndata: 2\n\n")         // the rest of the stream follows
					is.Equal(storedKey(t, m, h, cookie.Value), "v") // the session committed at the flush has the key
				})
			})
		}
	}
}

func TestHijackSavesSessionOnHTTP1(t *testing.T) {
	for _, hj := range hijackers {
		t.Run(hj.name, func(t *testing.T) {
			is := is.New(t)
			tm := newMode("memory")
			m := newManager(t, tm.cfg)
			type result struct {
				id     string
				err    error
				writes int // backend writes when the connection was handed over
			}
			got := make(chan result, 1)
			h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				if err := s.Set("k", "v"); err != nil {
					got <- result{err: err}
					return
				}
				id := s.Token()
				conn, brw, err := hj.hijack(w)
				got <- result{id, err, tm.writes()}
				if err != nil {
					return
				}
				defer conn.Close()
				brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nraw ok")
				brw.Flush()
			}))
			ts := writerServer(t, h, false)

			res, body := serverGet(t, ts, m.CookieName(), "/set", "")
			r := <-got
			is.NoErr(r.err)                                    // the hijack worked
			is.Equal(res.StatusCode, http.StatusOK)            // the client got the raw response
			is.Equal(body, "raw ok")                           // written on the hijacked connection
			is.Equal(responseCookie(res, m.CookieName()), nil) // a hijacked response never carries our Set-Cookie (documented)
			is.Equal(r.writes, 1)                              // the session was saved before the hand-over
			is.Equal(tm.writes(), 1)                           // once
			is.Equal(storedKey(t, m, h, r.id), "v")            // under the session's token
		})
	}
}

func TestHijackOnHTTP2IsNotSupported(t *testing.T) {
	for _, hj := range hijackers {
		t.Run(hj.name, func(t *testing.T) {
			is := is.New(t)
			m := newManager(t, chisess.Config{Backend: sessiontest.NewBackend()})
			errs := make(chan error, 1)
			h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				if err := s.Set("k", "v"); err != nil {
					errs <- err
					return
				}
				_, _, err := hj.hijack(w)
				errs <- err
				io.WriteString(w, "fallback")
			}))
			ts := writerServer(t, h, true)

			res, body := serverGet(t, ts, m.CookieName(), "/set", "")
			err := <-errs
			is.True(errors.Is(err, http.ErrNotSupported)) // HTTP/2 cannot hand over its connection
			is.Equal(res.ProtoMajor, 2)                   // the transport under test
			is.Equal(res.StatusCode, http.StatusOK)       // the handler answered normally instead
			is.Equal(body, "fallback")                    // its fallback body
			cookie := responseCookie(res, m.CookieName())
			is.True(cookie != nil) // the normal response carries the session

			res, body = serverGet(t, ts, m.CookieName(), "/get", cookie.Value)
			is.Equal(res.StatusCode, http.StatusOK) // the server is still serving
			is.Equal(body, "v")                     // and kept the session
		})
	}
}

// A failed Hijack must not commit: the handler still has to answer, and its
// real response decides what is saved.
func TestFailedHijackDoesNotCommit(t *testing.T) {
	tests := []struct {
		name  string
		after func(w http.ResponseWriter, s *chisess.Session) error
		code  int
		saved bool
	}{
		// A WebSocket upgrader on HTTP/2 answers 500 after a failed hijack;
		// the default 5xx policy must drop the change.
		{"fallback 500 keeps nothing", func(w http.ResponseWriter, s *chisess.Session) error {
			http.Error(w, "upgrade failed", http.StatusInternalServerError)
			return nil
		}, http.StatusInternalServerError, false},
		// Nothing went out, so the session may still change.
		{"change after failed hijack is saved", func(w http.ResponseWriter, s *chisess.Session) error {
			if err := s.Set("k", "later"); err != nil {
				return err
			}
			_, err := io.WriteString(w, "fallback")
			return err
		}, http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			tm := newMode("memory")
			cfg := tm.cfg
			cfg.ErrorHandler = func(http.ResponseWriter, *http.Request, error) {}
			m := newManager(t, cfg)
			var hijackErr, afterErr error
			h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				s.Set("k", "v")
				_, _, hijackErr = http.NewResponseController(w).Hijack()
				afterErr = tt.after(w, s)
			}))
			c := newClient(t, m, h)

			rec := c.do(http.MethodGet, "/set")                 // the recorder cannot hijack
			is.True(errors.Is(hijackErr, http.ErrNotSupported)) // the hijack failed
			is.NoErr(afterErr)                                  // the handler could go on as if it had not tried
			is.Equal(rec.Code, tt.code)                         // the fallback's status
			if tt.saved {
				is.True(setCookie(rec, m.CookieName()) != nil)                // the fallback response carries the session
				is.Equal(c.do(http.MethodGet, "/get").Body.String(), "later") // with the change made after the failed hijack
			} else {
				is.Equal(setCookie(rec, m.CookieName()), nil) // no Set-Cookie on the 500
				is.Equal(tm.writes(), 0)                      // and no backend write
			}
		})
	}
}

func TestDeadlinesReachableThroughUnwrap(t *testing.T) {
	for _, proto := range writerProtos {
		t.Run(proto.name, func(t *testing.T) {
			is := is.New(t)
			m := newManager(t, chisess.Config{Backend: sessiontest.NewBackend()})
			type result struct{ write, read, duplex error }
			got := make(chan result, 1)
			h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				rc := http.NewResponseController(w)
				var res result
				res.duplex = rc.EnableFullDuplex()
				res.write = rc.SetWriteDeadline(time.Now().Add(time.Minute))
				res.read = rc.SetReadDeadline(time.Now().Add(time.Minute))
				got <- res
				s.Set("k", "v")
				io.WriteString(w, "ok")
			}))
			ts := writerServer(t, h, proto.http2)

			res, body := serverGet(t, ts, m.CookieName(), "/set", "")
			r := <-got
			is.NoErr(r.duplex)                                  // EnableFullDuplex reached net/http through Unwrap
			is.NoErr(r.write)                                   // SetWriteDeadline reached net/http through Unwrap
			is.NoErr(r.read)                                    // SetReadDeadline reached net/http through Unwrap
			is.Equal(res.ProtoMajor, proto.major)               // the transport under test
			is.Equal(body, "ok")                                // the response is unaffected
			is.True(responseCookie(res, m.CookieName()) != nil) // and still carries the session
		})
	}
}

// panicLog is a chi log entry that records what Recoverer caught, instead of
// Recoverer printing a stack to stderr.
type panicLog struct{ panics []any }

func (l *panicLog) Write(int, int, http.Header, time.Duration, any) {}
func (l *panicLog) Panic(v any, _ []byte)                           { l.panics = append(l.panics, v) }

func (l *panicLog) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, middleware.WithLogEntry(r, l))
	})
}

func TestPanicCommitsNothing(t *testing.T) {
	mounts := []struct {
		name  string
		mount func(r chi.Router, m *chisess.Manager, l *panicLog)
	}{
		// The panic unwinds through Load, which commits nothing.
		{"Recoverer outside Load", func(r chi.Router, m *chisess.Manager, l *panicLog) {
			r.Use(l.middleware, middleware.Recoverer, chisess.Load(m))
		}},
		// Recoverer's 500 goes through our writer and commits with a 5xx
		// status, which by default keeps no change.
		{"Recoverer inside Load", func(r chi.Router, m *chisess.Manager, l *panicLog) {
			r.Use(chisess.Load(m), l.middleware, middleware.Recoverer)
		}},
	}
	for _, mt := range mounts {
		t.Run(mt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m := newManager(t, tm.cfg)
				l := &panicLog{}
				r := chi.NewRouter()
				mt.mount(r, m, l)
				r.Get("/panic", loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
					s.Set("k", "v")
					panic("boom")
				}))
				c := newClient(t, m, r)

				rec := c.do(http.MethodGet, "/panic")
				is.Equal(l.panics, []any{"boom"})                  // Recoverer caught the handler's panic
				is.Equal(rec.Code, http.StatusInternalServerError) // and answered 500
				is.Equal(setCookie(rec, m.CookieName()), nil)      // with no Set-Cookie
				is.Equal(tm.writes(), 0)                           // and no backend write
			})
		})
	}
}

func TestServerErrorKeepsNoChangesByDefault(t *testing.T) {
	policies := []struct {
		name  string
		keep  bool
		saved bool
	}{
		{"default", false, false},
		{"KeepChangesOnServerError", true, true},
	}
	for _, p := range policies {
		t.Run(p.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				cfg.KeepChangesOnServerError = p.keep
				m := newManager(t, cfg)
				var setErr error
				h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
					setErr = s.Set("k", "v")
					http.Error(w, "oops", http.StatusInternalServerError)
				}))
				c := newClient(t, m, h)

				rec := c.do(http.MethodGet, "/set")
				is.NoErr(setErr)                                   // the change was accepted
				is.Equal(rec.Code, http.StatusInternalServerError) // the handler's 500 went out
				is.Equal(rec.Body.String(), "oops\n")              // with the handler's body
				if !p.saved {
					is.Equal(setCookie(rec, m.CookieName()), nil) // no Set-Cookie on a 5xx
					is.Equal(tm.writes(), 0)                      // and no backend write
					return
				}
				is.True(setCookie(rec, m.CookieName()) != nil) // the change is kept on request
				if tm.b != nil {
					is.Equal(tm.writes(), 1) // with one backend write
				}
				is.Equal(c.do(http.MethodGet, "/get").Body.String(), "v") // and the next request sees it
			})
		})
	}
}

func TestInformationalResponseDoesNotCommit(t *testing.T) {
	for _, proto := range writerProtos {
		t.Run(proto.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				m := newManager(t, tm.cfg)
				setErrs := make(chan error, 1)
				h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
					w.Header().Set("Link", "</app.css>; rel=preload; as=style")
					w.WriteHeader(http.StatusEarlyHints)
					setErrs <- s.Set("k", "v")
					io.WriteString(w, "ok")
				}))
				ts := writerServer(t, h, proto.http2)

				type informational struct {
					code   int
					header http.Header
				}
				got := make(chan informational, 4)
				trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
					got <- informational{code, http.Header(header).Clone()}
					return nil
				}}
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, ts.URL+"/set", nil)
				is.NoErr(err) // the request is well formed
				res, err := ts.Client().Do(req)
				is.NoErr(err) // the server answers
				defer res.Body.Close()
				body, err := io.ReadAll(res.Body)
				is.NoErr(err) // the whole body arrives

				is.Equal(len(got), 1) // one informational response arrived before the final one
				hint := <-got
				is.Equal(hint.code, http.StatusEarlyHints)      // it was the 103
				is.True(hint.header.Get("Link") != "")          // carrying the handler's Link
				is.Equal(hint.header.Values("Set-Cookie"), nil) // and no Set-Cookie: a 1xx does not commit
				is.NoErr(<-setErrs)                             // so the session could still change after it
				is.Equal(res.ProtoMajor, proto.major)           // the transport under test
				is.Equal(res.StatusCode, http.StatusOK)         // the final status
				is.Equal(string(body), "ok")                    // the final body
				cookie := responseCookie(res, m.CookieName())
				is.True(cookie != nil) // the final response carries the session
				if tm.b != nil {
					is.Equal(tm.writes(), 1) // saved once, at the final status
				}
				is.Equal(storedKey(t, m, h, cookie.Value), "v") // with the change made after the 103
			})
		})
	}
}

func TestCommitFailureBecomesErrorResponse(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(b *sessiontest.Backend) chisess.Config
		value   string
		custom  bool // a custom ErrorHandler that answers 503
		code    int
		body    string
		wantErr error
	}{
		{"backend outage/default ErrorHandler", func(b *sessiontest.Backend) chisess.Config {
			b.FailNext("write", 1, errOutage) // the write of the new session
			return chisess.Config{Backend: b}
		}, "v", false, http.StatusInternalServerError, "Internal Server Error\n", errOutage},
		{"backend outage/custom ErrorHandler", func(b *sessiontest.Backend) chisess.Config {
			b.FailNext("write", 1, errOutage) // the write of the new session
			return chisess.Config{Backend: b}
		}, "v", true, http.StatusServiceUnavailable, "try again later\n", errOutage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b := sessiontest.NewBackend()
			cfg := tt.cfg(b)
			var logs bytes.Buffer
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			var reported []error
			if tt.custom {
				cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					reported = append(reported, err)
					http.Error(w, "try again later", http.StatusServiceUnavailable)
				}
			}
			m := newManager(t, cfg)
			var setErr, writeErr error
			h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
				setErr = s.Set("k", tt.value)
				http.Redirect(w, r, "/next", http.StatusSeeOther)
				_, writeErr = w.Write([]byte("more"))
			}))
			c := newClient(t, m, h)

			rec := c.do(http.MethodGet, "/set")
			is.NoErr(setErr)                                          // the change itself was accepted
			is.Equal(rec.Code, tt.code)                               // the failed save replaced the redirect
			is.Equal(rec.Body.String(), tt.body)                      // with the error response alone
			is.Equal(rec.Result().Header.Get("Location"), "")         // no Location from the redirect
			is.Equal(setCookie(rec, m.CookieName()), nil)             // no Set-Cookie
			is.True(errors.Is(writeErr, chisess.ErrResponseReplaced)) // the handler's later write is refused
			if tt.custom {
				is.Equal(len(reported), 1)                  // the ErrorHandler ran exactly once
				is.True(errors.Is(reported[0], tt.wantErr)) // with the cause
			} else {
				is.True(strings.Contains(logs.String(), tt.wantErr.Error())) // the default handler logged the cause
			}
			if calls := b.Calls(); len(calls) > 0 {
				is.Equal(len(calls), 1)        // one attempt
				is.Equal(calls[0].Op, "write") // to store the new session
				is.Equal(b.Len(), 0)           // and nothing half-written is stored
			}
		})
	}
}

// A change after the first byte is returned to the caller, and only
// returned: it is not also reported through the ErrorHandler (which would
// answer a second time, and, for an ErrorHandler that itself changes the
// session, recurse without end).
func TestChangeAfterCommitIsReturnedNotReported(t *testing.T) {
	handlers := []struct {
		name   string
		custom bool
	}{
		{"custom ErrorHandler", true},
		{"default ErrorHandler", false},
	}
	for _, eh := range handlers {
		t.Run(eh.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, tm mode) {
				is := is.New(t)
				cfg := tm.cfg
				var logs bytes.Buffer
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				var reported []error
				if eh.custom {
					cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
						reported = append(reported, err)
					}
				}
				m := newManager(t, cfg)
				var setErr error
				h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
					io.WriteString(w, "body")
					setErr = s.Set("k", "v")
				}))
				c := newClient(t, m, h)

				rec := c.do(http.MethodGet, "/set")
				is.True(errors.Is(setErr, chisess.ErrResponseStarted)) // Set after the first byte is an error
				is.Equal(rec.Code, http.StatusOK)                      // the response that went out is intact
				is.Equal(rec.Body.String(), "body")                    // with no error text appended
				is.Equal(setCookie(rec, m.CookieName()), nil)          // nothing was saved at the commit
				is.Equal(tm.writes(), 0)                               // and nothing later
				is.Equal(len(reported), 0)                             // the ErrorHandler did not hear of it: the caller did
				is.Equal(logs.String(), "")                            // nor did the log
			})
		})
	}
}

func TestWriterCapabilities(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Backend: sessiontest.NewBackend()})
	var (
		flusher, hijacker, readerFrom, stringWriter bool
		inner                                       http.ResponseWriter
		hijackErr, flushErr                         error
	)
	h := writerRouter(t, m, func(w http.ResponseWriter, r *http.Request) {
		_, flusher = w.(http.Flusher)
		_, hijacker = w.(http.Hijacker)
		_, readerFrom = w.(io.ReaderFrom)
		_, stringWriter = w.(io.StringWriter)
		if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
			inner = u.Unwrap()
		}
		_, _, hijackErr = http.NewResponseController(w).Hijack()
		flushErr = http.NewResponseController(w).Flush()
	})
	rec := httptest.NewRecorder()

	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/set", nil))
	is.True(flusher)                                    // the wrapper is an http.Flusher
	is.True(hijacker)                                   // an http.Hijacker
	is.True(readerFrom)                                 // an io.ReaderFrom
	is.True(stringWriter)                               // and an io.StringWriter
	is.Equal(inner, http.ResponseWriter(rec))           // Unwrap gives the recorder back
	is.True(errors.Is(hijackErr, http.ErrNotSupported)) // a recorder cannot hijack, and says so
	is.NoErr(flushErr)                                  // a recorder can flush
	is.True(rec.Flushed)                                // and did
}

// A wrapped writer that cannot flush still gets the session committed by
// Flush, and ReadFrom falls back to a copy.
func TestFlushWithoutFlusherStillCommits(t *testing.T) {
	is := is.New(t)
	m := newManager(t, chisess.Config{Backend: sessiontest.NewBackend()})
	var flushErr, copyErr error
	h := writerRouter(t, m, loaded(t, func(w http.ResponseWriter, r *http.Request, s *chisess.Session) {
		s.Set("k", "v")
		flushErr = http.NewResponseController(w).Flush()
		w.(http.Flusher).Flush() // must not panic
		_, copyErr = io.Copy(w, struct{ io.Reader }{strings.NewReader("hi")})
	}))
	rec := httptest.NewRecorder()
	bare := struct{ http.ResponseWriter }{rec} // hides Flush and the rest

	h.ServeHTTP(bare, httptest.NewRequest(http.MethodGet, "/set", nil))
	is.True(errors.Is(flushErr, http.ErrNotSupported)) // the wrapped writer's missing Flush is reported
	is.NoErr(copyErr)                                  // ReadFrom falls back to a copy
	is.Equal(rec.Body.String(), "hi")                  // the copied body
	is.True(setCookie(rec, m.CookieName()) != nil)     // the Flush committed the session all the same
}
