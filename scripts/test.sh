#!/usr/bin/env bash
# scripts/test.sh — runs every check and test of the repo, on a fresh
# Debian machine as well as on a developer's: installs and starts the
# services the tests need (scripts/services.sh), then runs, in order:
#
#   gofmt -l                       (fails if any file is listed)
#   the module list                (every go.mod is in go.work, and the reverse)
#   staticcheck install            (go install honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION)
#   in every module (a dir with a go.mod, the root first), on its own
#   go.mod (GOWORK=off), as an app that requires it would build it:
#     go mod tidy -diff            (go.mod and go.sum are complete and tidy)
#     go vet ./...
#     staticcheck ./...
#     go test -race -count=1 ./...
#   scripts/check-deps.sh          (an app that imports chisess gets no driver)
#   go test -fuzz for each target in scripts/fuzz-targets.txt (FUZZTIME, default 100000x)
#
# Exits non-zero on the first failure; services are stopped on every exit.
set -euo pipefail
export NO_COLOR=1

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

# shellcheck source=scripts/services.sh
source scripts/services.sh

start_s=$SECONDS
# section prints a heading and notes how long the previous section took,
# for the summary at the end.
timings=()
section_name=""
section_start=$SECONDS
section() {
	if [[ -n $section_name ]]; then
		timings+=("$(printf '%4d s  %s' "$((SECONDS - section_start))" "$section_name")")
	fi
	section_name=$*
	section_start=$SECONDS
	printf '\n== %s\n' "$*"
}

section "services"
services_install
trap services_stop EXIT
services_start
# Tests fail instead of skipping when a service variable is missing.
export CHISESS_REQUIRE_SERVICES=1
env | grep '^CHISESS_' | sort

section "gofmt -l"
go_files=$(find . \( -name .git -o -name vendor -o -name testdata \) -prune -o -name '*.go' -type f -print | sort)
if [[ -n $go_files ]]; then
	unformatted=$(printf '%s\n' "$go_files" | tr '\n' '\0' | xargs -0 gofmt -l)
	if [[ -n $unformatted ]]; then
		echo "gofmt: these files are not formatted (run gofmt -w on them):" >&2
		printf '%s\n' "$unformatted" | sed 's/^/  /' >&2
		exit 1
	fi
fi
echo "ok"

section "modules"
# Every directory with a go.mod, the root first; go.work must use exactly these.
mapfile -t modules < <(find . \( -name .git -o -name vendor -o -name testdata \) -prune -o -name go.mod -type f -print |
	sed 's|/go.mod$||' | sort)
printf '%s\n' "${modules[@]}"
mapfile -t used < <(go work edit -json | sed -n 's/^[[:space:]]*"DiskPath": "\(.*\)".*/\1/p' |
	sed 's|^\([^.]\)|./\1|; s|/$||' | sort)
if [[ "${modules[*]}" != "${used[*]}" ]]; then
	echo "go.work uses: ${used[*]}" >&2
	echo "go.mod files: ${modules[*]}" >&2
	echo "go.work and the modules of the tree differ: run go work use -r ." >&2
	exit 1
fi
echo "go.work uses every module"

STATICCHECK_VERSION=${STATICCHECK_VERSION:-v0.8.2}
section "staticcheck $STATICCHECK_VERSION"
tools=$(mktemp -d -t chisess-tools.XXXXXX)
trap 'rm -rf -- "$tools"; services_stop' EXIT
GOBIN=$tools GOWORK=off go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
"$tools/staticcheck" -version

for dir in "${modules[@]}"; do
	section "module ${dir#./}"
	(
		cd "$dir"
		export GOWORK=off
		echo "-- go mod tidy -diff"
		go mod tidy -diff
		echo "-- go vet ./..."
		go vet ./...
		echo "-- staticcheck ./..."
		"$tools/staticcheck" ./...
		echo "-- go test -race -count=1 ./..."
		go test -race -count=1 ./...
	)
done

section "scripts/check-deps.sh"
bash scripts/check-deps.sh

# The default budget is a count of inputs, not a duration: with a duration,
# Go before 1.27 can fail a healthy target with a bare "context deadline
# exceeded" when a busy worker misses the stop (golang/go#75804). A count has
# no deadline to race; a slow machine only takes longer.
fuzztime=${FUZZTIME:-100000x}
section "fuzz (FUZZTIME=$fuzztime)"
targets_file=scripts/fuzz-targets.txt
fuzz_pkgs=()
fuzz_names=()
if [[ -f $targets_file ]]; then
	# Parse the whole file first, so a bad line fails before any fuzzing.
	lineno=0
	while IFS= read -r line || [[ -n $line ]]; do
		lineno=$((lineno + 1))
		line=${line%%#*}
		pkg="" name="" extra=""
		read -r pkg name extra <<<"$line" || true
		[[ -z $pkg ]] && continue
		if [[ -z $name || -n $extra || $name != Fuzz* ]]; then
			echo "$targets_file:$lineno: want '<package path> <FuzzName>', got: $line" >&2
			exit 1
		fi
		fuzz_pkgs+=("$pkg")
		fuzz_names+=("$name")
	done <"$targets_file"
fi
if ((${#fuzz_pkgs[@]} == 0)); then
	echo "no fuzz targets listed in $targets_file"
fi
for i in "${!fuzz_pkgs[@]}"; do
	pkg=${fuzz_pkgs[i]} name=${fuzz_names[i]}
	section "fuzz $pkg $name"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
done

section "done"
printf '%s\n' "${timings[@]}"
echo "all checks passed in $((SECONDS - start_s)) s (repo $root)"
