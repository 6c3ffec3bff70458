package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.etcd.io/bbolt"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/chisess/kit/chisess"
	"github.com/chisess/kit/chisess/backend"
	"github.com/chisess/kit/chisess/backend/boltbackend"
	"github.com/chisess/kit/chisess/backend/pgbackend"
	"github.com/chisess/kit/chisess/backend/redisbackend"
)

// capacityBackends are the stores -capacity measures, and growthBackends
// those whose growth it follows up to the largest -capacity-growth point.
var (
	capacityBackends = []string{"memory", "bolt", "redis", "postgres"}
	growthBackends   = []string{"memory", "bolt", "redis"}
)

// sessionsPerOwner is how many sessions share an owner in a capacity
// fill: a user signed in on a browser and an API client, as each virtual
// user of the load is. The owner index's cost is shared among them.
const sessionsPerOwner = 2

// capacityReservoir is how many sessions, drawn at random from all those
// filled, the timed reads choose from.
const capacityReservoir = 1000

// capacityConfig is what -capacity measures.
type capacityConfig struct {
	On       bool  // -capacity
	Sessions int   // -capacity-sessions: sessions per value size
	Sizes    []int // -capacity-sizes: bytes of values per session
	Growth   []int // -capacity-growth: session counts, 1 KB sessions
	Reads    int   // -capacity-reads: timed reads per point
}

// capacityFlags registers the -capacity flags on fs, and returns what
// checks them, against the rest of cfg, once fs is parsed.
func capacityFlags(fs *flag.FlagSet, c *capacityConfig) (check func(cfg config) error) {
	fs.BoolVar(&c.On, "capacity", false, "measure capacity instead of a load run: bytes per session in each store, sessions per GiB, requests per CPU-second, and how the cost grows (see docs/reliability.md)")
	fs.IntVar(&c.Sessions, "capacity-sessions", 10000, "sessions of each size -capacity fills")
	sizes := fs.String("capacity-sizes", "1024,4096,16384", "bytes of values per session, `list` comma-separated")
	growth := fs.String("capacity-growth", "10000,100000,1000000", "session counts at which -capacity measures 1 KB sessions on memory, bolt and redis, `list` comma-separated; empty for none")
	fs.IntVar(&c.Reads, "capacity-reads", 2000, "timed reads at each capacity point")
	return func(cfg config) error {
		var err error
		if c.Sizes, err = positiveInts("-capacity-sizes", *sizes); err != nil {
			return err
		}
		if c.Growth, err = positiveInts("-capacity-growth", *growth); err != nil {
			return err
		}
		if !c.On {
			return nil
		}
		switch {
		case c.Sessions < 1:
			return fmt.Errorf("-capacity-sessions %d: want at least 1", c.Sessions)
		case c.Reads < 1:
			return fmt.Errorf("-capacity-reads %d: want at least 1", c.Reads)
		case !increasing(c.Growth):
			return fmt.Errorf("-capacity-growth %q: want counts in increasing order", *growth)
		case cfg.Fault != "" || cfg.Break != "":
			return errors.New("-capacity measures the app as it is: drop -fault and -break")
		}
		for _, b := range cfg.Backends {
			if !slices.Contains(capacityBackends, b) {
				return fmt.Errorf("-capacity -backend %q: choose from %s", b, strings.Join(capacityBackends, ", "))
			}
		}
		return nil
	}
}

// increasing reports whether each of ns is larger than the one before.
func increasing(ns []int) bool {
	for i := 1; i < len(ns); i++ {
		if ns[i] <= ns[i-1] {
			return false
		}
	}
	return true
}

// positiveInts parses a comma-separated list of positive integers; ""
// is an empty list.
func positiveInts(flag, s string) ([]int, error) {
	var out []int
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s %q: want positive whole numbers, comma-separated", flag, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// CapacityReport is what -capacity writes as JSON.
type CapacityReport struct {
	Machine Machine `json:"machine"`
	// SessionsPerOwner sessions share each owner in the fills.
	SessionsPerOwner int `json:"sessions_per_owner"`
	// Sizes has a row per backend and value size, Growth a row per
	// backend and session count, Throughput a row per backend.
	Sizes      []CapacityPoint `json:"sizes"`
	Growth     []CapacityPoint `json:"growth"`
	Throughput []Throughput    `json:"throughput"`
}

// CapacityPoint is what a store holding Sessions sessions, each with
// ValueBytes bytes of values and an owner, costs.
type CapacityPoint struct {
	Backend    string `json:"backend"`
	ValueBytes int    `json:"value_bytes"`
	Sessions   int    `json:"sessions"`
	// StoreBytes is how much the store grew by, measured as Measure says:
	// the live heap for memory, the file for bolt, used_memory for redis,
	// pg_total_relation_size of the table for postgres.
	StoreBytes      int64   `json:"store_bytes"`
	Measure         string  `json:"measure"`
	BytesPerSession float64 `json:"bytes_per_session"`
	SessionsPerGiB  float64 `json:"sessions_per_gib"`
	// Store-specific figures, per session: Redis's MEMORY USAGE of a
	// session key and of an owner's key divided among its sessions;
	// PostgreSQL's table (heap and TOAST) and its indexes as filled, and
	// the whole after VACUUM FULL; bbolt's pages in use (the file grows
	// ahead of them).
	RedisSessionKey float64 `json:"redis_memory_usage_session,omitempty"`
	RedisOwnerShare float64 `json:"redis_memory_usage_owner_share,omitempty"`
	PGTable         float64 `json:"pg_table_bytes_per_session,omitempty"`
	PGIndexes       float64 `json:"pg_indexes_bytes_per_session,omitempty"`
	PGCompact       float64 `json:"pg_vacuum_full_bytes_per_session,omitempty"`
	BoltPages       float64 `json:"bolt_pages_in_use_per_session,omitempty"`
	// FillSeconds is how long filling took (this step's sessions only);
	// the reads are GET requests served in process, timed one at a time.
	FillSeconds float64 `json:"fill_s"`
	ReadP50     float64 `json:"read_p50_us"`
	ReadP99     float64 `json:"read_p99_us"`
}

// Throughput is a load run measured in CPU time: the requests the process
// served per second of CPU it used (user and system, from getrusage). The
// process holds the app, its in-process store (memory, bolt) or store
// client (redis, postgres), and the virtual users' HTTP clients, so the
// figure is a floor for the app alone. StoreCPUSeconds is the Redis
// server's own CPU (INFO used_cpu_user and used_cpu_sys) for redis.
type Throughput struct {
	Backend              string  `json:"backend"`
	VUs                  int     `json:"vus"`
	Seconds              float64 `json:"elapsed_s"`
	Requests             int64   `json:"requests"`
	PerSecond            float64 `json:"per_second"`
	CPUSeconds           float64 `json:"cpu_s"`
	PerCPUSecond         float64 `json:"per_cpu_second"`
	StoreCPUSeconds      float64 `json:"store_cpu_s,omitempty"`
	PerCPUSecondAndStore float64 `json:"per_cpu_second_with_store,omitempty"`
	Clean                bool    `json:"clean"` // no loss, resurrection, wrong data or error
}

// runCapacity runs -capacity and returns the exit status.
func runCapacity(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	var progress io.Writer = stderr
	if cfg.Quiet {
		progress = nil
	}
	rep, err := measureCapacity(ctx, cfg, progress)
	if err == nil {
		err = writeCapacity(cfg, rep, stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "chisessload: capacity:", err)
		return 1
	}
	if problems := capacityProblems(rep); len(problems) > 0 {
		fmt.Fprintln(stderr, "chisessload: capacity figures that cannot be right:\n  "+strings.Join(problems, "\n  "))
		return 1
	}
	return 0
}

// capacityProblems lists the figures of rep that cannot be right, so that
// a broken measurement is noticed rather than published: a session must
// cost more than its values, more for larger values, a read must take
// time, and a load run must be clean and use CPU.
func capacityProblems(rep CapacityReport) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	prev := map[string]CapacityPoint{}
	for _, p := range slices.Concat(rep.Sizes, rep.Growth) {
		at := fmt.Sprintf("%s, %d sessions of %d B", p.Backend, p.Sessions, p.ValueBytes)
		if p.BytesPerSession <= float64(p.ValueBytes) {
			bad("%s: %.0f bytes per session, not above the values", at, p.BytesPerSession)
		}
		if g := p.SessionsPerGiB * p.BytesPerSession; g < 0.999*(1<<30) || g > 1.001*(1<<30) {
			bad("%s: %.0f sessions per GiB at %.0f bytes each", at, p.SessionsPerGiB, p.BytesPerSession)
		}
		if p.ReadP50 <= 0 || p.ReadP99 < p.ReadP50 {
			bad("%s: reads p50 %.1f µs, p99 %.1f µs", at, p.ReadP50, p.ReadP99)
		}
	}
	for _, p := range rep.Sizes {
		if q, ok := prev[p.Backend]; ok && p.ValueBytes > q.ValueBytes && p.BytesPerSession <= q.BytesPerSession {
			bad("%s: %.0f bytes per session with %d B of values, not above the %.0f with %d B",
				p.Backend, p.BytesPerSession, p.ValueBytes, q.BytesPerSession, q.ValueBytes)
		}
		prev[p.Backend] = p
	}
	for _, t := range rep.Throughput {
		if !t.Clean || t.Requests == 0 || t.CPUSeconds <= 0 {
			bad("%s throughput: %d requests in %.2f CPU-seconds, clean %v", t.Backend, t.Requests, t.CPUSeconds, t.Clean)
		}
	}
	return out
}

func writeCapacity(cfg config, rep CapacityReport, stdout io.Writer) error {
	err := writeJSONFile(cfg.JSON, rep, stdout)
	if err == nil && cfg.Report != "" {
		err = os.WriteFile(cfg.Report, []byte(capacityMarkdown(rep)), 0o644)
	}
	return err
}

// measureCapacity fills each backend with sessions of each size, then
// follows the growth, then measures the throughput. Redis is a
// redis-server the tool starts for the purpose (used_memory and its CPU
// then count only this run's keys and requests); PostgreSQL is the one at
// -postgres-url, in a table of its own.
func measureCapacity(ctx context.Context, cfg config, progress io.Writer) (CapacityReport, error) {
	rep := CapacityReport{Machine: thisMachine(), SessionsPerOwner: sessionsPerOwner}
	st := cfg.Stores
	if slices.Contains(cfg.Backends, "redis") {
		srv, err := startRedis(ctx, "")
		if err != nil {
			return rep, err
		}
		defer srv.close()
		st.RedisAddr = srv.addr()
	}
	c := cfg.Capacity
	for _, name := range cfg.Backends {
		for _, size := range c.Sizes {
			pts, err := measureFill(ctx, name, st, size, []int{c.Sessions}, c.Reads, progress)
			if err != nil {
				return rep, fmt.Errorf("%s, %d B: %w", name, size, err)
			}
			rep.Sizes = append(rep.Sizes, pts...)
		}
	}
	for _, name := range cfg.Backends {
		if len(c.Growth) == 0 || !slices.Contains(growthBackends, name) {
			continue
		}
		pts, err := measureFill(ctx, name, st, 1024, c.Growth, c.Reads, progress)
		if err != nil {
			return rep, fmt.Errorf("%s growth: %w", name, err)
		}
		rep.Growth = append(rep.Growth, pts...)
	}
	for _, name := range cfg.Backends {
		t, err := measureThroughput(ctx, cfg, name, st, progress)
		if err != nil {
			return rep, fmt.Errorf("%s throughput: %w", name, err)
		}
		rep.Throughput = append(rep.Throughput, t)
	}
	return rep, nil
}

// measureFill fills a fresh namespace of the store with sessions of size
// bytes of values, and measures it at each of the counts, in order: the
// store's growth per session since it was empty, and timed reads.
func measureFill(ctx context.Context, name string, st stores, size int, counts []int, reads int, progress io.Writer) ([]CapacityPoint, error) {
	cs, err := openCapacityStore(ctx, name, st)
	if err != nil {
		return nil, err
	}
	defer cs.close()
	f, err := newFiller(cs.store, size)
	if err != nil {
		return nil, err
	}
	base, err := cs.size(ctx)
	if err != nil {
		return nil, err
	}
	var pts []CapacityPoint
	filled := 0
	for _, n := range counts {
		start := time.Now()
		if err := f.fill(ctx, filled, n, func(done int) {
			if progress != nil {
				fmt.Fprintf(progress, "\rcapacity %-8s %6d B: %d/%d sessions ", name, size, done, n)
			}
		}); err != nil {
			return nil, err
		}
		fillTime := time.Since(start)
		filled = n
		now, err := cs.size(ctx)
		if err != nil {
			return nil, err
		}
		p50, p99, err := f.timeReads(reads)
		if err != nil {
			return nil, err
		}
		grown := now.bytes - base.bytes
		p := CapacityPoint{Backend: name, ValueBytes: size, Sessions: n, StoreBytes: grown, Measure: cs.measure,
			BytesPerSession: float64(grown) / float64(n), FillSeconds: fillTime.Seconds(),
			ReadP50: p50, ReadP99: p99}
		p.SessionsPerGiB = (1 << 30) / p.BytesPerSession
		if err := cs.detail(ctx, &p, now, base); err != nil {
			return nil, err
		}
		pts = append(pts, p)
	}
	if progress != nil {
		fmt.Fprintln(progress)
	}
	return pts, nil
}

// storeSize is a store's size at one moment: bytes as its measure counts
// them, for PostgreSQL the part in indexes, and for bbolt the part of the
// file its pages use (the file grows ahead of them, in steps).
type storeSize struct {
	bytes   int64
	indexes int64
	inUse   int64
}

// capacityStore is a store opened for a capacity fill: how to size it
// and what releases it (removing everything the fill stored).
type capacityStore struct {
	store   backend.Backend
	measure string
	size    func(context.Context) (storeSize, error)
	detail  func(context.Context, *CapacityPoint, storeSize, storeSize) error
	close   func() error
}

func noDetail(context.Context, *CapacityPoint, storeSize, storeSize) error { return nil }

// openCapacityStore opens the store name in a fresh namespace, as
// openStore does, with a way to size it. bbolt is opened with NoSync:
// the file's layout is the same, and a million fsyncs would take an hour.
func openCapacityStore(ctx context.Context, name string, st stores) (*capacityStore, error) {
	switch name {
	case "memory":
		m := backend.NewMemory()
		return &capacityStore{store: m, measure: "live heap", size: liveHeap, detail: noDetail, close: m.Close}, nil

	case "bolt":
		dir, err := os.MkdirTemp(st.BoltDir, "chisessload-capacity-")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "sessions.db")
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true, Timeout: time.Second})
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s, err := boltbackend.New(db, boltbackend.Options{SweepInterval: -1})
		if err != nil {
			db.Close()
			os.RemoveAll(dir)
			return nil, err
		}
		size := func(context.Context) (storeSize, error) {
			fi, err := os.Stat(path)
			if err != nil {
				return storeSize{}, err
			}
			st := db.Stats()
			free := int64(st.FreePageN+st.PendingPageN) * int64(db.Info().PageSize)
			var high int64
			err = db.View(func(tx *bbolt.Tx) error { high = tx.Size(); return nil })
			return storeSize{bytes: fi.Size(), inUse: high - free}, err
		}
		detail := func(_ context.Context, p *CapacityPoint, now, base storeSize) error {
			p.BoltPages = float64(now.inUse-base.inUse) / float64(p.Sessions)
			return nil
		}
		return &capacityStore{store: s, measure: "file size", size: size, detail: detail,
			close: func() error { return errors.Join(s.Close(), db.Close(), os.RemoveAll(dir)) }}, nil

	case "redis":
		// The server is the tool's own (measureCapacity starts it), so its
		// used_memory counts only this fill, and FLUSHALL empties it.
		client := redis.NewClient(&redis.Options{Addr: st.RedisAddr})
		s, err := redisbackend.New(client, redisbackend.Options{})
		if err != nil {
			client.Close()
			return nil, err
		}
		size := func(ctx context.Context) (storeSize, error) {
			n, err := redisInfoFloat(ctx, client, "memory", "used_memory")
			return storeSize{bytes: int64(n)}, err
		}
		detail := func(ctx context.Context, p *CapacityPoint, _, _ storeSize) error {
			sess, owner, err := redisKeyUsage(ctx, client)
			p.RedisSessionKey, p.RedisOwnerShare = sess, owner/sessionsPerOwner
			return err
		}
		flush := func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return errors.Join(client.FlushAll(ctx).Err(), client.Close())
		}
		return &capacityStore{store: s, measure: "used_memory", size: size, detail: detail, close: flush}, nil

	case "postgres":
		if st.PostgresURL == "" {
			return nil, errors.New("-backend postgres needs -postgres-url or CHISESS_POSTGRES_URL")
		}
		pool, err := pgxpool.New(ctx, st.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("-postgres-url: %w", err)
		}
		table := "chisessload_capacity_" + randomHex(6)
		s, err := pgbackend.New(ctx, pool, pgbackend.Options{Table: table, CreateTable: true})
		if err != nil {
			pool.Close()
			return nil, err
		}
		ident := pgx.Identifier{table}.Sanitize()
		size := func(ctx context.Context) (storeSize, error) {
			var s storeSize
			err := pool.QueryRow(ctx, "SELECT pg_total_relation_size($1::regclass), pg_indexes_size($1::regclass)", ident).Scan(&s.bytes, &s.indexes)
			return s, err
		}
		detail := func(ctx context.Context, p *CapacityPoint, now, base storeSize) error {
			idx := now.indexes - base.indexes
			p.PGIndexes = float64(idx) / float64(p.Sessions)
			p.PGTable = float64(p.StoreBytes-idx) / float64(p.Sessions)
			// Index is an UPDATE, so each session left a dead row version
			// behind; VACUUM FULL rewrites the table without them.
			if _, err := pool.Exec(ctx, "VACUUM FULL "+ident); err != nil {
				return err
			}
			compact, err := size(ctx)
			p.PGCompact = float64(compact.bytes-base.bytes) / float64(p.Sessions)
			return err
		}
		drop := func() error {
			err := s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, derr := pool.Exec(ctx, "DROP TABLE IF EXISTS "+ident)
			pool.Close()
			return errors.Join(err, derr)
		}
		return &capacityStore{store: s, measure: "pg_total_relation_size", size: size, detail: detail, close: drop}, nil
	}
	return nil, fmt.Errorf("-capacity -backend %q: choose from %s", name, strings.Join(capacityBackends, ", "))
}

// liveHeap is the heap still in use after two full collections: what an
// object with a finalizer references survives the first (the previous
// fill's store did).
func liveHeap(context.Context) (storeSize, error) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return storeSize{bytes: int64(ms.HeapAlloc)}, nil
}

// redisInfoFloat reads one numeric field of a section of INFO.
func redisInfoFloat(ctx context.Context, c *redis.Client, section, field string) (float64, error) {
	info, err := c.Info(ctx, section).Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("redis INFO %s has no %s", section, field)
}

// redisKeyUsage returns the mean MEMORY USAGE of up to 200 session keys
// and of up to 200 owner keys found by SCAN on the server, which holds
// only this run's keys.
func redisKeyUsage(ctx context.Context, c *redis.Client) (session, owner float64, err error) {
	var sessions, owners []int64
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) && (len(sessions) < 200 || len(owners) < 200) {
		key := iter.Val()
		isOwner := strings.Contains(key, ":owner:")
		if isOwner && len(owners) >= 200 || !isOwner && len(sessions) >= 200 {
			continue
		}
		n, err := c.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			return 0, 0, err
		}
		if isOwner {
			owners = append(owners, n)
		} else {
			sessions = append(sessions, n)
		}
	}
	if err := iter.Err(); err != nil {
		return 0, 0, err
	}
	return mean(sessions), mean(owners), nil
}

func mean(xs []int64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum int64
	for _, x := range xs {
		sum += x
	}
	return float64(sum) / float64(len(xs))
}

// dataKey holds a capacity session's payload.
var dataKey = chisess.NewKey[string]("data")

// filler creates sessions as the app would, through chisess, with
// requests served in process (no network): each session holds size bytes
// of random text under dataKey, its user's name, and that user as owner.
type filler struct {
	h      http.Handler
	cookie string // the cookie's name
	size   int
	mu     sync.Mutex
	seen   int      // sessions offered to the reservoir
	res    []string // cookie values, a uniform sample of all sessions
	rnd    *rand.Rand
}

func newFiller(store backend.Backend, size int) (*filler, error) {
	// No idle timeout: with one, a read more than a minute after the
	// fill would refresh the session's last use, and time a write too.
	m, err := chisess.New(chisess.Config{Backend: store, Insecure: true})
	if err != nil {
		return nil, err
	}
	f := &filler{cookie: m.CookieName(), size: size, rnd: rand.New(rand.NewPCG(1, 2)), res: make([]string, 0, capacityReservoir)}
	r := chi.NewRouter()
	r.Use(chisess.Load(m))
	r.With(chisess.Autoload).Post("/fill", func(w http.ResponseWriter, r *http.Request) {
		s := chisess.From(r.Context())
		body, err := io.ReadAll(r.Body)
		if err == nil {
			user := r.URL.Query().Get("user")
			err = errors.Join(dataKey.Set(s, string(body)), userKey.Set(s, user), s.SetOwner(user))
		}
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.With(chisess.Autoload).Get("/read", func(w http.ResponseWriter, r *http.Request) {
		v, err := dataKey.Get(chisess.From(r.Context()))
		if err != nil {
			chisess.Error(w, r, err)
			return
		}
		fmt.Fprint(w, len(v))
	})
	f.h = r
	return f, nil
}

// fill creates sessions from..to-1 with a few workers, so that a store
// over the network has several requests in flight, and calls progress
// twice a second and at the end with the count done.
func (f *filler) fill(ctx context.Context, from, to int, progress func(int)) error {
	const workers = 8
	var next atomic.Int64
	next.Store(int64(from))
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			rnd := rand.NewChaCha8([32]byte{byte(w), byte(from), byte(from >> 8), byte(from >> 16)})
			buf := make([]byte, f.size)
			var err error
			for err == nil && ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= to {
					break
				}
				err = f.create(rnd, buf, i)
			}
			errs <- errors.Join(err, ctx.Err())
		}()
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var err error
	for running := workers; running > 0; {
		select {
		case e := <-errs:
			err = errors.Join(err, e)
			running--
		case <-tick.C:
			progress(min(int(next.Load()), to))
		}
	}
	progress(to)
	return err
}

// payloadChars are the characters of a payload: none needs escaping in
// JSON, so the stored value is as long as the payload plus its quotes.
const payloadChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// create makes session i, whose owner is shared with its neighbours.
func (f *filler) create(rnd *rand.ChaCha8, buf []byte, i int) error {
	rnd.Read(buf)
	for j, b := range buf {
		buf[j] = payloadChars[b&63]
	}
	user := "owner" + strconv.Itoa(i/sessionsPerOwner)
	req := httptest.NewRequest(http.MethodPost, "/fill?user="+user, strings.NewReader(string(buf)))
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusNoContent || len(cookies) != 1 {
		return fmt.Errorf("fill: status %d, %d cookies: %s", rec.Code, len(cookies), rec.Body)
	}
	f.offer(cookies[0].Value)
	return nil
}

// offer adds a session's cookie value to the reservoir: each session
// filled so far has the same chance to be in it.
func (f *filler) offer(v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen++
	if len(f.res) < cap(f.res) {
		f.res = append(f.res, v)
	} else if j := f.rnd.IntN(f.seen); j < len(f.res) {
		f.res[j] = v
	}
}

// timeReads reads n sessions drawn from the reservoir, one at a time,
// and returns the p50 and p99 of their times in microseconds. Each read
// must find its session's whole payload.
func (f *filler) timeReads(n int) (p50, p99 float64, err error) {
	lat := make([]time.Duration, 0, n)
	for range n {
		req := httptest.NewRequest(http.MethodGet, "/read", nil)
		req.AddCookie(&http.Cookie{Name: f.cookie, Value: f.res[f.rnd.IntN(len(f.res))]})
		rec := httptest.NewRecorder()
		start := time.Now()
		f.h.ServeHTTP(rec, req)
		lat = append(lat, time.Since(start))
		if rec.Code != http.StatusOK || rec.Body.String() != strconv.Itoa(f.size) {
			return 0, 0, fmt.Errorf("read: status %d, %q, want the %d bytes filled", rec.Code, rec.Body, f.size)
		}
	}
	l := latencyOf(lat)
	return l.P50 * 1000, l.P99 * 1000, nil
}

// measureThroughput runs the load on name and measures the CPU the
// process used meanwhile.
func measureThroughput(ctx context.Context, cfg config, name string, st stores, progress io.Writer) (Throughput, error) {
	cfg.Stores = st
	var storeCPU func() (float64, error)
	if name == "redis" {
		c := redis.NewClient(&redis.Options{Addr: st.RedisAddr})
		defer c.Close()
		storeCPU = func() (float64, error) {
			u, err := redisInfoFloat(ctx, c, "cpu", "used_cpu_user")
			s, err2 := redisInfoFloat(ctx, c, "cpu", "used_cpu_sys")
			return u + s, errors.Join(err, err2)
		}
	}
	var store0 float64
	if storeCPU != nil {
		var err error
		if store0, err = storeCPU(); err != nil {
			return Throughput{}, err
		}
	}
	cpu0, err := processCPU()
	if err != nil {
		return Throughput{}, err
	}
	res, err := runLoad(ctx, cfg, name, progress)
	if err != nil {
		return Throughput{}, err
	}
	cpu1, err := processCPU()
	if err != nil {
		return Throughput{}, err
	}
	t := Throughput{Backend: name, VUs: res.VUs, Seconds: res.Elapsed, Requests: res.Requests,
		PerSecond: res.PerSecond, CPUSeconds: cpu1 - cpu0, Clean: res.clean()}
	t.PerCPUSecond = float64(t.Requests) / t.CPUSeconds
	if storeCPU != nil {
		store1, err := storeCPU()
		if err != nil {
			return t, err
		}
		t.StoreCPUSeconds = store1 - store0
		t.PerCPUSecondAndStore = float64(t.Requests) / (t.CPUSeconds + t.StoreCPUSeconds)
	}
	return t, nil
}

// processCPU returns the CPU time, user and system, this process has used.
func processCPU() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), nil
}

// capacityMarkdown renders the report's three tables.
func capacityMarkdown(rep CapacityReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s. Each session has an owner, shared by %d sessions.\n\n", rep.Machine, rep.SessionsPerOwner)
	points := func(title string, pts []CapacityPoint) {
		if len(pts) == 0 {
			return
		}
		fmt.Fprintf(&b, "### %s\n\n", title)
		b.WriteString("| backend | values | sessions | bytes per session | over the values | sessions per GiB | measured as | detail | read p50 µs | read p99 µs |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|---|---|--:|--:|\n")
		for _, p := range pts {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f |\n",
				p.Backend, kib(p.ValueBytes), thousands(int64(p.Sessions)), thousands(int64(p.BytesPerSession)),
				thousands(int64(p.BytesPerSession)-int64(p.ValueBytes)), thousands(int64(p.SessionsPerGiB)),
				p.Measure, pointDetail(p), p.ReadP50, p.ReadP99)
		}
		b.WriteString("\n")
	}
	points("Bytes per session", rep.Sizes)
	points("Growth", rep.Growth)
	if len(rep.Throughput) > 0 {
		b.WriteString("### Requests per CPU-second\n\n")
		b.WriteString("| backend | VUs | time (s) | requests | req/s | process CPU s | req per CPU-second | Redis server CPU s | req per CPU-second with the server | clean |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
		for _, t := range rep.Throughput {
			server, with := "", ""
			if t.StoreCPUSeconds > 0 {
				server, with = fmt.Sprintf("%.1f", t.StoreCPUSeconds), thousands(int64(t.PerCPUSecondAndStore))
			}
			fmt.Fprintf(&b, "| %s | %d | %.1f | %s | %s | %.1f | %s | %s | %s | %v |\n",
				t.Backend, t.VUs, t.Seconds, thousands(t.Requests), thousands(int64(t.PerSecond)), t.CPUSeconds,
				thousands(int64(t.PerCPUSecond)), server, with, t.Clean)
		}
	}
	return b.String()
}

// pointDetail is a point's store-specific figures, per session.
func pointDetail(p CapacityPoint) string {
	switch {
	case p.RedisSessionKey > 0:
		return fmt.Sprintf("MEMORY USAGE: session key %s, owner key share %s", thousands(int64(p.RedisSessionKey)), thousands(int64(p.RedisOwnerShare)))
	case p.BoltPages > 0:
		return fmt.Sprintf("pages in use %s", thousands(int64(p.BoltPages)))
	case p.PGTable > 0:
		return fmt.Sprintf("table %s, indexes %s; after VACUUM FULL %s", thousands(int64(p.PGTable)), thousands(int64(p.PGIndexes)), thousands(int64(p.PGCompact)))
	}
	return ""
}

func kib(n int) string {
	if n%1024 == 0 {
		return strconv.Itoa(n/1024) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string { return english.Sprintf("%d", n) }

var english = message.NewPrinter(language.English)
