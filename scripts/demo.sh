#!/usr/bin/env bash
# Runs the demo app (cmd/demo) on its embedded default backend; needs no
# services. Arguments are passed to the demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec go run ./cmd/demo "$@"
