package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// The scenarios, in the order of the tables. Base is the benchmark's
// function name without "Benchmark".
var scenarios = []struct{ Base, Title, Short string }{
	{"Bare", "A: bare chi (the floor)", "A bare"},
	{"Untouched", "B: untouched route, valid cookie", "B untouched"},
	{"Read", "C: read one key", "C read"},
	{"RMW", "D: read-modify-write of a counter", "D RMW"},
	{"New", "E: new session", "E new"},
}

// floorScenario names BenchmarkFloor, whose rows are not libraries but
// what no library can go under (see bench/floor_test.go).
const floorScenario = "Floor"

// The modes, each compared with bare chi of the same mode.
var modes = []string{"serial", "parallel"}

// bareLib is the library name of scenario A.
const bareLib = "chi-bare"

// key names one row of one table.
type key struct{ Scenario, Lib, Mode string }

// row is the medians of every run of one benchmark.
type row struct {
	Runs      int
	NsOp      float64
	BytesOp   float64
	AllocsOp  float64
	RoundTrip float64 // roundtrips/op; HasRT says whether it was reported
	HasRT     bool
	HitRatio  float64 // hit-ratio, of a library with a local cache; HasHit says whether it was reported
	HasHit    bool
}

// results is everything read from a benchmark file.
type results struct {
	rows   map[key]row
	libs   []string          // in order of first appearance, bare and floors excluded
	floors []string          // the rows of BenchmarkFloor, in order of appearance
	config map[string]string // file configuration: goos, goarch, cpu, pkg
}

// parse reads Go benchmark output, keeping the benchmarks named
// Benchmark<Scenario>/<library>/<mode>[-procs], and takes the median of
// each metric over the runs.
func parse(r io.Reader, name string) (*results, error) {
	samples := map[key]map[string][]float64{}
	res := &results{rows: map[key]row{}, config: map[string]string{}}
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, rec
		case *benchfmt.Result:
			for _, c := range rec.Config {
				if c.File {
					res.config[c.Key] = string(c.Value)
				}
			}
			base, parts := rec.Name.Parts()
			var names []string
			for _, p := range parts {
				if s := string(p); strings.HasPrefix(s, "/") {
					names = append(names, s[1:])
				}
			}
			if len(names) != 2 {
				continue
			}
			k := key{Scenario: string(base), Lib: names[0], Mode: names[1]}
			if samples[k] == nil {
				samples[k] = map[string][]float64{}
			}
			for _, v := range rec.Values {
				unit, val := v.Unit, v.Value
				switch {
				case v.OrigUnit == "ns/op":
					unit, val = "ns/op", v.OrigValue // as printed, without a round trip through seconds
				case unit == "sec/op":
					unit, val = "ns/op", val*1e9
				}
				samples[k][unit] = append(samples[k][unit], val)
			}
			list := &res.libs
			if k.Scenario == floorScenario {
				list = &res.floors
			}
			if k.Lib != bareLib && !slices.Contains(*list, k.Lib) {
				*list = append(*list, k.Lib)
			}
		}
	}
	if err := br.Err(); err != nil {
		return nil, err
	}
	for k, s := range samples {
		rt, hasRT := s["roundtrips/op"]
		hit, hasHit := s["hit-ratio"]
		res.rows[k] = row{
			Runs:      len(s["ns/op"]),
			NsOp:      median(s["ns/op"]),
			BytesOp:   median(s["B/op"]),
			AllocsOp:  median(s["allocs/op"]),
			RoundTrip: median(rt),
			HasRT:     hasRT,
			HitRatio:  median(hit),
			HasHit:    hasHit,
		}
	}
	if len(res.rows) == 0 {
		return nil, fmt.Errorf("%s: no benchmark results of the form Benchmark<Scenario>/<library>/<mode>", name)
	}
	return res, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// get returns the row of lib in scenario and mode.
func (res *results) get(scenario, lib, mode string) (row, bool) {
	r, ok := res.rows[key{scenario, lib, mode}]
	return r, ok
}

// bare returns the bare-chi row of mode.
func (res *results) bare(mode string) (row, bool) {
	return res.get("Bare", bareLib, mode)
}

// ratio returns lib's ns/op in scenario divided by bare chi's, both in mode.
func (res *results) ratio(scenario, lib, mode string) (float64, bool) {
	r, ok := res.get(scenario, lib, mode)
	b, okb := res.bare(mode)
	if !ok || !okb || b.NsOp == 0 {
		return 0, false
	}
	return r.NsOp / b.NsOp, true
}
