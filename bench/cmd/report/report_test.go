package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestParse(t *testing.T) {
	is := is.New(t)
	f, err := os.Open("testdata/raw.txt")
	is.NoErr(err) // testdata is there
	defer f.Close()
	res, err := parse(f, "raw.txt")
	is.NoErr(err) // the sample parses

	is.Equal(res.libs, []string{"chisess-memory", "scs-goredis", "chisess-redis"}) // libraries in order of appearance, bare and floors left out
	is.Equal(res.floors, []string{"context-value+writer", "redis-get+set"})        // floors apart
	is.Equal(res.config["cpu"], "Test CPU @ 1.00GHz")                              // file configuration is kept

	b, ok := res.bare("serial")
	is.True(ok)                // bare chi serial is there
	is.Equal(b.NsOp, 1000.0)   // median of 1000, 1200, 900
	is.Equal(b.Runs, 3)        // three runs
	is.Equal(b.AllocsOp, 10.0) // allocs/op kept

	x, ok := res.ratio("Read", "chisess-memory", "serial")
	is.True(ok)      // ratio of a present row
	is.Equal(x, 2.5) // median 2500 over bare 1000
	x, ok = res.ratio("Read", "chisess-memory", "parallel")
	is.True(ok)      // the parallel row is compared with parallel bare
	is.Equal(x, 3.0) // 1500 over 500

	r, ok := res.get("Read", "scs-goredis", "serial")
	is.True(ok)                // a row with a custom metric
	is.True(r.HasRT)           // roundtrips/op is read
	is.Equal(r.RoundTrip, 1.0) // with its value

	_, ok = res.ratio("RMW", "chisess-memory", "serial")
	is.True(!ok) // a missing row has no ratio
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			is.Equal(median(tt.in), tt.want) // median of the sample
		})
	}
}

func TestLogTicks(t *testing.T) {
	is := is.New(t)
	is.Equal(logTicks(1, 7), []float64{1, 2, 5, 10})            // from 1 up past the largest ratio
	is.Equal(logTicks(0.97, 2), []float64{0.5, 1, 2})           // a ratio below 1 extends the axis down
	is.Equal(logTicks(1.3, 40), []float64{1, 2, 5, 10, 20, 50}) // starts at or below the smallest ratio
}

func TestFormat(t *testing.T) {
	is := is.New(t)
	is.Equal(fmtInt(1234567), "1 234 567")    // thousands are spaced
	is.Equal(fmtInt(-12), "-12")              // negative numbers keep their sign
	is.Equal(fmtRatio(1.234), "1.23×")        // small ratios get two decimals
	is.Equal(fmtRatio(12.34), "12.3×")        // larger ones fewer
	is.Equal(fmtRatio(123.4), "123×")         // and none past 100
	is.Equal(tickLabel(2000), "2k×")          // axis labels stay short
	is.Equal(tickLabel(0.5), "0.5×")          // and show fractions
	is.Equal(fmtSpeedup(2), "2.00× faster")   // a speed-up
	is.Equal(fmtSpeedup(0.5), "2.00× slower") // a slow-down reads as such
}

func TestRun(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	md, svg, bs := filepath.Join(dir, "docs", "benchmarks.md"), filepath.Join(dir, "docs", "benchmarks.svg"), filepath.Join(dir, "benchstat.txt")
	is.NoErr(os.MkdirAll(filepath.Dir(md), 0o755))                                                           // output dir
	is.NoErr(os.WriteFile(bs, []byte("benchstat says hi"), 0o644))                                           // a benchstat file
	is.NoErr(run("testdata/raw.txt", md, svg, bs, "go test -bench .", "bench/run.sh", "go1.99", "5 rounds")) // the report is written

	out, err := os.ReadFile(md)
	is.NoErr(err) // markdown written
	text := string(out)
	for _, want := range []string{
		"| cores (nproc) |",
		"| Go | go1.99 linux/amd64 |",
		"| run | 5 rounds |",
		"| CPU | Test CPU @ 1.00GHz |",
		"go test -bench .",
		"![Ratio", "(benchmarks.svg)",
		"| chisess-memory | 2 500 | 2.50× | 2 000 | 20 | +10 |  |",
		"| scs-goredis | 50 000 | 50.0× | 5 000 | 80 | +70 | 1.00 |",
		"| chisess-memory | skipped |",
		"benchstat says hi",
		// every target is checked, met or not
		"| C read ≤ 3× bare | chisess-memory | 2.50× | 3.00× | yes |",
		"| faster than scs-goredis in B, C, D and E (the least of the four) | chisess-memory | 20.0× faster | 16.7× faster | yes |",
		"| faster than scs-goredis in B, C, D and E (the least of the four) | chisess-redis | 1.25× faster | n/a | yes |",
		"| D RMW: 2 round trips (1 read, 1 write) | chisess-redis | 2.00 | n/a | yes |",
		"| D RMW time ≤ 0.6× scs-goredis | chisess-redis | 0.80× of scs-goredis | n/a | no |",
		"| E new time ≤ 0.6× scs-goredis | chisess-redis | n/a | n/a | n/a |",
		// floors, and what they bound
		"| context-value+writer | 1 150 ns | 1.15× | skipped | | +3 |  |",
		"| redis-get+set | 80 000 ns | 80.0× | skipped | | +20 | 2.00 |",
		"are 1.15× bare chi, so no session middleware can meet B ≤ 1.1× here",
		"the round trips alone (redis-get+set) take 80 000 ns, 0.64× of scs-goredis's 125 000 ns; chisess-redis takes 100 000 ns, 0.80× of it.",
	} {
		if !strings.Contains(text, want) {
			t.Logf("missing %q in:\n%s", want, text)
		}
		is.True(strings.Contains(text, want)) // the markdown has each expected line
	}

	chart, err := os.ReadFile(svg)
	is.NoErr(err) // svg written
	dec := xml.NewDecoder(bytes.NewReader(chart))
	rects := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		is.NoErr(err) // the SVG is well-formed XML
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	// One background, three legend swatches, and one bar per present
	// library row (floors are not libraries): chisess-memory read ×2,
	// scs-goredis read ×2, chisess-redis and scs-goredis RMW serial.
	is.Equal(rects, 1+3+4+2)
}

func TestRunWithoutBare(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.txt")
	is.NoErr(os.WriteFile(raw, []byte("BenchmarkRead/chisess-memory/serial-2 \t 10\t 100 ns/op\n"), 0o644)) // no bare row
	err := run(raw, filepath.Join(dir, "b.md"), filepath.Join(dir, "b.svg"), "", "", "", "go1", "")
	is.True(err != nil)                                     // ratios need bare chi
	is.True(strings.Contains(err.Error(), "BenchmarkBare")) // and the error says what is missing
}

// TestRueidisFloorNotes checks that the floors of chisess-rueidis's
// commands are set against its rows, scs-goredis and one go-redis SET.
func TestRueidisFloorNotes(t *testing.T) {
	is := is.New(t)
	raw := `BenchmarkBare/chi-bare/serial-2 1000 1000 ns/op 1000 B/op 10 allocs/op
BenchmarkRMW/scs-goredis/serial-2 1000 120000 ns/op 2.000 roundtrips/op 9000 B/op 300 allocs/op
BenchmarkRMW/chisess-rueidis/serial-2 1000 90000 ns/op 1.000 hit-ratio 1.000 roundtrips/op 5000 B/op 50 allocs/op
BenchmarkFloor/redis-set/serial-2 1000 50000 ns/op 1.000 roundtrips/op 3000 B/op 20 allocs/op
BenchmarkFloor/rueidis-swap/serial-2 1000 60000 ns/op 1.000 roundtrips/op 3000 B/op 20 allocs/op
`
	res, err := parse(strings.NewReader(raw), "raw.txt")
	is.NoErr(err) // the sample parses
	var out bytes.Buffer
	writeMarkdown(&out, res, machine{}, "benchmarks.svg")
	want := "D RMW on chisess-rueidis (one round trip, its swap): the commands alone on rueidis (rueidis-swap) " +
		"take 60 000 ns, 0.50× of scs-goredis's 120 000 ns, where one SET on go-redis (redis-set) takes 50 000 ns; " +
		"chisess-rueidis takes 90 000 ns, 0.75× of it."
	if !strings.Contains(out.String(), want) {
		t.Logf("missing %q in:\n%s", want, out.String())
	}
	is.True(strings.Contains(out.String(), want))                        // the note sets the floor against the row
	is.True(!strings.Contains(out.String(), "E new on chisess-rueidis")) // no note without its rows
}
