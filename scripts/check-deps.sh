#!/usr/bin/env bash
# scripts/check-deps.sh — shows that an app pays only for the modules it
# imports. It builds throwaway apps in a temp dir, each with a replace
# to this checkout, and prints their `go list -m all`:
#
#   core   imports only github.com/chisess/kit/chisess:
#          none of go-redis, pgx, bbolt, chromedp or OpenTelemetry may appear;
#   redis  imports chisess and chisess/backend/redisbackend:
#          go-redis must appear, and none of rueidis, pgx, bbolt, chromedp or OpenTelemetry;
#   rueidis  imports chisess and chisess/backend/rueidisbackend:
#          rueidis must appear, and none of go-redis, pgx, bbolt, chromedp or OpenTelemetry;
#   migrate imports chisess and chisess/migrate: scs and gorilla/sessions
#          must appear, and no driver may be built into it (its module
#          graph names go-redis and pgx, which only its tests use);
#   otel   imports chisess and chisess/otelchisess:
#          OpenTelemetry must appear, and none of go-redis, pgx, bbolt or chromedp.
#
# Exits non-zero, naming the module, when either rule breaks (for example
# when a driver is added to the root go.mod). Needs the Go module proxy
# or a module cache that already holds chi, matryer/is and go-redis.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
tmp=$(mktemp -d -t chisess-deps.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
export GOWORK=off GOFLAGS=-mod=mod

drivers=(github.com/redis/go-redis github.com/redis/rueidis github.com/jackc/pgx go.etcd.io/bbolt github.com/chromedp go.opentelemetry.io)
status=0

# app NAME IMPORT... — writes an app that imports each package, with a
# replace for every chisess module it names, and prints `go list -m all`.
app() {
	local name=$1 dir=$tmp/$1 pkg mod
	shift
	mkdir -p "$dir"
	{
		printf 'module example.com/%s\n\ngo 1.26.0\n' "$name"
		printf 'replace github.com/chisess/kit => %s\n' "$root"
		for pkg in "$@"; do
			case $pkg in
			github.com/chisess/kit/chisess/backend/* | github.com/chisess/kit/chisess/migrate | github.com/chisess/kit/chisess/otelchisess)
				mod=${pkg#github.com/chisess/kit/}
				printf 'replace %s => %s/%s\n' "$pkg" "$root" "$mod"
				;;
			esac
		done
	} >"$dir/go.mod"
	{
		printf 'package main\n\nimport (\n'
		for pkg in "$@"; do printf '\t_ "%s"\n' "$pkg"; done
		printf ')\n\nfunc main() {}\n'
	} >"$dir/main.go"
	(cd "$dir" && go mod tidy && go build -o /dev/null . && go list -m all) >"$dir/modules" 2>"$dir/log" || {
		echo "app $name: go mod tidy / build / list failed:" >&2
		cat "$dir/log" >&2
		exit 1
	}
	printf -- '-- app %s imports %s\n' "$name" "$*"
	sed 's/^/   /' "$dir/modules"
}

# forbid NAME PREFIX... / want NAME PREFIX — check an app's module list.
forbid() {
	local name=$1 p
	shift
	for p in "$@"; do
		if grep -q "^$p[/ ]" "$tmp/$name/modules" || grep -qx "$p" "$tmp/$name/modules"; then
			echo "FAIL: app $name has $p in go list -m all" >&2
			status=1
		fi
	done
}
want() {
	if ! grep -q "^$2[/ ]" "$tmp/$1/modules"; then
		echo "FAIL: app $1 lacks $2 in go list -m all" >&2
		status=1
	fi
}

app core github.com/chisess/kit/chisess
forbid core "${drivers[@]}"
app redis github.com/chisess/kit/chisess github.com/chisess/kit/chisess/backend/redisbackend
want redis github.com/redis/go-redis
forbid redis github.com/redis/rueidis github.com/jackc/pgx go.etcd.io/bbolt github.com/chromedp go.opentelemetry.io
app rueidis github.com/chisess/kit/chisess github.com/chisess/kit/chisess/backend/rueidisbackend
want rueidis github.com/redis/rueidis
forbid rueidis github.com/redis/go-redis github.com/jackc/pgx go.etcd.io/bbolt github.com/chromedp go.opentelemetry.io

app migrate github.com/chisess/kit/chisess github.com/chisess/kit/chisess/migrate
want migrate github.com/alexedwards/scs/v2
want migrate github.com/gorilla/sessions
forbid migrate go.etcd.io/bbolt github.com/chromedp
built=$(cd "$tmp/migrate" && go list -deps .)
for p in "${drivers[@]}"; do
	if grep -q "^$p" <<<"$built"; then
		echo "FAIL: app migrate builds $p" >&2
		status=1
	fi
done

app otel github.com/chisess/kit/chisess github.com/chisess/kit/chisess/otelchisess
want otel go.opentelemetry.io/otel
forbid otel github.com/redis/go-redis github.com/redis/rueidis github.com/jackc/pgx go.etcd.io/bbolt github.com/chromedp

if ((status == 0)); then
	echo "ok: core has none of ${drivers[*]}; redis has go-redis, rueidis has rueidis and otel OpenTelemetry, and none of the others; migrate has scs and gorilla/sessions and builds no driver"
fi
exit "$status"
