package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// svgElements parses b as XML and counts its elements by name; it fails
// the test when b is not well-formed.
func svgElements(t *testing.T, b []byte) map[string]int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	n := map[string]int{}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
		if se, ok := tok.(xml.StartElement); ok {
			n[se.Name.Local]++
		}
	}
}

// seriesOf returns a result whose series has n seconds.
func seriesOf(n int) Result {
	r := Result{Backend: "memory"}
	for i := range n {
		r.Series = append(r.Series, Second{T: i, Requests: 100, Errors: int64(i % 3), Problems: int64(i % 2),
			Latency: Latency{P50: float64(i%7) + 0.5, P99: float64(i%11) + 3}, Goroutines: 40 + i%5, HeapBytes: uint64(i) << 20})
	}
	return r
}

// TestCharts checks every chart of a run: well-formed SVG, one polyline
// per series, a shaded window per fault, and a size that stays bounded
// however long the run.
func TestCharts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		secs  int
		fault *Fault
	}{
		{"empty", 0, nil},
		{"one second", 1, nil},
		{"a minute", 60, nil},
		{"with a fault", 30, &Fault{Kind: "redis-restart", KilledAt: 10, UpAt: 12}},
		{"a fault that never came back", 30, &Fault{Kind: "redis-restart", KilledAt: 10}},
		{"a day", 86400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r := seriesOf(tc.secs)
			r.Fault = tc.fault
			cs := charts(r)
			is.Equal(len(cs), 4) // latency, errors, goroutines, heap
			for _, c := range cs {
				b := c.svg()
				els := svgElements(t, b)
				is.Equal(els["svg"], 1)
				is.Equal(els["polyline"], len(c.Series)) // one polyline per series
				shaded := 0
				if tc.fault != nil {
					shaded = 1
				}
				is.Equal(els["rect"], 1+shaded) // the background, and the fault's window
				is.True(len(b) < 32<<10)        // bounded, even for a day of seconds
				is.True(!strings.Contains(string(b), "NaN"))
			}
		})
	}
}

// TestReduce checks that a long series keeps its peaks.
func TestReduce(t *testing.T) {
	is := is.New(t)
	vals := make([]float64, 10*maxPoints)
	vals[1234] = 99
	out, step := reduce(vals)
	is.Equal(step, 10)
	is.Equal(len(out), maxPoints)
	is.Equal(out[123], 99.0)
	short := []float64{1, 2}
	out, step = reduce(short)
	is.Equal(out, short)
	is.Equal(step, 1)
}

// TestWriteCharts checks the files -svg writes.
func TestWriteCharts(t *testing.T) {
	is := is.New(t)
	dir := filepath.Join(t.TempDir(), "charts")
	r := seriesOf(5)
	f := seriesOf(5)
	f.Backend, f.Fault = "redis", &Fault{Kind: "redis-restart", KilledAt: 1, UpAt: 2}
	files, err := writeCharts(dir, Report{Runs: []Result{r, f}})
	is.NoErr(err)
	is.Equal(len(files), 8)
	is.Equal(filepath.Base(files[0]), "1-memory-latency.svg")
	is.Equal(filepath.Base(files[7]), "2-redis-redis-restart-heap.svg")
	for _, file := range files {
		b, err := os.ReadFile(file)
		is.NoErr(err)
		svgElements(t, b)
	}
}
