package main

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The -fault values of a restarted Redis.
const (
	faultRedisRestart       = "redis-restart"        // no persistence: every session is lost
	faultRedisRestartAOF    = "redis-restart-aof"    // AOF, appendfsync everysec
	faultRedisRestartAlways = "redis-restart-always" // AOF, appendfsync always: nothing is lost
)

// faultSpec is what one -fault value does and promises: the backends it
// runs with, what it starts and strikes, whether a request that failed
// during it changed nothing, and the loss window its store documents.
type faultSpec struct {
	// backends lists the -backend values the fault works with.
	backends []string
	// setUp starts what the fault strikes for a run on the backend name
	// (servers of the tool's own, a proxy in front of one, the app as a
	// process of its own) and points st at it. The caller closes it.
	setUp func(ctx context.Context, cfg config, name string, st *stores) (rig, error)
	// gone is true when no request can reach a server that takes
	// writes, from the moment the strike is done (rec.killAt) until the
	// store's restart or promotion begins (rec.relaunchAt): a request
	// that ran entirely in between changed nothing. It is false when requests may reach the store
	// during the fault (a slow link, the other primaries of a cluster),
	// or are not known not to (a partition: see its row).
	gone bool
	// refusedUnchanged is true when the store is one server the fault
	// restarts on its port: once it listens again it stays up, so a
	// connection to it refused after the strike means no call of that
	// request had reached it, however late the answer came.
	refusedUnchanged bool
	window           lossWindow
}

// lossWindow is what a store documents it may lose when the fault
// strikes: the sessions the recorder counts as lost, or logouts undone,
// inside the window.
type lossWindow struct {
	// all: every session the store held before it came back (no
	// persistence).
	all bool
	// before: the changes (writes, logouts) answered from this long
	// before the kill until the store was back; 0 for none.
	before time.Duration
	desc   string // for the result
}

// windowNone begins the description of a window in which nothing may be
// lost.
const windowNone = "none"

// faults holds each -fault value's spec.
var faults = map[string]faultSpec{
	faultRedisRestart: {backends: []string{"redis"}, setUp: restartRedis(""), gone: true, refusedUnchanged: true,
		window: lossWindow{all: true, desc: "no persistence: every session stored before the restart"}},
	faultRedisRestartAOF: {backends: []string{"redis"}, setUp: restartRedis("everysec"), gone: true, refusedUnchanged: true,
		window: lossWindow{before: aofWindow, desc: "AOF with appendfsync everysec: sessions last changed in the 2 s before the kill"}},
	faultRedisRestartAlways: {backends: []string{"redis"}, setUp: restartRedis("always"), gone: true, refusedUnchanged: true,
		window: lossWindow{desc: "AOF with appendfsync always: none, every answered write is on disk"}},
	// The other primaries take writes during a Cluster's failover.
	faultClusterFailover: {backends: []string{"cluster"}, setUp: pointed(startCluster),
		window: replicatedWindow},
	// The Sentinels' clients write to the primary only, and a replica
	// takes no writes: until its promotion, no server took any.
	faultSentinelFailover: {backends: []string{"sentinel"}, setUp: pointed(startSentinel), gone: true,
		window: replicatedWindow},
	faultPostgresRestart: {backends: []string{"postgres"}, setUp: setUpProxy, gone: true,
		window: lossWindow{desc: windowNone + ": a commit answered is in the WAL"}},
	faultPostgresDrop: {backends: []string{"postgres"}, setUp: setUpProxy, gone: true,
		window: lossWindow{desc: windowNone + ": the server keeps running"}},
	// A partition's failures are not taken to have changed nothing: a CI
	// run once found a session the model did not know of after one, so
	// the tool does not assume it.
	faultPartition: {backends: []string{"redis", "postgres"}, setUp: setUpProxy,
		window: lossWindow{desc: windowNone + ": the server keeps running"}},
	faultSlow: {backends: []string{"redis", "postgres"}, setUp: setUpProxy,
		window: lossWindow{desc: windowNone + ": the server keeps running"}},
	faultBoltKill: {backends: []string{"bolt"}, setUp: setUpBoltKill, gone: true,
		window: lossWindow{desc: windowNone + ": bbolt fsyncs each commit before it returns"}},
}

// faultNames lists the -fault values, sorted.
func faultNames() []string { return slices.Sorted(maps.Keys(faults)) }

// aofWindow is the loss window Redis documents for appendfsync everysec:
// the writes of about the last second, up to two when an fsync lags.
const aofWindow = 2 * time.Second

// documentedWindow describes the loss window of the fault's store.
func documentedWindow(kind string) string {
	return faults[kind].window.desc
}

// A rig is what -fault starts and strikes during a run: servers the tool
// started itself, a proxy between the app and its store, or the app's own
// process.
type rig interface {
	// strike is the fault itself: it takes the store (or the app) away,
	// brings it back, and tells rec when each happened (rec.killAt once
	// it is away, rec.relaunchAt from when the store may answer again:
	// a request that failed before then changed nothing, rec.upAt once
	// it answers; rec.rejoinAt when a failover's killed primary
	// replicates the new one). It returns when the store answers again,
	// or with the error that kept it away; down is how long it stays
	// away.
	strike(ctx context.Context, rec *recorder, down time.Duration) error
	// close stops what the fault started and removes its files.
	close() error
}

// An outage is a rig that the fault takes away and, down later, brings
// back: a server killed or stopped and started again, a link cut or
// slowed and restored, the app's process killed and started again.
type outage interface {
	// takeAway takes the store (or the app) away, and returns once it is.
	// It calls gone at the first moment no request can reach the store
	// (or the app), which can come before the store itself has stopped:
	// a request begun from then on changes nothing until relaunch.
	takeAway(gone func()) error
	// bringBack brings it back, and returns once it serves again. It
	// calls relaunch at the first moment the store may answer again: a
	// request that failed before then changed nothing.
	bringBack(ctx context.Context, relaunch func()) error
}

// strikeOutage is the strike of an outage: it takes o away, brings it
// back down later, and tells rec when each happened. Once taken away, o
// is brought back even when the run ends first, so that the run can
// clean up its store.
func strikeOutage(ctx context.Context, o outage, rec *recorder, down time.Duration) error {
	if err := o.takeAway(func() { rec.note(&rec.killAt, time.Now()) }); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-time.After(down):
	}
	relaunch := func() { rec.note(&rec.relaunchAt, time.Now()) }
	if err := o.bringBack(context.WithoutCancel(ctx), relaunch); err != nil {
		return err
	}
	rec.note(&rec.upAt, time.Now())
	return nil
}

// runFault strikes rg at the run's second at, down being how long the
// store stays away, and notes when the strike began (rec.struckAt: a
// stop can take a while, and requests fail from its start). It returns
// when the store answers again, or with the error that kept it away.
func runFault(ctx context.Context, rg rig, rec *recorder, start time.Time, at, down time.Duration) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(time.Until(start.Add(at))):
	}
	rec.note(&rec.struckAt, time.Now())
	return rg.strike(ctx, rec, down)
}

// setUpFault starts what the run's -fault strikes on the backend name,
// and points st at it. The caller closes it.
func setUpFault(ctx context.Context, cfg config, name string, st *stores) (rig, error) {
	f, ok := faults[cfg.Fault]
	if !ok || !slices.Contains(f.backends, name) {
		return nil, errFaultBackend(cfg.Fault)
	}
	return f.setUp(ctx, cfg, name, st)
}

// errFaultBackend is the error of -fault on a backend it cannot serve.
func errFaultBackend(kind string) error {
	return fmt.Errorf("-fault %s works with -backend %s only", kind, strings.Join(faults[kind].backends, " or "))
}

// pointed is the setUp of a rig that start starts, and that points the
// stores at its servers itself.
func pointed[R interface {
	rig
	point(st *stores)
}](start func(ctx context.Context) (R, error)) func(context.Context, config, string, *stores) (rig, error) {
	return func(ctx context.Context, _ config, _ string, st *stores) (rig, error) {
		r, err := start(ctx)
		if err != nil {
			return nil, err
		}
		r.point(st)
		return r, nil
	}
}

// restartRedis is the setUp of a fault that kills and restarts one
// redis-server with the AOF's fsync policy appendfsync ("" for no
// persistence).
func restartRedis(appendfsync string) func(context.Context, config, string, *stores) (rig, error) {
	return pointed(func(ctx context.Context) (*redisServer, error) { return startRedis(ctx, appendfsync) })
}

// redisServer is a redis-server the tool starts, kills and restarts on
// the same port of 127.0.0.1, in a temporary directory of its own.
type redisServer struct {
	dir  string
	port int
	bin  string   // redis-server or redis-sentinel
	conf string   // the config file in dir, passed first; "" for none
	args []string // options after the port, directory and log file
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startRedis starts a redis-server on a free port, in a new temporary
// directory, with the AOF's fsync policy appendfsync ("" for no
// persistence), and waits until it answers.
func startRedis(ctx context.Context, appendfsync string) (*redisServer, error) {
	if appendfsync == "" {
		return launchRedis(ctx, "redis-server", "", "--save", "", "--appendonly", "no")
	}
	return launchRedis(ctx, "redis-server", "", "--save", "", "--appendonly", "yes", "--appendfsync", appendfsync)
}

// launchRedis starts bin, redis-server or redis-sentinel, on a free port
// of 127.0.0.1, in a new temporary directory, with the config file conf
// ("" for none) and the options args, and waits until it answers.
func launchRedis(ctx context.Context, bin, conf string, args ...string) (*redisServer, error) {
	if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("-fault needs %s on the PATH: %w", bin, err)
	}
	// go-redis logs each failed dial while the server is away; the
	// results count those requests as errors already.
	redis.SetLogger(quietLogger{})
	dir, err := os.MkdirTemp("", "chisessload-redis-")
	if err != nil {
		return nil, err
	}
	s := &redisServer{dir: dir, bin: bin, args: args}
	if conf != "" {
		// Sentinel rewrites its config file: it lives in dir.
		s.conf = filepath.Join(dir, bin+".conf")
		err = os.WriteFile(s.conf, []byte(conf), 0o600)
	}
	if err == nil {
		s.port, err = freePort()
	}
	if err == nil {
		err = s.start(ctx)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start starts the server and waits up to 10 s for it to answer PING.
func (s *redisServer) start(ctx context.Context) error {
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args, "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port), "--protected-mode", "yes",
		"--dir", s.dir, "--logfile", "redis.log", "--daemonize", "no")
	s.cmd = exec.Command(s.bin, append(args, s.args...)...)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(s.cmd, s.done)

	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(s.dir + "/redis.log")
			return fmt.Errorf("%s on port %d exited: %s", s.bin, s.port, lastLines(string(log), 5))
		case <-ctx.Done():
			s.kill()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("%s on port %d did not answer in 10s: %w", s.bin, s.port, err)
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *redisServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
}

// close kills the server and removes its directory.
func (s *redisServer) close() error {
	s.kill()
	return os.RemoveAll(s.dir)
}

func lastLines(s string, n int) string {
	lines := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' && i < len(s)-1 {
			lines++
			if lines == n {
				return s[i+1:]
			}
		}
	}
	return s
}

// point points the run's Redis at the server.
func (s *redisServer) point(st *stores) { st.RedisAddr = s.addr() }

// strike kills the server and, down later, starts it again on the same
// port and directory.
func (s *redisServer) strike(ctx context.Context, rec *recorder, down time.Duration) error {
	return strikeOutage(ctx, s, rec, down)
}

func (s *redisServer) takeAway(gone func()) error { s.kill(); gone(); return nil }
func (s *redisServer) bringBack(ctx context.Context, relaunch func()) error {
	relaunch()
	return s.start(ctx)
}
