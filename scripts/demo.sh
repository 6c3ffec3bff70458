#!/usr/bin/env bash
# Builds the demo app (cmd/demo) and runs it, on its embedded default
# backend unless told otherwise; needs no services. Arguments are passed to
# the demo (bash scripts/demo.sh -h lists them), for example
#
#   bash scripts/demo.sh -backend redis      # reads CHISESS_REDIS_ADDR
#
# The script builds first and then execs the binary, so the process you
# see (and stop with Ctrl-C or kill) is the demo itself, not `go run`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${DEMO_BIN:-$PWD/bin/demo}
mkdir -p "$(dirname "$bin")"
(cd cmd/demo && go build -o "$bin" .)
exec "$bin" "$@"
