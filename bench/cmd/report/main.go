// Command report turns the output of the bench module's benchmarks into
// docs/benchmarks.md (tables of medians and ratios to bare chi) and an SVG
// bar chart of the ratios. bench/run.sh runs it:
//
//	go run ./cmd/report -in results/raw.txt -out ../docs/benchmarks.md -svg ../docs/benchmarks.svg
//
// It reads Go benchmark output named Benchmark<Scenario>/<library>/<mode>,
// takes the median of each metric over the runs (-count), and compares
// every row with BenchmarkBare/chi-bare of the same mode from the same file.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() {
	var (
		in        = flag.String("in", "results/raw.txt", "Go benchmark output to read")
		out       = flag.String("out", "../docs/benchmarks.md", "markdown file to write")
		svg       = flag.String("svg", "../docs/benchmarks.svg", "SVG chart to write; its path relative to -out is linked from the markdown")
		benchstat = flag.String("benchstat", "", "benchstat output to append to the markdown (optional)")
		command   = flag.String("cmd", "", "the commands that produced -in, for \"How to reproduce\"")
		repro     = flag.String("repro", "bench/run.sh", "the command that reproduces the whole report")
		goVersion = flag.String("go", runtime.Version(), "Go version that ran the benchmarks")
		cond      = flag.String("conditions", "", "how the run went (duration, load average), for the machine table")
	)
	flag.Parse()
	if err := run(*in, *out, *svg, *benchstat, *command, *repro, *goVersion, *cond); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(in, out, svgPath, benchstatPath, command, repro, goVersion, conditions string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parse(f, in)
	if err != nil {
		return err
	}
	for _, m := range modes {
		if _, ok := res.bare(m); !ok {
			return fmt.Errorf("%s: no BenchmarkBare/%s/%s: ratios need bare chi from the same run", in, bareLib, m)
		}
	}

	m := machine{
		CPU:       cpuModel(res.config["cpu"]),
		Cores:     runtime.NumCPU(),
		GoVersion: goVersion,
		GOOS:      res.config["goos"],
		GOARCH:    res.config["goarch"],
		Date:      time.Now().UTC().Format("2006-01-02"),
		Command:   command,
		Repro:     repro,
		Cond:      conditions,
	}
	if benchstatPath != "" {
		b, err := os.ReadFile(benchstatPath)
		if err != nil {
			return err
		}
		m.Benchstat = string(b)
	}
	svgRel := filepath.Base(svgPath)
	if rel, err := filepath.Rel(filepath.Dir(out), svgPath); err == nil {
		svgRel = filepath.ToSlash(rel)
	}

	var md bytes.Buffer
	writeMarkdown(&md, res, m, svgRel)
	if err := os.WriteFile(out, md.Bytes(), 0o644); err != nil {
		return err
	}
	var chart bytes.Buffer
	writeSVG(&chart, res)
	return os.WriteFile(svgPath, chart.Bytes(), 0o644)
}

// machine describes where and how the benchmarks ran.
type machine struct {
	CPU       string
	Cores     int
	GoVersion string
	GOOS      string
	GOARCH    string
	Date      string
	Command   string
	Repro     string
	Cond      string
	Benchstat string
}

// cpuModel returns the CPU that go test reported, or the first model name
// in /proc/cpuinfo.
func cpuModel(fromBench string) string {
	if fromBench != "" {
		return fromBench
	}
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
