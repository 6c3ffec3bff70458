package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/matryer/is"
)

// TestCapacity runs -capacity as a user does, tiny (a few hundred
// sessions, a few hundred requests), on every store it measures: it must
// exit 0, which needs capacityProblems to find nothing (each session
// costs more than its values, more for larger values, reads take time,
// the load runs are clean), report every point, and leave no table or
// file behind.
func TestCapacity(t *testing.T) {
	is := is.New(t)
	requireRedisServer(t)
	pgURL := requireService(t, "CHISESS_POSTGRES_URL")
	boltDir := t.TempDir()
	dir := t.TempDir()
	jsonFile, mdFile := filepath.Join(dir, "capacity.json"), filepath.Join(dir, "capacity.md")
	tablesBefore := capacityTables(t, pgURL)

	args := []string{"-capacity", "-backend", "memory,bolt,redis,postgres",
		"-capacity-sessions", "200", "-capacity-sizes", "1024,4096,16384", "-capacity-growth", "100,300",
		"-capacity-reads", "50", "-vus", "4", "-requests", "300", "-duration", "1m", "-seed", "3",
		"-postgres-url", pgURL, "-bolt-dir", boltDir, "-json", jsonFile, "-report", mdFile, "-quiet"}
	var stdout, stderr bytes.Buffer
	status := run(t.Context(), args, func(string) string { return "" }, &stdout, &stderr)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}

	b, err := os.ReadFile(jsonFile)
	is.NoErr(err)
	var rep CapacityReport
	is.NoErr(json.Unmarshal(b, &rep))
	is.Equal(len(rep.Sizes), 4*3)        // a point per store and size
	is.Equal(len(rep.Growth), 3*2)       // memory, bolt and redis at 100 and 300 sessions
	is.Equal(len(rep.Throughput), 4)     // a load run per store
	is.Equal(capacityProblems(rep), nil) // the figures are sane
	for _, p := range rep.Sizes {
		is.Equal(p.Sessions, 200)
		switch p.Backend {
		case "redis":
			is.True(p.RedisSessionKey > float64(p.ValueBytes)) // MEMORY USAGE of a session key holds its values
			is.True(p.RedisOwnerShare > 0)                     // and the owner index costs something
		case "postgres":
			is.True(p.PGTable > 0 && p.PGIndexes > 0 && p.PGCompact > float64(p.ValueBytes)) // table, indexes, compacted
		case "bolt":
			is.True(p.BoltPages > float64(p.ValueBytes)) // the pages in use hold the values
		}
	}
	for _, p := range rep.Growth {
		is.Equal(p.ValueBytes, 1024)
		is.True(p.Sessions == 100 || p.Sessions == 300)
	}
	for _, tp := range rep.Throughput {
		is.Equal(tp.Requests, int64(300))
		is.True(tp.PerCPUSecond > 0)
		is.Equal(tp.StoreCPUSeconds > 0, tp.Backend == "redis") // only the tool's own Redis reports its CPU
	}
	md, err := os.ReadFile(mdFile)
	is.NoErr(err)
	for _, heading := range []string{"### Bytes per session", "### Growth", "### Requests per CPU-second"} {
		is.True(strings.Contains(string(md), heading)) // every table is in the report
	}
	is.Equal(capacityTables(t, pgURL), tablesBefore) // the PostgreSQL tables are dropped
	left, err := os.ReadDir(boltDir)
	is.NoErr(err)
	is.Equal(len(left), 0) // the bbolt files are removed
}

// capacityTables counts the tables -capacity makes on the server.
func capacityTables(t *testing.T, url string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE tablename LIKE 'chisessload\_capacity\_%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCapacityProblems feeds capacityProblems reports that a broken
// measurement would make: each must be named.
func TestCapacityProblems(t *testing.T) {
	good := func(backend string, value int, bytes float64) CapacityPoint {
		return CapacityPoint{Backend: backend, ValueBytes: value, Sessions: 100, BytesPerSession: bytes,
			SessionsPerGiB: (1 << 30) / bytes, ReadP50: 5, ReadP99: 20}
	}
	clean := Throughput{Backend: "memory", Requests: 300, CPUSeconds: 0.5, Clean: true}
	tests := []struct {
		name string
		rep  CapacityReport
		want string // "" for no problem
	}{
		{"sane", CapacityReport{Sizes: []CapacityPoint{good("memory", 1024, 1500), good("memory", 4096, 4600)},
			Growth: []CapacityPoint{good("bolt", 1024, 2000)}, Throughput: []Throughput{clean}}, ""},
		{"below the values", CapacityReport{Sizes: []CapacityPoint{good("memory", 4096, 3700)}},
			"memory, 100 sessions of 4096 B: 3700 bytes per session, not above the values"},
		{"growth below the values", CapacityReport{Growth: []CapacityPoint{good("redis", 1024, 900)}},
			"redis, 100 sessions of 1024 B: 900 bytes per session"},
		{"not growing with the values", CapacityReport{Sizes: []CapacityPoint{good("bolt", 1024, 5000), good("bolt", 4096, 4500)}},
			"bolt: 4500 bytes per session with 4096 B of values, not above the 5000 with 1024 B"},
		{"sessions per GiB off", CapacityReport{Sizes: []CapacityPoint{func() CapacityPoint {
			p := good("redis", 1024, 1500)
			p.SessionsPerGiB = 1e9 / 1500
			return p
		}()}}, "sessions per GiB at 1500 bytes each"},
		{"no read time", CapacityReport{Sizes: []CapacityPoint{func() CapacityPoint {
			p := good("postgres", 1024, 2000)
			p.ReadP50, p.ReadP99 = 0, 0
			return p
		}()}}, "reads p50 0.0 µs"},
		{"load not clean", CapacityReport{Throughput: []Throughput{{Backend: "redis", Requests: 300, CPUSeconds: 1}}},
			"redis throughput: 300 requests in 1.00 CPU-seconds, clean false"},
		{"no CPU", CapacityReport{Throughput: []Throughput{{Backend: "bolt", Requests: 300, Clean: true}}},
			"bolt throughput: 300 requests in 0.00 CPU-seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			got := capacityProblems(tt.rep)
			if tt.want == "" {
				is.Equal(got, nil) // a sane report has no problem
				return
			}
			is.Equal(len(got), 1)                      // one problem, the one broken in
			is.True(strings.Contains(got[0], tt.want)) // named with its store and figure
		})
	}
}

// TestCapacityFlags checks the -capacity flags: bad values exit 2 and
// name the flag.
func TestCapacityFlags(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"a store it does not measure", []string{"-capacity", "-backend", "memory,cluster"}, `-capacity -backend "cluster"`},
		{"a size that is not a number", []string{"-capacity", "-capacity-sizes", "1k"}, `-capacity-sizes "1k"`},
		{"a size of zero", []string{"-capacity", "-capacity-sizes", "0"}, `-capacity-sizes "0"`},
		{"growth out of order", []string{"-capacity", "-capacity-growth", "1000,10"}, `-capacity-growth "1000,10"`},
		{"growth repeated", []string{"-capacity", "-capacity-growth", "10,10"}, `-capacity-growth "10,10"`},
		{"a fault", []string{"-capacity", "-backend", "redis", "-fault", "redis-restart"}, "drop -fault and -break"},
		{"a broken app", []string{"-capacity", "-break", "logout"}, "drop -fault and -break"},
		{"no sessions", []string{"-capacity", "-capacity-sessions", "0"}, "-capacity-sessions 0"},
		{"no reads", []string{"-capacity", "-capacity-reads", "0"}, "-capacity-reads 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			var stdout, stderr bytes.Buffer
			status := run(t.Context(), tt.args, func(string) string { return "" }, &stdout, &stderr)
			is.Equal(status, 2)
			is.True(strings.Contains(stderr.String(), tt.stderr)) // the message names the flag and its value
		})
	}
}
