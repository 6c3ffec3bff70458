package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The -fault values.
const (
	faultRedisRestart    = "redis-restart"     // no persistence: every session is lost
	faultRedisRestartAOF = "redis-restart-aof" // AOF, appendfsync everysec
)

var faultNames = []string{faultRedisRestart, faultRedisRestartAOF,
	faultPostgresRestart, faultPostgresDrop, faultPartition, faultSlow, faultBoltKill}

// faultSpec is what a fault needs and promises.
type faultSpec struct {
	// backends lists the -backend values the fault works with.
	backends []string
	// reachable is true when requests may reach the store during the
	// fault (a slow link), or are not known not to: otherwise a request
	// that ran entirely while the store was away changed nothing.
	reachable bool
	// window describes the loss window the store documents for the fault.
	window string
}

// faultSpecs holds every fault's spec, by -fault value.
var faultSpecs = map[string]faultSpec{
	faultRedisRestart:    {backends: []string{"redis"}, window: "no persistence: every session stored before the restart"},
	faultRedisRestartAOF: {backends: []string{"redis"}, window: "AOF with appendfsync everysec: sessions last changed in the 2 s before the kill"},
	faultPostgresRestart: {backends: []string{"postgres"}, window: windowNone + ": a commit answered is in the WAL"},
	faultPostgresDrop:    {backends: []string{"postgres"}, window: windowNone + ": the server keeps running"},
	// A partition's failures are not taken to have changed nothing: a CI
	// run once found a session the model did not know of after one, so
	// the tool does not assume it.
	faultPartition: {backends: []string{"redis", "postgres"}, reachable: true, window: windowNone + ": the server keeps running"},
	faultSlow:      {backends: []string{"redis", "postgres"}, reachable: true, window: windowNone + ": the server keeps running"},
	faultBoltKill:  {backends: []string{"bolt"}, window: windowNone + ": bbolt fsyncs each commit before it returns"},
}

// windowNone begins the window of a fault that may lose nothing.
const windowNone = "none"

// aofWindow is the loss window Redis documents for appendfsync everysec:
// the writes of about the last second, up to two when an fsync lags.
const aofWindow = 2 * time.Second

// documentedWindow describes the loss window of the fault's store.
func documentedWindow(kind string) string {
	return faultSpecs[kind].window
}

// A fault is what -fault strikes during a run: a server the tool started
// itself, a proxy between the app and its store, or the app's own
// process.
type fault interface {
	// strike takes the store (or the app) away, and returns once it is.
	strike() error
	// restore brings it back, and returns once it serves again. It calls
	// relaunch at the first moment the store may answer again: a request
	// that failed before then changed nothing.
	restore(ctx context.Context, relaunch func()) error
	// close stops what the fault started and removes its files.
	close() error
}

// redisServer is a redis-server the tool starts, kills and restarts on
// the same port of 127.0.0.1, in a temporary directory of its own.
type redisServer struct {
	dir  string
	port int
	aof  bool
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
// directory, and waits until it answers.
func startRedis(ctx context.Context, aof bool) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("-fault needs redis-server on the PATH: %w", err)
	}
	// go-redis logs each failed dial while the server is away; the
	// results count those requests as errors already.
	redis.SetLogger(quietLogger{})
	dir, err := os.MkdirTemp("", "chisessload-redis-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &redisServer{dir: dir, port: port, aof: aof}
	if err := s.start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start starts the server and waits up to 10 s for it to answer PING.
func (s *redisServer) start(ctx context.Context) error {
	appendonly := "no"
	if s.aof {
		appendonly = "yes"
	}
	s.cmd = exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", strconv.Itoa(s.port), "--protected-mode", "yes",
		"--save", "", "--appendonly", appendonly, "--appendfsync", "everysec",
		"--dir", s.dir, "--logfile", "redis.log", "--daemonize", "no")
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
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, lastLines(string(log), 5))
		case <-ctx.Done():
			s.kill()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on port %d did not answer in 10s: %w", s.port, err)
		}
	}
}

func (s *redisServer) strike() error { s.kill(); return nil }
func (s *redisServer) restore(ctx context.Context, relaunch func()) error {
	relaunch()
	return s.start(ctx)
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

// runFault strikes f at the run's second at, restores it down later, and
// tells rec when each happened. It returns when the store serves again,
// or with the error that kept it away. Once struck, f is restored even
// when the run ends first, so that the run can clean up its store.
func runFault(ctx context.Context, f fault, rec *recorder, start time.Time, at, down time.Duration) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(time.Until(start.Add(at))):
	}
	rec.note(&rec.struckAt, time.Now())
	if err := f.strike(); err != nil {
		return err
	}
	rec.note(&rec.killAt, time.Now())
	select {
	case <-ctx.Done():
	case <-time.After(down):
	}
	relaunch := func() { rec.note(&rec.relaunchAt, time.Now()) }
	if err := f.restore(context.WithoutCancel(ctx), relaunch); err != nil {
		return err
	}
	rec.note(&rec.upAt, time.Now())
	return nil
}

// errFaultBackend is the error of -fault on a backend it cannot serve.
func errFaultBackend(kind string) error {
	return fmt.Errorf("-fault %s works with -backend %s only", kind, strings.Join(faultSpecs[kind].backends, " or "))
}
