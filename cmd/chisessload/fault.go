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
	"time"

	"github.com/redis/go-redis/v9"
)

// The -fault values.
const (
	faultRedisRestart       = "redis-restart"        // no persistence: every session is lost
	faultRedisRestartAOF    = "redis-restart-aof"    // AOF, appendfsync everysec
	faultRedisRestartAlways = "redis-restart-always" // AOF, appendfsync always: nothing is lost
)

// faultNames lists the -fault values, sorted.
func faultNames() []string { return slices.Sorted(maps.Keys(faults)) }

// fault is what one -fault value does: the backend it runs with, the
// servers it starts, and the loss window its store documents.
type fault struct {
	backend string // the -backend it runs with
	// gone is true when the fault leaves no server that takes writes,
	// from the kill until the store's restart or promotion begins
	// (rec.relaunchAt): a request that ran entirely in between changed
	// nothing.
	gone bool
	// restarts is true when the store is one server the fault restarts
	// on its port: once it listens again it stays up, so a connection
	// refused after the kill means no call of that request had reached
	// it.
	restarts bool
	window   lossWindow
	// start starts the servers the run's store lives on, and the fault
	// strikes them.
	start func(ctx context.Context) (rig, error)
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

// faults holds each -fault value's fault.
var faults = map[string]fault{
	faultRedisRestart: {backend: "redis", gone: true, restarts: true, start: restartRedis(""),
		window: lossWindow{all: true, desc: "no persistence: every session stored before the restart"}},
	faultRedisRestartAOF: {backend: "redis", gone: true, restarts: true, start: restartRedis("everysec"),
		window: lossWindow{before: aofWindow, desc: "AOF with appendfsync everysec: sessions last changed in the 2 s before the kill"}},
	faultRedisRestartAlways: {backend: "redis", gone: true, restarts: true, start: restartRedis("always"),
		window: lossWindow{desc: "AOF with appendfsync always: none, every answered write is on disk"}},
	faultClusterFailover: {backend: "cluster", window: replicatedWindow,
		start: func(ctx context.Context) (rig, error) { return startCluster(ctx) }},
	// The Sentinels' clients write to the primary only, and a replica
	// takes no writes: until its promotion, no server took any.
	faultSentinelFailover: {backend: "sentinel", gone: true, window: replicatedWindow,
		start: func(ctx context.Context) (rig, error) { return startSentinel(ctx) }},
}

// rig is the servers a fault starts for the run's store, and strikes.
type rig interface {
	// point points the run's stores at the rig's servers.
	point(st *stores)
	// strike is the fault itself: it kills a server, brings the store
	// back, and tells rec when each happened (rec.killAt, rec.relaunchAt,
	// rec.upAt). It returns when the store answers again, or with the
	// error that kept it away.
	strike(ctx context.Context, rec *recorder, down time.Duration) error
	// close stops every server and removes their files.
	close() error
}

// aofWindow is the loss window Redis documents for appendfsync everysec:
// the writes of about the last second, up to two when an fsync lags.
const aofWindow = 2 * time.Second

// documentedWindow describes the loss window of the fault's store.
func documentedWindow(kind string) string {
	return faults[kind].window.desc
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

// restartRedis returns the start of a fault that kills and restarts one
// redis-server with the AOF's fsync policy appendfsync ("" for no
// persistence).
func restartRedis(appendfsync string) func(ctx context.Context) (rig, error) {
	return func(ctx context.Context) (rig, error) { return startRedis(ctx, appendfsync) }
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

// strike kills the server, starts it again on the same port and
// directory down later, and tells rec when each happened.
func (s *redisServer) strike(ctx context.Context, rec *recorder, down time.Duration) error {
	s.kill()
	rec.note(&rec.killAt, time.Now())
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(down):
	}
	rec.note(&rec.relaunchAt, time.Now())
	if err := s.start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	rec.note(&rec.upAt, time.Now())
	return nil
}

// runFault strikes rg at the run's second at, down being how long the
// store stays away. It returns when the store answers again, or with the
// error that kept it away.
func runFault(ctx context.Context, rg rig, rec *recorder, start time.Time, at, down time.Duration) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(time.Until(start.Add(at))):
	}
	return rg.strike(ctx, rec, down)
}

// errNoServer is the error of -fault on a backend it cannot serve.
func errNoServer(kind string) error {
	return fmt.Errorf("-fault %s strikes servers the tool starts itself: use it with -backend %s only", kind, faults[kind].backend)
}
