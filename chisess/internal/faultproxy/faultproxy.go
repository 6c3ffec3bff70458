// Package faultproxy is a TCP proxy for tests that takes a server down and
// brings it back without touching the server: point a client at
// [Proxy.Addr] instead of the server's address, then call [Proxy.Down] and
// [Proxy.Up] between requests. Other tests can keep using the server
// meanwhile. It is internal: the outage tests of this repository's backends
// use it (see internal/outagetest).
//
// Down resets every open connection, as a crashed server's host would, and
// until Up it closes each new connection as soon as it has accepted it.
// Either way a client's next read or write fails at once, with "connection
// reset by peer", "broken pipe" or EOF depending on where the client was,
// never a hang. New connections get an orderly close rather than a reset:
// a reset can reach the client before its connect returns, which fails the
// dial itself, and clients retry failed dials after a back-off (go-redis
// waits 100 ms between its five attempts), which would slow down every
// request made during the outage. A stopped server refuses connections
// instead; accepting and closing them keeps the one address valid across
// Down and Up, with no port to bind again.
//
// The proxy runs one goroutine to accept and two per forwarded connection,
// and waits for all of them at cleanup.
package faultproxy

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from a loopback address to a target
// address, until [Proxy.Down]. Make one with [New]. Its methods are safe for
// concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // done at cleanup, which aborts dials to the target
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and every connection's goroutines

	mu        sync.Mutex
	down      bool
	closed    bool
	conns     map[net.Conn]struct{} // open connections, both sides
	acceptErr error                 // why the accept loop stopped early
}

// New starts a proxy to target (a "host:port") on 127.0.0.1 and a free
// port. Each connection to [Proxy.Addr] gets its own connection to target,
// made when it is accepted, and bytes are copied both ways until either
// side closes, which closes the other; when target cannot be reached the
// client's connection is closed. At t's cleanup the proxy stops accepting, closes every
// connection and waits for all its goroutines to return.
//
// New fails t if it cannot listen. It does not contact target.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: target,
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		conns:  map[net.Conn]struct{}{},
	}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		if err := p.close(); err != nil {
			t.Errorf("faultproxy: the proxy to %s stopped accepting connections: %v", target, err)
		}
	})
	return p
}

// Addr returns the "host:port" that clients connect to in place of the
// target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Down takes the target off the network, as seen through the proxy: it
// resets every open connection (a TCP RST), and from now until [Proxy.Up]
// it closes each new connection as soon as it is accepted. It returns once
// every open connection is closed, so a client's next use of one fails. (A
// connection accepted a moment before Down can be reset before the
// client's connect returns: that client sees its dial fail.) Calling Down
// when the proxy is already down does nothing more.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		abort(c)
		delete(p.conns, c)
	}
}

// Up undoes [Proxy.Down]: connections accepted from now on are forwarded
// to the target again. Connections that Down reset stay closed; clients
// must open new ones, as their pools do when they find a dead connection.
func (p *Proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// serve accepts connections until the listener is closed.
func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			p.mu.Lock()
			if !p.closed {
				p.acceptErr = err
			}
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		if p.down || p.closed {
			_ = c.Close()
		} else {
			p.conns[c] = struct{}{}
			p.wg.Go(func() { p.forward(c) })
		}
		p.mu.Unlock()
	}
}

// forward connects c to the target and copies both ways until either
// side ends, or Down or cleanup resets them.
func (p *Proxy) forward(c net.Conn) {
	var d net.Dialer
	up, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		p.mu.Lock()
		if _, open := p.conns[c]; open {
			_ = c.Close()
			delete(p.conns, c)
		}
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	if _, open := p.conns[c]; !open {
		// Down (and perhaps Up since) or cleanup came while dialing, and
		// has reset c already.
		p.mu.Unlock()
		abort(up)
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	p.wg.Go(func() {
		_, _ = io.Copy(up, c)
		p.drop(c, up)
	})
	_, _ = io.Copy(c, up)
	p.drop(c, up)
}

// drop closes the connections that are still open, with an orderly FIN,
// and forgets them: when one side of a forwarded connection ends, so does
// the other. A connection that Down or cleanup has reset already is left
// alone.
func (p *Proxy) drop(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		if _, open := p.conns[c]; open {
			_ = c.Close()
			delete(p.conns, c)
		}
	}
}

// close stops the proxy and waits for its goroutines. It returns the error
// that stopped the accept loop before cleanup, if one did.
func (p *Proxy) close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		abort(c)
		delete(p.conns, c)
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acceptErr
}

// abort closes c with a reset (RST) rather than an orderly FIN, so that the
// peer's next read or write fails with "connection reset by peer" even if
// it had nothing left to read.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
