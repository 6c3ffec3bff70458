// Command chisessload drives an app that mounts every chisess middleware
// with many virtual users over real HTTP, and checks every answer against
// what each user's session must hold.
//
// It starts the app itself, on the backend it is given and on a port of
// 127.0.0.1 chosen by the system (it never targets another host), runs N
// virtual users for a bounded time and request count, and stops by itself.
// Each virtual user is a browser with a cookie jar and an API client with
// a bearer token, for one user of its own; it knows what both sessions
// must hold (a counter it increments, the counter a stream saves, its user
// after login) and counts every answer that contradicts it:
//
//	sessions lost         the session's data gone while not logged out
//	sessions resurrected  a session alive after its logout was answered
//	wrong data            a session holding anything else
//
// besides requests, latency (p50, p95, p99, max) and errors by class. The
// mix is mostly reads, with writes, logins (RenewToken), logouts
// (Destroy), "log out everywhere" (DestroyOwner), a server-sent event
// stream that changes the session with Session.Save, and header-token API
// calls (TokenHeader). See docs/reliability.md.
//
// Run it from the repository root:
//
//	go run ./cmd/chisessload -backend memory -vus 200 -duration 30s
//	go run ./cmd/chisessload -backend memory,bolt,redis,postgres -report /tmp/load.md -json /tmp/load.json
//
// With -capacity it measures instead what sessions cost: bytes per session
// in each store, sessions per GiB, requests per CPU-second, and how the
// cost grows with the number of sessions (capacity.go):
//
//	go run ./cmd/chisessload -capacity -backend memory,bolt,redis,postgres -report /tmp/capacity.md
//
// The Redis, Cluster and PostgreSQL backends take their servers from
// -redis-addr, -redis-cluster-addrs and -postgres-url, or from
// CHISESS_REDIS_ADDR, CHISESS_REDIS_CLUSTER_ADDRS and CHISESS_POSTGRES_URL
// (scripts/services.sh exports them). The Sentinel backend asks
// -redis-sentinel-addrs for its primary, or starts a primary, a replica
// and three Sentinels of its own. Each run uses a key prefix, table or
// file of its own and removes it at the end.
//
// A progress line goes to stderr, the JSON result to stdout (or -json),
// and a markdown summary to -report. The exit status is 0 when every
// answer matched its model and no request failed, 1 otherwise, 2 for bad
// flags.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chisess/kit/chisess"
)

// quietLogger drops go-redis's log lines, which would break the progress
// line while a store is away.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func main() {
	if len(os.Args) > 1 && os.Args[1] == serveArg {
		os.Exit(serveMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// config is what one invocation runs.
type config struct {
	Backends []string
	VUs      int
	Duration time.Duration // each backend's run stops after it
	Requests int64         // and after this many requests, when > 0
	Seed     uint64        // 0: a random one, reported
	Think    time.Duration // a virtual user's pause between requests
	Timeout  time.Duration // per request
	Break    string        // a broken app variant, to prove the checker
	Stores   stores
	JSON     string // file for the JSON result; "" for stdout
	Report   string // file for the markdown summary; "" for none
	SVG      string // directory for the SVG charts; "" for none
	Quiet    bool   // no progress line
	// The fault: "" for none, and when and for how long.
	Fault     string
	FaultAt   time.Duration
	FaultDown time.Duration

	// StoreTimeout is the app's chisess Config.Timeout: it bounds each
	// store call; 0 for chisess's default.
	StoreTimeout time.Duration
	// -capacity and its flags: see capacity.go.
	Capacity capacityConfig
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("chisessload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: chisessload [flags]\n\n"+
			"Starts an app mounting every chisess middleware on 127.0.0.1 and drives it with\n"+
			"virtual users that check every answer. See docs/reliability.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	backends := fs.String("backend", "memory", "`stores` to run on, one after the other, comma-separated: "+strings.Join(backendNames, ", "))
	fs.IntVar(&cfg.VUs, "vus", 50, "virtual users")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how `long` each backend's run lasts at most")
	fs.Int64Var(&cfg.Requests, "requests", 0, "stop each run after this many requests too; 0 for no count bound")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the random mix; 0 for a random one (the result names it)")
	fs.DurationVar(&cfg.Think, "think", 0, "each virtual user's pause between requests")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "timeout of one request")
	fs.DurationVar(&cfg.StoreTimeout, "store-timeout", chisess.DefaultTimeout, "the app's bound on each store call (chisess Config.Timeout; go-redis and pgx honour it)")
	fs.StringVar(&cfg.Break, "break", "", "run a deliberately broken app, to see the checker catch it: "+strings.Join(breaks, ", "))
	fs.StringVar(&cfg.Stores.RedisAddr, "redis-addr", getenv("CHISESS_REDIS_ADDR"), "Redis `host:port` or redis:// URL for -backend redis (env CHISESS_REDIS_ADDR)")
	cluster := fs.String("redis-cluster-addrs", getenv("CHISESS_REDIS_CLUSTER_ADDRS"), "Redis Cluster `nodes`, host:port,... for -backend cluster (env CHISESS_REDIS_CLUSTER_ADDRS)")
	sentinels := fs.String("redis-sentinel-addrs", getenv("CHISESS_REDIS_SENTINEL_ADDRS"), "Redis Sentinel `addresses`, host:port,... for -backend sentinel (env CHISESS_REDIS_SENTINEL_ADDRS); none: the tool starts a primary, a replica and three Sentinels itself")
	fs.StringVar(&cfg.Stores.MasterName, "redis-master-name", "mymaster", "the `name` the Sentinels know the primary by")
	fs.DurationVar(&cfg.Stores.ClusterReload, "cluster-state-reload", time.Second, "the Cluster client's ClusterStateReloadInterval, which bounds how long it dials a dead primary after a failover (go-redis#3979); 0 keeps go-redis's 60 s")
	fs.StringVar(&cfg.Stores.PostgresURL, "postgres-url", getenv("CHISESS_POSTGRES_URL"), "PostgreSQL connection `URL` for -backend postgres (env CHISESS_POSTGRES_URL)")
	fs.StringVar(&cfg.Stores.BoltDir, "bolt-dir", "", "`directory` for the bbolt file of -backend bolt; default the system's temporary directory")
	fs.StringVar(&cfg.JSON, "json", "", "write the JSON result to `file` instead of stdout")
	fs.StringVar(&cfg.Report, "report", "", "write a markdown summary to `file`")
	fs.StringVar(&cfg.SVG, "svg", "", "write each run's charts (latency, errors, goroutines, heap over time) as SVG files into `dir`")
	fs.StringVar(&cfg.Fault, "fault", "", "inject a `fault` into each run, on what the tool starts itself: "+strings.Join(faultNames(), ", ")+" (see docs/reliability.md)")
	fs.DurationVar(&cfg.FaultAt, "fault-at", 3*time.Second, "when the fault strikes, from the start of the run")
	fs.DurationVar(&cfg.FaultDown, "fault-down", 2*time.Second, "how long the store stays away")
	fs.BoolVar(&cfg.Quiet, "quiet", false, "no progress line on stderr")
	checkCapacity := capacityFlags(fs, &cfg.Capacity)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for b := range strings.SplitSeq(*backends, ",") {
		b = strings.TrimSpace(b)
		if !slices.Contains(backendNames, b) {
			return cfg, fmt.Errorf("-backend %q: choose from %s", b, strings.Join(backendNames, ", "))
		}
		cfg.Backends = append(cfg.Backends, b)
	}
	if *cluster != "" {
		cfg.Stores.ClusterAddrs = strings.Split(*cluster, ",")
	}
	if *sentinels != "" {
		cfg.Stores.SentinelAddrs = strings.Split(*sentinels, ",")
	}
	if err := checkCapacity(cfg); err != nil {
		return cfg, err
	}
	switch {
	case cfg.VUs < 1:
		return cfg, fmt.Errorf("-vus %d: want at least 1", cfg.VUs)
	case cfg.Duration <= 0:
		return cfg, fmt.Errorf("-duration %v: want a positive bound", cfg.Duration)
	case cfg.Requests < 0:
		return cfg, fmt.Errorf("-requests %d: want 0 (no count bound) or more", cfg.Requests)
	case cfg.Timeout <= 0:
		return cfg, fmt.Errorf("-timeout %v: want a positive timeout", cfg.Timeout)
	case cfg.StoreTimeout <= 0:
		return cfg, fmt.Errorf("-store-timeout %v: want a positive timeout", cfg.StoreTimeout)
	case cfg.Think < 0:
		return cfg, fmt.Errorf("-think %v: want 0 or more", cfg.Think)
	case cfg.Break != "" && !slices.Contains(breaks, cfg.Break):
		return cfg, fmt.Errorf("-break %q: choose from %s", cfg.Break, strings.Join(breaks, ", "))
	case cfg.Fault != "" && !slices.Contains(faultNames(), cfg.Fault):
		return cfg, fmt.Errorf("-fault %q: choose from %s", cfg.Fault, strings.Join(faultNames(), ", "))
	case cfg.Fault != "" && slices.ContainsFunc(cfg.Backends, func(b string) bool { return !slices.Contains(faults[cfg.Fault].backends, b) }):
		return cfg, errFaultBackend(cfg.Fault)
	case cfg.Fault != "" && (cfg.FaultAt <= 0 || cfg.FaultAt >= cfg.Duration):
		return cfg, fmt.Errorf("-fault-at %v: want a time inside the run's -duration %v", cfg.FaultAt, cfg.Duration)
	case cfg.Fault != "" && cfg.FaultDown < 0:
		return cfg, fmt.Errorf("-fault-down %v: want 0 or more", cfg.FaultDown)
	}
	return cfg, nil
}

// run runs the tool and returns its exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "chisessload:", err)
		return 2
	}
	if cfg.Capacity.On {
		return runCapacity(ctx, cfg, stdout, stderr)
	}
	var progress io.Writer = stderr
	if cfg.Quiet {
		progress = nil
	}
	rep := Report{Machine: thisMachine()}
	status := 0
	for _, b := range cfg.Backends {
		res, err := runLoad(ctx, cfg, b, progress)
		if err != nil {
			fmt.Fprintf(stderr, "chisessload: %s: %v\n", b, err)
			return 1
		}
		if !res.clean() {
			status = 1
		}
		rep.Runs = append(rep.Runs, res)
	}
	if err := writeOutputs(cfg, rep, stdout); err != nil {
		fmt.Fprintln(stderr, "chisessload:", err)
		return 1
	}
	return status
}

// clean reports whether the run saw no problem and no error. A run with a
// fault may lose sessions inside its store's documented window, and fail
// requests from the kill until it recovered, but nothing else: no error
// before the kill, no loss outside the window, and the app still up.
func (r Result) clean() bool {
	if f := r.Fault; f != nil {
		return r.Resurrected+r.WrongData+f.LostUnexpected+f.ErrorsBefore == 0 &&
			f.KilledAt > 0 && f.Recovered && f.AppUp
	}
	return r.Lost+r.Resurrected+r.WrongData+r.errorCount() == 0
}

func writeOutputs(cfg config, rep Report, stdout io.Writer) error {
	if err := writeJSONFile(cfg.JSON, rep, stdout); err != nil {
		return err
	}
	if cfg.SVG != "" {
		if _, err := writeCharts(cfg.SVG, rep); err != nil {
			return err
		}
	}
	if cfg.Report != "" {
		return os.WriteFile(cfg.Report, []byte(markdown(rep)), 0o644)
	}
	return nil
}

// writeJSONFile writes v as indented JSON to the file path, or to stdout
// when path is "".
func writeJSONFile(path string, v any, stdout io.Writer) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// runLoad runs the virtual users against a fresh app on the backend name
// and returns what they saw.
func runLoad(ctx context.Context, cfg config, name string, progress io.Writer) (Result, error) {
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	res := Result{Backend: name, VUs: cfg.VUs, Duration: cfg.Duration.String(), MaxRequests: cfg.Requests, Seed: seed, Break: cfg.Break}

	st := cfg.Stores
	var rg rig
	if cfg.Fault != "" {
		var err error
		if rg, err = setUpFault(ctx, cfg, name, &st); err != nil {
			return res, err
		}
		defer rg.close()
	}
	if name == "sentinel" && len(st.SentinelAddrs) == 0 {
		// No Sentinels of the user's: the tool starts its own.
		own, err := startSentinel(ctx)
		if err != nil {
			return res, err
		}
		defer own.close()
		own.point(&st)
	}
	var (
		base    *url.URL
		appErrs func(http.RoundTripper) int64
	)
	if child, ok := rg.(*appProcess); ok {
		base, appErrs = child.base(), child.sessionErrors
	} else {
		store, closeStore, err := openStore(ctx, name, st)
		if err != nil {
			return res, err
		}
		defer closeStore()
		app, handler, err := newLoadApp(store, cfg.Break, slog.New(slog.DiscardHandler), cfg.StoreTimeout)
		if err != nil {
			return res, err
		}
		// The app listens on the loopback interface only.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return res, err
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			<-served
		}()
		base = &url.URL{Scheme: "http", Host: ln.Addr().String()}
		appErrs = func(http.RoundTripper) int64 { return app.errs.Load() }
	}

	transport := &http.Transport{
		MaxIdleConns:        cfg.VUs * 2,
		MaxIdleConnsPerHost: cfg.VUs * 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer transport.CloseIdleConnections()

	start := time.Now()
	res.Started = start.UTC().Format(time.RFC3339)
	rec := newRecorder(start)
	rec.fault = cfg.Fault
	stopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	faulted := make(chan error, 1)
	if rg != nil {
		go func() { faulted <- runFault(stopCtx, rg, rec, start, cfg.FaultAt, cfg.FaultDown) }()
	} else {
		faulted <- nil
	}
	t := &target{
		base:         base,
		transport:    transport,
		rec:          rec,
		timeout:      cfg.Timeout,
		storeTimeout: cmp.Or(cfg.StoreTimeout, chisess.DefaultTimeout), // 0: chisess's default
		think:        cfg.Think,
		deadline:     start.Add(cfg.Duration),
		stop:         stopCtx,
	}
	if cfg.Requests > 0 {
		t.budget = new(atomic.Int64)
		t.budget.Store(cfg.Requests)
	}

	var wg sync.WaitGroup
	run := randomHex(4)
	for i := range cfg.VUs {
		v := newVU(t, fmt.Sprintf("user%d-%s", i, run), seed+uint64(i))
		wg.Go(v.run)
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()

	// Once a second: a sample of goroutines and heap, and the progress line.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	rec.sample(start)
	for waiting := true; waiting; {
		select {
		case <-finished:
			waiting = false
		case now := <-tick.C:
			rec.sample(now)
			if progress != nil {
				showProgress(progress, name, cfg, rec, now.Sub(start))
			}
		}
	}
	elapsed := time.Since(start)
	if progress != nil {
		showProgress(progress, name, cfg, rec, elapsed)
		fmt.Fprintln(progress)
	}
	cancel()
	if err := <-faulted; err != nil {
		return res, fmt.Errorf("fault: %w", err)
	}
	rec.fill(&res, elapsed)
	res.AppSessionErrors = appErrs(transport)
	if res.Fault != nil {
		res.Fault.AppUp = appAnswers(transport, t.base)
	}
	return res, ctx.Err()
}

// appAnswers reports whether the app still answers a read.
func appAnswers(transport http.RoundTripper, base *url.URL) bool {
	c := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	resp, err := c.Get(base.JoinPath("/read").String())
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// showProgress rewrites the progress line: a bar of the time or the
// request count used, whichever is further, and the counts so far.
func showProgress(w io.Writer, name string, cfg config, rec *recorder, elapsed time.Duration) {
	requests, errs, problems := rec.totals()
	done := min(1, elapsed.Seconds()/cfg.Duration.Seconds())
	if cfg.Requests > 0 {
		done = max(done, min(1, float64(requests)/float64(cfg.Requests)))
	}
	const width = 30
	n := int(done * width)
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(requests) / elapsed.Seconds()
	}
	fmt.Fprintf(w, "\r%-8s [%s] %3.0f%% %5.1fs  %d requests  %.0f/s  %d errors  %d problems ",
		name, bar, done*100, elapsed.Seconds(), requests, rate, errs, problems)
}
