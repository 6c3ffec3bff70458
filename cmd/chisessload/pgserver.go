package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pgServer is a PostgreSQL server the tool starts, stops and starts again
// on the same port of 127.0.0.1, with its data in a temporary directory of
// its own, as scripts/services.sh starts the tests' server. Unlike that
// one, it keeps PostgreSQL's durability settings as they ship (fsync and
// synchronous_commit on): a commit answered is in the WAL on disk.
type pgServer struct {
	bin  string // the directory of initdb, pg_ctl and postgres
	dir  string // the temporary directory: data/, the socket, the log
	port int
	// cred runs the server's programs as the postgres OS user when the
	// tool runs as root, which PostgreSQL refuses; nil otherwise.
	cred *syscall.Credential
}

// pgBinDir returns the newest /usr/lib/postgresql/<version>/bin holding
// initdb and pg_ctl (Debian's layout), or the directory of the pg_ctl on
// the PATH.
func pgBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		return n
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("-fault needs PostgreSQL's server programs (initdb, pg_ctl): none under /usr/lib/postgresql/*/bin or on the PATH")
}

// startPostgres makes a new cluster in a temporary directory (initdb),
// starts it on a free port and waits until it accepts connections.
func startPostgres(ctx context.Context) (*pgServer, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "chisessload-postgres-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{bin: bin, dir: dir}
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("-fault runs PostgreSQL as the postgres OS user when run as root: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if out, err := s.run(ctx, "initdb", "-D", s.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, lastLines(out, 5))
	}
	// A port found free may be taken before the server binds it: try
	// another one.
	for attempt := 1; ; attempt++ {
		if s.port, err = freePort(); err == nil {
			err = s.start(ctx)
		}
		if err == nil {
			return s, nil
		}
		if attempt == 3 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

// postgresURL is the URL of the postgres database of a server initdb
// made (trusting local connections) at addr.
func postgresURL(addr string) string {
	return "postgres://postgres@" + addr + "/postgres?sslmode=disable"
}

func (s *pgServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// run runs one of the server's programs, as the postgres OS user when the
// tool is root, and returns its output.
func (s *pgServer) run(ctx context.Context, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, prog), args...)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// start starts the server and waits (pg_ctl -w, at most 60 s) until it
// accepts connections. After an immediate stop, the server first replays
// its WAL, as after a crash.
func (s *pgServer) start(ctx context.Context) error {
	logFile := filepath.Join(s.dir, "postgres.log")
	out, err := s.run(ctx, "pg_ctl", "-D", s.data(), "-l", logFile, "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", s.port, s.dir), "start")
	if err != nil {
		log, _ := os.ReadFile(logFile)
		return fmt.Errorf("pg_ctl start on port %d: %w: %s%s", s.port, err, out, lastLines(string(log), 5))
	}
	return nil
}

// stop stops the server with pg_ctl's mode: "immediate" makes every
// server process quit at once, without a checkpoint, as a crash would;
// "fast" rolls back open transactions and checkpoints first.
func (s *pgServer) stop(mode string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := s.run(ctx, "pg_ctl", "-D", s.data(), "-m", mode, "-w", "-t", "30", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %w: %s", mode, err, strings.TrimSpace(out))
	}
	return nil
}

// close stops the server, if it runs, and removes its directory.
func (s *pgServer) close() error {
	var err error
	if _, statErr := os.Stat(filepath.Join(s.data(), "postmaster.pid")); statErr == nil {
		err = s.stop("fast")
	}
	return errors.Join(err, os.RemoveAll(s.dir))
}
