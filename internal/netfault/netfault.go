// Package netfault is a TCP proxy that puts network faults between a
// client and its server without touching the server: point the client at
// [Proxy.Addr] instead of the server's address, then take the server off
// the network ([Proxy.Down], [Proxy.Up]), cut the link without closing
// anything ([Proxy.Partition], [Proxy.Heal]), or slow it down
// ([Proxy.Slow]). Other clients of the server are not affected.
//
// The backends' outage tests use it through chisess/internal/faultproxy,
// which ties a proxy to a test's cleanup; the load tool (cmd/chisessload)
// puts one between its app and the store. It is internal to this
// repository.
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
// A partition is the other way a server goes away: nothing answers, and
// nothing says so. Only the client's own timeouts end its calls.
//
// The proxy runs one goroutine to accept and two per forwarded connection,
// and waits for all of them at [Proxy.Close].
package netfault

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// Proxy forwards TCP connections from a loopback address to a target
// address. Make one with [Start]. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // done at Close, which aborts dials to the target
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and every connection's goroutines

	mu          sync.Mutex
	down        bool
	partitioned bool
	delay       time.Duration
	wake        chan struct{} // closed, and replaced, when the link's state changes
	closed      bool
	conns       map[net.Conn]struct{} // open connections, both sides
	acceptErr   error                 // why the accept loop stopped early
}

// Start starts a proxy to target (a "host:port") on 127.0.0.1 and a free
// port. Each connection to [Proxy.Addr] gets its own connection to target,
// made when it is accepted, and bytes are copied both ways until either
// side closes, which closes the other; when target cannot be reached the
// client's connection is closed. [Proxy.Close] stops it.
//
// Start fails only if it cannot listen. It does not contact target.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netfault: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: target,
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}),
		conns:  map[net.Conn]struct{}{},
	}
	p.wg.Go(p.serve)
	return p, nil
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
	p.resetAll()
}

// Up undoes [Proxy.Down]: connections accepted from now on are forwarded
// to the target again. Connections that Down reset stay closed; clients
// must open new ones, as their pools do when they find a dead connection.
func (p *Proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Partition cuts the link without closing anything, as a network
// partition does: from now until [Proxy.Heal] no byte passes either way
// on any connection, open or new, and nothing is closed or reset. New
// connections are accepted (the client's connect returns) but not
// forwarded. A client sees its reads wait, and only its own timeouts end
// them. Calling Partition while partitioned does nothing more.
func (p *Proxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partitioned = true
	p.changed()
}

// Heal ends a [Proxy.Partition]. The connections that were open during
// the partition do not outlive it: Heal resets them, as TCP does when a
// partition outlasts its retransmissions (minutes, in practice), and what
// was sent over them during the partition is dropped, never delivered.
// So a request a client gave up on never reaches the server later.
// Connections made from now on are forwarded again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.partitioned {
		return
	}
	p.partitioned = false
	p.resetAll()
	p.changed()
}

// Slow adds d of latency to the link, each way: every chunk of bytes the
// proxy reads is written on d after it was read (a chunk already waiting
// keeps its own delay). A request and its answer thus take at least 2d
// longer, more when one spans several reads. Slow(0) restores the link.
func (p *Proxy) Slow(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = max(0, d)
	p.changed()
}

// Close stops the proxy: it stops accepting, resets every connection and
// waits for all its goroutines to return. It returns the error that
// stopped the accept loop before Close, if one did. Call it once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.resetAll()
	p.changed()
	p.mu.Unlock()
	_ = p.ln.Close()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.acceptErr != nil {
		return fmt.Errorf("netfault: the proxy to %s stopped accepting connections: %w", p.target, p.acceptErr)
	}
	return nil
}

// resetAll resets every open connection and forgets it. Call it with mu
// held.
func (p *Proxy) resetAll() {
	for c := range p.conns {
		abort(c)
		delete(p.conns, c)
	}
}

// changed wakes every goroutine waiting on the link's state. Call it with
// mu held.
func (p *Proxy) changed() {
	close(p.wake)
	p.wake = make(chan struct{})
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

// forward connects c to the target, once no partition holds it, and
// copies both ways until either side ends, or Down, Heal or Close resets
// them.
func (p *Proxy) forward(c net.Conn) {
	if !p.pass(c, time.Time{}) {
		return
	}
	var d net.Dialer
	up, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if _, open := p.conns[c]; !open {
		// Down, Heal or Close came while dialing, and has reset c
		// already.
		p.mu.Unlock()
		abort(up)
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	p.wg.Go(func() {
		p.copy(up, c)
		p.drop(c, up)
	})
	p.copy(c, up)
	p.drop(c, up)
}

// copy copies from src to dst until either fails, or src's connection is
// reset, holding each chunk as the link's state says.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass(src, time.Now()) {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pass waits until bytes read from c at read may be written on: while a
// partition holds the link, and until the link's delay after read has
// passed. It returns false, and the bytes must be dropped, when c has
// been reset meanwhile (by Down, Heal or Close).
func (p *Proxy) pass(c net.Conn, read time.Time) bool {
	for {
		p.mu.Lock()
		_, open := p.conns[c]
		partitioned, delay, wake := p.partitioned, p.delay, p.wake
		p.mu.Unlock()
		switch {
		case !open:
			return false
		case partitioned:
			<-wake
			continue
		}
		wait := time.Until(read.Add(delay))
		if read.IsZero() || wait <= 0 {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-wake:
			t.Stop()
		}
	}
}

// drop closes the connections that are still open, with an orderly FIN,
// and forgets them: when one side of a forwarded connection ends, so does
// the other. A connection that Down, Heal or Close has reset already is
// left alone.
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

// abort closes c with a reset (RST) rather than an orderly FIN, so that the
// peer's next read or write fails with "connection reset by peer" even if
// it had nothing left to read.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
