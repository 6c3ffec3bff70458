package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// String describes the machine in one line, for the reports.
func (m Machine) String() string {
	s := fmt.Sprintf("Machine: %s/%s, %d CPUs (GOMAXPROCS %d)", m.GOOS, m.GOARCH, m.CPUs, m.GOMAXPROCS)
	if m.CPUModel != "" {
		s += ", " + m.CPUModel
	}
	return s + ", " + m.Go
}

// markdown renders the report: the machine, a table with a row per run,
// and each run's requests by kind, errors and problems.
func markdown(rep Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.\n\n", rep.Machine)
	b.WriteString("| backend | VUs | time (s) | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | lost | resurrected | wrong data | errors |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rep.Runs {
		name := r.Backend
		if r.Break != "" {
			name += " (broken: " + r.Break + ")"
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %d | %d | %d | %d |\n",
			name, r.VUs, r.Elapsed, r.Requests, r.PerSecond, r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max,
			r.Lost, r.Resurrected, r.WrongData, r.errorCount())
	}
	for _, r := range rep.Runs {
		fmt.Fprintf(&b, "\n### %s: requests by kind\n\n", r.Backend)
		b.WriteString("| kind | requests | errors | p50 ms | p95 ms | p99 ms | max ms |\n|---|--:|--:|--:|--:|--:|--:|\n")
		for _, k := range r.Kinds {
			fmt.Fprintf(&b, "| %s | %d | %d | %.2f | %.2f | %.2f | %.2f |\n",
				k.Name, k.Requests, k.Errors, k.Latency.P50, k.Latency.P95, k.Latency.P99, k.Latency.Max)
		}
		if f := r.Fault; f != nil {
			fmt.Fprintf(&b, "\n### %s: fault %s\n\n", r.Backend, f.Kind)
			b.WriteString("| killed at s | back at s | errors | of requests | error rate | errors from first to last s | recovered s after back | kept | lost in window | lost otherwise | logouts undone in window | errors before kill | app up |\n")
			b.WriteString("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
			fmt.Fprintf(&b, "| %.2f | %.2f | %d | %d | %.1f%% | %.2f | %.2f | %d | %d | %d | %d | %d | %v |\n",
				f.KilledAt, f.UpAt, f.Errors, f.Requests, f.ErrorRate*100, f.ErrorSpan, f.TimeToRecover,
				f.Kept, f.LostInWindow, f.LostUnexpected, f.UndoneInWindow, f.ErrorsBefore, f.AppUp)
			fmt.Fprintf(&b, "\nDocumented loss window: %s.\n", f.Window)
			fmt.Fprintf(&b, "\nRequests begun during the fault: p50 %.2f ms, p99 %.2f ms, max %.2f ms.\n", f.Latency.P50, f.Latency.P99, f.Latency.Max)
			if f.RejoinedAt > 0 {
				fmt.Fprintf(&b, "\nThe killed primary, started again, replicated the new one at %.2f s.\n", f.RejoinedAt)
			}
		}
		if len(r.Errors) > 0 {
			b.WriteString("\nErrors by class:")
			for _, c := range slices.Sorted(maps.Keys(r.Errors)) {
				fmt.Fprintf(&b, " %s %d;", c, r.Errors[c])
			}
			b.WriteString("\n")
		}
		if len(r.Problems) > 0 {
			b.WriteString("\nFirst problems and errors:\n\n")
			for _, p := range r.Problems {
				fmt.Fprintf(&b, "- %s\n", p)
			}
		}
	}
	return b.String()
}

func (r Result) errorCount() int64 {
	var n int64
	for _, e := range r.Errors {
		n += e
	}
	return n
}
