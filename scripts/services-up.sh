#!/usr/bin/env bash
# scripts/services-up.sh [SERVICE...] — starts the named test services
# (redis, cluster, postgres, valkey, valkey-cluster; all of them when none
# is named) on free ports of
# 127.0.0.1 and leaves them running. It prints, on stdout, the lines that
# export their variables (CHISESS_REDIS_ADDR, CHISESS_REDIS_CLUSTER_ADDRS,
# CHISESS_POSTGRES_URL, CHISESS_CHROMIUM) and CHISESS_SERVICES_DIR, which
# scripts/services-down.sh stops them by:
#
#   eval "$(bash scripts/services-up.sh redis postgres)"
#   (cd chisess/backend/redisbackend && go test ./...)
#   bash scripts/demo.sh -backend redis
#   bash scripts/services-down.sh
#
# It installs nothing: run `source scripts/services.sh; services_install redis
# postgres` once first (Debian, needs root). Logs go to stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
services_start "$@"
printf 'export CHISESS_SERVICES_DIR=%q\n' "$SERVICES_TMPDIR"
for v in CHISESS_REDIS_ADDR CHISESS_REDIS_CLUSTER_ADDRS CHISESS_POSTGRES_URL CHISESS_VALKEY_ADDR CHISESS_VALKEY_CLUSTER_ADDRS CHISESS_CHROMIUM; do
	if [[ -n ${!v:-} ]]; then
		printf 'export %s=%q\n' "$v" "${!v}"
	fi
done
