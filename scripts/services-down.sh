#!/usr/bin/env bash
# scripts/services-down.sh [DIR] — stops the services that
# scripts/services-up.sh started in DIR (default: $CHISESS_SERVICES_DIR,
# which services-up.sh exports) and removes DIR. Prints the lines that
# unset the variables, for eval:
#
#   eval "$(bash scripts/services-down.sh)"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=${1:-${CHISESS_SERVICES_DIR:-}}
if [[ -z $dir ]]; then
	echo "services-down: name the services' dir, or set CHISESS_SERVICES_DIR (services-up.sh exports it)" >&2
	exit 1
fi
if [[ ! -f $dir/state ]]; then
	echo "services-down: $dir/state not found: not a dir that services-up.sh made, or already stopped" >&2
	exit 1
fi
# shellcheck source=scripts/services.sh
source scripts/services.sh
# shellcheck disable=SC1091
source "$dir/state"
SERVICES_TMPDIR=$dir
services_stop
echo "unset CHISESS_SERVICES_DIR CHISESS_REDIS_ADDR CHISESS_REDIS_CLUSTER_ADDRS CHISESS_POSTGRES_URL CHISESS_CHROMIUM"
