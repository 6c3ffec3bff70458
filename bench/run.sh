#!/usr/bin/env bash
# bench/run.sh — runs the comparison benchmarks and writes docs/benchmarks.md
# and docs/benchmarks.svg.
#
#   bench/run.sh                          # all rows, 6 rounds, -benchtime 500ms
#   COUNT=5 BENCHTIME=300ms bench/run.sh
#   BENCH='Bare|Read' bench/run.sh        # a subset (keep Bare: ratios need it)
#
# Steps: install and start Redis, Valkey 8.1 and PostgreSQL on 127.0.0.1
# (scripts/services.sh), check every adapter (TestAdaptersPersist, with the
# services required), run the benchmarks into bench/results/raw.txt, run
# benchstat into bench/results/benchstat.txt, and turn both into the docs
# with bench/cmd/report. Services are stopped on every exit.
#
# The suite runs COUNT rounds of `go test -count 1` rather than one
# `go test -count COUNT`: -count repeats each benchmark back to back, so a
# burst of load from elsewhere on a shared machine lands on every sample of
# a few rows; rounds spread it over one sample of many rows, and the median
# of each row shrugs it off. The samples are the same in number and format.
set -euo pipefail
export NO_COLOR=1

cd "$(dirname "${BASH_SOURCE[0]}")"
bench_dir=$PWD

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-500ms}
BENCH=${BENCH:-.}
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# shellcheck source-path=SCRIPTDIR source=../scripts/services.sh
source ../scripts/services.sh
services_install redis postgres valkey
trap services_stop EXIT
services_start redis postgres valkey
export CHISESS_REQUIRE_SERVICES=1

mkdir -p results ../docs

# One test binary for the check and every round: they all measure the same
# build even if the source changes meanwhile (others may be editing the repo).
bin=$(mktemp -d -t chisess-bench.XXXXXX)
trap 'rm -rf "$bin"; services_stop' EXIT
go test -c -o "$bin/bench.test" .

echo "== adapters persist their writes"
"$bin/bench.test" -test.count 1 -test.run '^TestAdaptersPersist$'

rev=${BENCH_REV:-$(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)}
if [[ -z ${BENCH_REV:-} && -n $(git -C .. status --porcelain -- chisess go.mod go.sum 2>/dev/null) ]]; then
	rev+=" with uncommitted changes in chisess/"
fi
cmd=("$bin/bench.test" -test.run '^$' -test.bench "$BENCH" -test.benchmem -test.count 1 -test.benchtime "$BENCHTIME" -test.timeout 60m)
shown="go test -run '^\$' -bench '$BENCH' -benchmem -count 1 -benchtime $BENCHTIME -timeout 60m ."
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$SECONDS
: >results/raw.txt
for ((round = 1; round <= COUNT; round++)); do
	echo "== round $round of $COUNT: $shown"
	"${cmd[@]}" | tee -a results/raw.txt
done
elapsed=$((SECONDS - start))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== benchmarks took $elapsed s; load average before: $load_before, after: $load_after"

echo "== benchstat"
go run "$BENCHSTAT" results/raw.txt >results/benchstat.txt
cat results/benchstat.txt

echo "== report"
go run ./cmd/report \
	-in results/raw.txt \
	-out ../docs/benchmarks.md \
	-svg ../docs/benchmarks.svg \
	-benchstat results/benchstat.txt \
	-cmd "cd bench && for i in \$(seq $COUNT); do $shown; done | tee results/raw.txt" \
	-repro "COUNT=$COUNT BENCHTIME=$BENCHTIME BENCH='$BENCH' bench/run.sh" \
	-go "$(go env GOVERSION)" \
	-conditions "chisess at $rev; $COUNT rounds in $elapsed s; load average (1, 5, 15 min) $load_before before, $load_after after"
echo "wrote ${bench_dir%/bench}/docs/benchmarks.md and docs/benchmarks.svg"
