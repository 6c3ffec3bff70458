package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/chisess/kit/internal/netfault"
)

// The -fault values besides Redis's.
const (
	faultPostgresRestart = "postgres-restart" // the server stopped as by a crash, and started again
	faultPostgresDrop    = "postgres-drop"    // every connection reset once
	faultPartition       = "partition"        // the link to the store cut, connections held
	faultSlow            = "slow"             // latency added to the link to the store
	faultBoltKill        = "bolt-kill"        // the app's process killed and started again
)

// slowDelay is the latency -fault slow adds to the link, each way.
const slowDelay = 50 * time.Millisecond

// setUpProxy starts, for a run on the backend name, a server of the
// tool's own (redis or postgres) and a proxy in front of it, and points
// st at the proxy: the network faults and postgres-restart strike there.
func setUpProxy(ctx context.Context, cfg config, name string, st *stores) (rig, error) {
	var (
		srv    interface{ close() error }
		target string
	)
	if name == "redis" {
		r, err := startRedis(ctx, "")
		if err != nil {
			return nil, err
		}
		srv, target = r, r.addr()
	} else {
		pg, err := startPostgres(ctx)
		if err != nil {
			return nil, err
		}
		srv, target = pg, pg.addr()
	}
	p, err := netfault.Start(target)
	if err != nil {
		return nil, errors.Join(err, srv.close())
	}
	if name == "redis" {
		st.RedisAddr = p.Addr()
	} else {
		st.PostgresURL = postgresURL(p.Addr())
	}
	return &proxyFault{kind: cfg.Fault, proxy: p, server: srv}, nil
}

// setUpBoltKill starts the app as a process of its own, on a bbolt file
// in a new directory under st.BoltDir, for bolt-kill to kill.
func setUpBoltKill(ctx context.Context, cfg config, _ string, st *stores) (rig, error) {
	dir, err := os.MkdirTemp(st.BoltDir, "chisessload_")
	if err != nil {
		return nil, err
	}
	a, err := startApp(ctx, filepath.Join(dir, "sessions.db"), cfg.StoreTimeout)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	a.dir = dir
	return a, nil
}

// proxyFault is a fault at a proxy between the app and its store's
// server (which the tool started, and stops with the proxy).
type proxyFault struct {
	kind   string
	proxy  *netfault.Proxy
	server interface{ close() error }
}

// strike takes the proxy's link (or the server behind it) away and, down
// later, brings it back.
func (f *proxyFault) strike(ctx context.Context, rec *recorder, down time.Duration) error {
	return strikeOutage(ctx, f, rec, down)
}

// takeAway stops the server as a crash would, with pg_ctl stop -m immediate,
// and keeps the proxy down until the restore (postgres-restart); resets
// every connection (postgres-drop: new ones are closed until the restore);
// cuts the link (partition); or slows it down (slow).
//
// postgres-restart takes the proxy down before it stops the server, and
// calls gone in between: from then on no request reaches the server. The
// stop itself takes a while (pg_ctl polls for the server's end), and
// longer on a loaded machine; a request that failed during it may have
// changed something, so the users would forget their sessions on any
// failed login or logout, and none would be left to check across the
// restart (CI once found none).
func (f *proxyFault) takeAway(gone func()) error {
	switch f.kind {
	case faultPostgresRestart:
		f.proxy.Down()
		gone()
		return f.server.(*pgServer).stop("immediate")
	case faultPostgresDrop:
		f.proxy.Down()
	case faultPartition:
		f.proxy.Partition()
	case faultSlow:
		f.proxy.Slow(slowDelay)
	}
	gone()
	return nil
}

// bringBack undoes takeAway. After postgres-restart it opens the proxy
// only once the server accepts connections (pg_ctl start -w), so that
// the app can reach nothing before: a request that failed until then
// changed nothing. (PostgreSQL itself runs no statement until its
// recovery ends, but pg_ctl notices the end a moment late.)
func (f *proxyFault) bringBack(ctx context.Context, relaunch func()) error {
	if f.kind == faultPostgresRestart {
		if err := f.server.(*pgServer).start(ctx); err != nil {
			return err
		}
	}
	relaunch()
	switch f.kind {
	case faultPostgresRestart, faultPostgresDrop:
		f.proxy.Up()
	case faultPartition:
		f.proxy.Heal()
	case faultSlow:
		f.proxy.Slow(0)
	}
	return nil
}

func (f *proxyFault) close() error {
	return errors.Join(f.proxy.Close(), f.server.close())
}
