// Package faultproxy starts a TCP proxy for a test that takes a server
// down and brings it back without touching the server: point a client at
// [Proxy.Addr] instead of the server's address, then call [Proxy.Down] and
// [Proxy.Up] (or [Proxy.Partition] and [Proxy.Heal]) between requests.
// Other tests can keep using the server meanwhile. The proxy is a
// [netfault.Proxy], whose doc says what each fault does; this package ties
// it to the test's cleanup. It is internal: the outage tests of this
// repository's backends use it (see internal/outagetest).
package faultproxy

import (
	"testing"

	"github.com/chisess/kit/internal/netfault"
)

// Proxy is a [netfault.Proxy]: it forwards TCP connections from a
// loopback address to a target address, until a fault stops it.
type Proxy = netfault.Proxy

// New starts a proxy to target (a "host:port") on 127.0.0.1 and a free
// port, as [netfault.Start] does. At t's cleanup the proxy stops
// accepting, closes every connection and waits for all its goroutines to
// return; the test fails if the proxy stopped accepting before.
//
// New fails t if it cannot listen. It does not contact target.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := netfault.Start(target)
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("faultproxy: %v", err)
		}
	})
	return p
}
