package pgbackend_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/internal/outagetest"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/matryer/is"
)

// TestOutageAndRecovery takes the PostgreSQL at CHISESS_POSTGRES_URL away
// from chisess and brings it back, through a proxy (see
// internal/outagetest): during the outage, routes that never load the
// session still answer, s.Load returns an error wrapping the client's,
// Require answers through ErrorHandler rather than redirecting to login,
// and a failed commit sets no cookie; afterwards the next request works
// with the session as it was.
func TestOutageAndRecovery(t *testing.T) {
	is := is.New(t)
	d := newTestDB(t) // skips, or fails, without CHISESS_POSTGRES_URL
	cfg, err := pgxpool.ParseConfig(os.Getenv("CHISESS_POSTGRES_URL"))
	is.NoErr(err) // CHISESS_POSTGRES_URL parses
	host := cfg.ConnConfig.Host
	if strings.HasPrefix(host, "/") {
		t.Fatalf("CHISESS_POSTGRES_URL names the Unix socket %s; the outage test needs a TCP host:port to put its proxy in front of", host)
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	outagetest.Run(t, target, func(t *testing.T, addr string) backend.Backend {
		is := is.New(t)
		host, port, err := net.SplitHostPort(addr)
		is.NoErr(err) // the proxy's address is host:port
		p, err := strconv.ParseUint(port, 10, 16)
		is.NoErr(err) // the proxy's port is a number
		cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
		cfg.ConnConfig.Fallbacks = nil
		// pgxpool pings a pooled connection before handing it out only
		// after a second idle, longer than this outage lasts, so a
		// connection that the outage reset could be handed out after it
		// and fail one request. Ping every time, as pgxpool would after a
		// real outage of more than a second.
		cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return true }
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		is.NoErr(err) // a pool through the proxy
		t.Cleanup(pool.Close)
		store, err := pgbackend.New(context.Background(), pool, pgbackend.Options{
			Table:         d.table,
			CreateTable:   true,
			SweepInterval: -1,
		})
		is.NoErr(err) // pgbackend.New through the proxy
		t.Cleanup(func() { store.Close() })
		return store
	})
}
