package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chisess/kit/chisess/backend/boltbackend"
)

// serveArg, as the first argument, runs the tool as the app alone, on a
// bbolt file, until SIGTERM or SIGINT: -fault bolt-kill runs the app so,
// as a process of its own that it can kill. It is not a user's flag.
const serveArg = "-serve"

// sessionErrorsPath is where the app in its own process answers how many
// session errors it has answered, for the run's result.
const sessionErrorsPath = "/_chisessload/session-errors"

// serveMain runs the app alone, with the process's arguments after
// serveArg, and returns the exit status.
func serveMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, os.Args[2:], os.Stdout, os.Stderr)
}

// serve runs the app on the bbolt file of -bolt-file until ctx is done. It
// serves the listening socket it inherits as file descriptor 3 (the tool
// binds it, as systemd's socket activation does), and prints "listening"
// on stdout once it serves.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chisessload "+serveArg, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("bolt-file", "", "the bbolt `file`")
	timeout := fs.Duration("store-timeout", 0, "the app's chisess Config.Timeout; 0 for chisess's default")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" {
		fmt.Fprintf(stderr, "chisessload %s: want -bolt-file\n", serveArg)
		return 2
	}
	err := func() error {
		ln, err := net.FileListener(os.NewFile(3, "listener"))
		if err != nil {
			return fmt.Errorf("the listening socket, file descriptor 3: %w", err)
		}
		defer ln.Close()
		store, err := boltbackend.Open(*file, boltbackend.Options{})
		if err != nil {
			return err
		}
		defer store.Close()
		app, handler, err := newLoadApp(store, "", slog.New(slog.DiscardHandler), *timeout)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/", handler)
		mux.HandleFunc("GET "+sessionErrorsPath, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, app.errs.Load())
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		fmt.Fprintln(stdout, "listening")
		select {
		case err := <-served:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}()
	if err != nil {
		fmt.Fprintf(stderr, "chisessload %s: %v\n", serveArg, err)
		return 1
	}
	return 0
}

// appProcess is the app running in a process of its own (serveArg) on a
// bbolt file, which -fault bolt-kill kills with SIGKILL and starts again
// on the same file and address. The tool binds the address itself, for
// each process, and hands it the socket: while no process runs, nothing
// listens and connections are refused; once the tool has bound it again,
// connections wait in its queue until the new process serves them. So
// the tool knows when the app can first answer again.
type appProcess struct {
	exe     string // this program
	file    string // the bbolt file
	dir     string // the directory holding it, removed at close
	timeout time.Duration
	addr    string // "127.0.0.1:0" until the first start has bound a port
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
}

// startApp starts the app in a process of its own, on file.
func startApp(ctx context.Context, file string, storeTimeout time.Duration) (*appProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	a := &appProcess{exe: exe, file: file, timeout: storeTimeout, addr: "127.0.0.1:0"}
	if err := a.start(ctx, func() {}); err != nil {
		return nil, err
	}
	return a, nil
}

// start binds the app's address (a free port the first time, the same
// one after), calls relaunch, starts the process on the socket, and waits
// (at most 30 s) until it says it serves.
func (a *appProcess) start(ctx context.Context, relaunch func()) error {
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		return err
	}
	relaunch()
	a.addr = ln.Addr().String()
	sock, err := ln.(*net.TCPListener).File()
	ln.Close() // the process has its own copy of the socket
	if err != nil {
		return err
	}
	defer sock.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(a.exe, serveArg, "-bolt-file", a.file, "-store-timeout", a.timeout.String())
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = w, os.Stderr, []*os.File{sock}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	a.cmd, a.done = cmd, make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(cmd, a.done)

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if strings.TrimSpace(s) != "listening" {
			a.kill()
			return fmt.Errorf("the app's process did not start (it said %q)", s)
		}
		return nil
	case <-ctx.Done():
		a.kill()
		return ctx.Err()
	case <-time.After(30 * time.Second):
		a.kill()
		return errors.New("the app's process did not listen within 30s")
	}
}

// base is the app's URL.
func (a *appProcess) base() *url.URL { return &url.URL{Scheme: "http", Host: a.addr} }

// kill sends SIGKILL and waits for the process to be gone.
func (a *appProcess) kill() {
	a.cmd.Process.Kill()
	<-a.done
}

// strike kills the app's process and, down later, starts it again on the
// same file and address.
func (a *appProcess) strike(ctx context.Context, rec *recorder, down time.Duration) error {
	return strikeOutage(ctx, a, rec, down)
}

func (a *appProcess) takeAway(gone func()) error { a.kill(); gone(); return nil }
func (a *appProcess) bringBack(ctx context.Context, relaunch func()) error {
	return a.start(ctx, relaunch)
}

// sessionErrors asks the app how many session errors it answered: the
// process started last, since its start.
func (a *appProcess) sessionErrors(transport http.RoundTripper) int64 {
	c := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	resp, err := c.Get(a.base().JoinPath(sessionErrorsPath).String())
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n
}

// close stops the process (SIGTERM, then SIGKILL after 10 s) and removes
// the bbolt file's directory.
func (a *appProcess) close() error {
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		a.kill()
	}
	return os.RemoveAll(a.dir)
}
