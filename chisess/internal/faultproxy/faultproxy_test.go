package faultproxy_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chisess/kit/chisess/internal/faultproxy"
	"github.com/chisess/kit/chisess/internal/testenv"
	"github.com/matryer/is"
)

// echoServer starts a loopback server that writes back whatever it reads,
// stopped and waited for at t's cleanup, and returns its address.
func echoServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				_, _ = io.Copy(c, c)
				_ = c.Close()
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// hangGuard bounds every read and write of the tests' connections, so that
// a proxy that fails to close a connection fails the test with a timeout
// error instead of hanging it. No test waits for it to pass.
const hangGuard = 10 * time.Second

// dial connects to addr and closes the connection at t's cleanup.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	_ = c.SetDeadline(time.Now().Add(hangGuard))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// echo sends msg over c and returns what comes back, or the error.
func echo(c net.Conn, msg string) (string, error) {
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	_, err := io.ReadFull(c, buf)
	return string(buf), err
}

func TestForwardsBothWays(t *testing.T) {
	is := is.New(t)
	p := faultproxy.New(t, echoServer(t))
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	for i := range 3 {
		got, err := echo(a, fmt.Sprint("a", i))
		is.NoErr(err)                     // the proxy forwards the first connection
		is.Equal(got, fmt.Sprint("a", i)) // and brings the reply back
		got, err = echo(b, fmt.Sprint("b", i))
		is.NoErr(err)                     // and a second one, side by side
		is.Equal(got, fmt.Sprint("b", i)) // each to its own connection to the target
	}
}

func TestDownResetsOpenConnections(t *testing.T) {
	is := is.New(t)
	p := faultproxy.New(t, echoServer(t))
	c := dial(t, p.Addr())
	_, err := echo(c, "up")
	is.NoErr(err) // the connection works before Down

	p.Down()
	_, err = c.Read(make([]byte, 1))
	is.True(errors.Is(err, syscall.ECONNRESET)) // an open connection is reset: the client's next read fails at once
}

func TestDownClosesNewConnections(t *testing.T) {
	is := is.New(t)
	p := faultproxy.New(t, echoServer(t))
	p.Down()
	p.Down() // a second Down changes nothing
	c, err := net.Dial("tcp", p.Addr())
	is.NoErr(err) // the proxy still accepts, so the dial itself succeeds
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(hangGuard))
	_, err = c.Read(make([]byte, 1))
	is.Equal(err, io.EOF) // and then closes the connection at once, with a FIN
}

func TestUpForwardsAgain(t *testing.T) {
	is := is.New(t)
	p := faultproxy.New(t, echoServer(t))
	before := dial(t, p.Addr())
	_, err := echo(before, "up")
	is.NoErr(err) // the connection works before Down

	p.Down()
	p.Up()
	after := dial(t, p.Addr())
	got, err := echo(after, "again")
	is.NoErr(err)          // a new connection after Up is forwarded
	is.Equal(got, "again") // both ways
	_, err = echo(before, "x")
	is.True(err != nil) // a connection that Down reset stays dead after Up
}

func TestUnreachableTargetClosesTheConnection(t *testing.T) {
	is := is.New(t)
	p := faultproxy.New(t, testenv.DeadAddr(t))
	c := dial(t, p.Addr())
	_, err := c.Read(make([]byte, 1))
	is.Equal(err, io.EOF) // the client's connection is closed when the target refuses
}

func TestCleanupClosesEverything(t *testing.T) {
	is := is.New(t)
	target := echoServer(t)
	var (
		addr string
		c    net.Conn
	)
	ok := t.Run("with the proxy", func(t *testing.T) {
		is := is.New(t)
		p := faultproxy.New(t, target)
		addr = p.Addr()
		var err error
		c, err = net.Dial("tcp", addr)
		is.NoErr(err) // dial the proxy
		_ = c.SetDeadline(time.Now().Add(hangGuard))
		_, err = echo(c, "up")
		is.NoErr(err) // a forwarded connection is open when the test ends
	})
	if !ok {
		t.FailNow()
	}
	defer c.Close()
	// The subtest's cleanup has run: it waited for every goroutine of the
	// proxy, the two copying over c included.
	_, err := c.Read(make([]byte, 1))
	is.True(errors.Is(err, syscall.ECONNRESET)) // the open connection was reset
	_, err = net.Dial("tcp", addr)
	is.True(errors.Is(err, syscall.ECONNREFUSED)) // and the proxy no longer listens
}

// TestDownAndUpWhileInUse flips the proxy down and up while clients dial,
// write and read through it as fast as they can, for the race detector and
// to show that nothing hangs: every exchange either echoes exactly what was
// sent or fails, and once the proxy stays up, new connections work.
func TestDownAndUpWhileInUse(t *testing.T) {
	is := is.New(t)
	p := faultproxy.New(t, echoServer(t))
	const clients, rounds = 8, 50
	bad := make(chan string, clients*rounds)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for j := range rounds {
				c, err := net.Dial("tcp", p.Addr())
				if errors.Is(err, syscall.ECONNRESET) {
					continue // accepted while up, reset by Down before connect returned
				}
				if err != nil {
					bad <- fmt.Sprintf("client %d: dial: %v", i, err)
					return
				}
				_ = c.SetDeadline(time.Now().Add(hangGuard))
				msg := fmt.Sprintf("client %d round %d", i, j)
				got, err := echo(c, msg)
				switch {
				case errors.Is(err, os.ErrDeadlineExceeded):
					bad <- fmt.Sprintf("client %d: %q hung: %v", i, msg, err)
				case err == nil && got != msg:
					bad <- fmt.Sprintf("client %d: sent %q, got back %q", i, msg, got)
				}
				_ = c.Close()
			}
		})
	}
	for range rounds {
		p.Down()
		p.Up()
	}
	wg.Wait()
	close(bad)
	for msg := range bad {
		t.Error(msg)
	}

	got, err := echo(dial(t, p.Addr()), "steady")
	is.NoErr(err)           // once the proxy stays up, a new connection works
	is.Equal(got, "steady") // both ways
}

// held is how long a test waits to see that nothing comes through a
// partition. A read that does return within it is a failure; passing it
// proves nothing more than that nothing came in that time.
const held = 100 * time.Millisecond

// TestPartitionHoldsAndHealResets checks a partition: open and new
// connections stay open but carry nothing, what was sent during it never
// reaches the target, even after Heal, and Heal resets the connections it
// held while new ones work again.
func TestPartitionHoldsAndHealResets(t *testing.T) {
	is := is.New(t)
	// A target that reports every byte it receives, on any connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err) // listen
	received := make(chan string, 16)
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						received <- string(buf[:n])
						_, _ = c.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	p := faultproxy.New(t, ln.Addr().String())
	before := dial(t, p.Addr())
	got, err := echo(before, "up")
	is.NoErr(err) // the connection works before the partition
	is.Equal(got, "up")
	is.Equal(<-received, "up")

	p.Partition()
	p.Partition() // a second Partition changes nothing
	_, err = io.WriteString(before, "lost")
	is.NoErr(err) // an open connection is not closed: the write goes out
	_ = before.SetReadDeadline(time.Now().Add(held))
	_, err = before.Read(make([]byte, 1))
	is.True(errors.Is(err, os.ErrDeadlineExceeded)) // and no answer comes: the read hangs until the client's own timeout
	during, err := net.Dial("tcp", p.Addr())
	is.NoErr(err) // a new connection is accepted
	defer during.Close()
	_, err = io.WriteString(during, "lost too")
	is.NoErr(err)
	_ = during.SetReadDeadline(time.Now().Add(held))
	_, err = during.Read(make([]byte, 1))
	is.True(errors.Is(err, os.ErrDeadlineExceeded)) // but carries nothing either

	p.Heal()
	_ = before.SetReadDeadline(time.Now().Add(hangGuard))
	_, err = before.Read(make([]byte, 1))
	is.True(errors.Is(err, syscall.ECONNRESET)) // Heal resets a connection the partition held
	_ = during.SetReadDeadline(time.Now().Add(hangGuard))
	_, err = during.Read(make([]byte, 1))
	is.True(errors.Is(err, syscall.ECONNRESET)) // new or old
	after := dial(t, p.Addr())
	got, err = echo(after, "healed")
	is.NoErr(err) // a new connection after Heal is forwarded
	is.Equal(got, "healed")
	is.Equal(<-received, "healed") // and what was sent during the partition never reached the target
}

// TestSlowDelaysEachWay checks that Slow delays both directions, and that
// Slow(0) ends it.
func TestSlowDelaysEachWay(t *testing.T) {
	is := is.New(t)
	p := faultproxy.New(t, echoServer(t))
	c := dial(t, p.Addr())
	const d = 30 * time.Millisecond
	p.Slow(d)
	start := time.Now()
	got, err := echo(c, "slow")
	is.NoErr(err)                     // a slow link still carries the bytes
	is.Equal(got, "slow")             // both ways
	is.True(time.Since(start) >= 2*d) // one delay out, one back
	p.Slow(0)
	got, err = echo(c, "fast")
	is.NoErr(err) // Slow(0) restores the link
	is.Equal(got, "fast")
}
