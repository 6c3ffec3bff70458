# shellcheck shell=bash
# scripts/services.sh — throwaway test services for chisess.
#
# Source this file, then:
#
#   services_install [SERVICE...]
#                      apt-get install whichever of the packages the named
#                      services need are missing (Debian; needs root).
#                      Idempotent. SERVICE is one of
#                        redis     redis-server, redis-tools, redis-sentinel
#                        cluster   redis-server, redis-tools
#                        postgres  postgresql, postgresql-contrib
#                        chromium  chromium (the demo's browser test)
#                        valkey, valkey-cluster
#                                  Valkey 8.1 from Debian 13 (see below)
#                      and all of them when none is named.
#   services_start [SERVICE...]
#                      start, in a fresh temp dir, on free ports of 127.0.0.1,
#                      the named services (redis, cluster, postgres, valkey,
#                      valkey-cluster; all of them when none is named):
#                        - redis:    one standalone redis-server
#                        - cluster:  a three-node Redis Cluster (no replicas)
#                        - postgres: a PostgreSQL instance with a database chisess_test
#                        - valkey:   one standalone Valkey 8.1 server
#                        - valkey-cluster: a three-node Valkey 8.1 Cluster
#                      and export, for the ones started,
#                        CHISESS_REDIS_ADDR=127.0.0.1:<port>
#                        CHISESS_REDIS_CLUSTER_ADDRS=127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>
#                        CHISESS_POSTGRES_URL=postgres://postgres@127.0.0.1:<port>/chisess_test?sslmode=disable
#                        CHISESS_VALKEY_ADDR=127.0.0.1:<port>
#                        CHISESS_VALKEY_CLUSTER_ADDRS=127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>
#                        CHISESS_CHROMIUM=/usr/bin/chromium   (whenever it is present)
#                      These are the names the tests, the demo (-redis-addr,
#                      -postgres-url), the examples and the docs read.
#   services_stop      stop all of the above and remove the temp dir. Safe to
#                      call twice and from `trap services_stop EXIT`.
#
# To keep services running across shells, use scripts/services-up.sh and
# scripts/services-down.sh, which wrap these functions.
#
# Nothing here uses the distribution's own PostgreSQL cluster (port 5432) or
# any system-wide Redis: every instance is ours, lives in the temp dir and is
# stopped by its own pid. Functions return non-zero with a message on stderr
# when anything cannot be installed or started; they never carry on silently.
# services_start cleans up whatever it had started before it fails.
#
# Valkey 8.1 is here for its native conditional set (SET … IFEQ), which
# the Redis 7.0 of Debian 12 lacks: chisess's rueidis backend uses it when
# the server has it, and the tests and benchmarks run that path on a real
# server. Debian 12 has no Valkey 8.1 and its C library is older than the
# one Debian 13's package is built against, so services_install does not
# install it system-wide: it fetches the packages with apt-get from Debian
# 13 (trixie) into a directory of its own ($CHISESS_VALKEY_DIR, by default
# ~/.cache/chisess/valkey-8.1; apt checks their signatures against the
# Debian 13 keys that Debian 12's debian-archive-keyring ships), unpacks
# them there with dpkg-deb, and writes a valkey-server wrapper that runs the
# server through Debian 13's own dynamic loader and libraries. No root is
# needed for it, and nothing outside that directory changes.
#
# Works whether or not the caller has `set -e`/`set -u` on.

_svc_log() { printf '[services] %s\n' "$*" >&2; }
_svc_err() { printf '[services] ERROR: %s\n' "$*" >&2; }

# Prints the last lines of a log file to stderr (for failure reports).
_svc_tail() {
	if [[ -f $1 ]]; then
		printf '[services] --- last lines of %s ---\n' "$1" >&2
		tail -n "${2:-20}" "$1" >&2 || true
		printf '[services] ---\n' >&2
	fi
}

# Short sleep for the bounded polling loops below (setup only, never tests).
_svc_nap() { sleep "${1:-0.1}"; }

# Succeeds while process $1 exists and is not a zombie. (kill -0 alone is
# not enough: a daemonized server's zombie may wait a while to be reaped by
# pid 1, and kill -0 succeeds on zombies.)
_svc_alive() {
	local stat
	[[ $1 =~ ^[0-9]+$ ]] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $stat ]] || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != [ZX] ]]
}

# Milliseconds since the epoch, for step timings.
_svc_now_ms() { date +%s%3N; }

# Directory holding the newest PostgreSQL server binaries, e.g.
# /usr/lib/postgresql/15/bin; empty when none is installed.
_svc_pg_bindir() {
	local d best=""
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
		if [[ -z $best ]] || [[ $(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n 1) == "$d" ]]; then
			best=$d
		fi
	done
	printf '%s' "$best"
}

_svc_pkg_installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# --------------------------------------------------------------------------
# services_install
# --------------------------------------------------------------------------

_SVC_APT_UPDATED=${_SVC_APT_UPDATED:-}

# _svc_want NAME ALLOWED... — checks the service names given to
# services_install or services_start; with none given, prints ALLOWED.
_svc_want() {
	local verb=$1 allowed=$2 name
	shift 2
	if (($# == 0)); then
		printf '%s\n' $allowed
		return 0
	fi
	for name in "$@"; do
		if [[ " $allowed " != *" $name "* ]]; then
			_svc_err "$verb: unknown service '$name' (want one of: $allowed)"
			return 1
		fi
		printf '%s\n' "$name"
	done
}

services_install() {
	local -a want=() missing=()
	local name
	_svc_want install "redis cluster postgres chromium valkey valkey-cluster" "$@" >/dev/null || return 1
	mapfile -t want < <(_svc_want install "redis cluster postgres chromium valkey valkey-cluster" "$@")
	for name in "${want[@]}"; do
		case $name in
		redis | cluster)
			command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
			command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
			# chisessload's sentinel-failover fault starts its own sentinels.
			[[ $name != redis ]] || command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
			;;
		postgres)
			if [[ -z $(_svc_pg_bindir) ]]; then
				missing+=(postgresql postgresql-contrib)
			elif ! _svc_pkg_installed postgresql-contrib; then
				missing+=(postgresql-contrib)
			fi
			;;
		chromium)
			[[ -x /usr/bin/chromium ]] || missing+=(chromium)
			;;
		valkey | valkey-cluster)
			# redis-cli creates the cluster and checks the servers.
			command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
			;;
		esac
	done
	if [[ " ${want[*]} " == *" valkey"* ]]; then
		_svc_valkey_install || return 1
	fi
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sed '/^$/d' | sort -u)

	if ((${#missing[@]} == 0)); then
		_svc_log "install: what ${want[*]} need is already present"
		return 0
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		_svc_err "install: missing ${missing[*]} and apt-get is not available; install them by hand"
		return 1
	fi
	local sudo=""
	if [[ $(id -u) != 0 ]]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo="sudo -n"
		else
			_svc_err "install: missing ${missing[*]}; need root (or sudo) to apt-get install them"
			return 1
		fi
	fi

	local log t0
	log=$(mktemp -t chisess-apt.XXXXXX) || {
		_svc_err "install: mktemp failed"
		return 1
	}
	local -a apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)

	if [[ -z $_SVC_APT_UPDATED ]]; then
		t0=$(_svc_now_ms)
		_svc_log "install: apt-get update"
		# shellcheck disable=SC2086
		if ! $sudo "${apt[@]}" update >"$log" 2>&1; then
			_svc_err "install: apt-get update failed"
			_svc_tail "$log" 30
			rm -f "$log"
			return 1
		fi
		_SVC_APT_UPDATED=1
		_svc_log "install: apt-get update done in $(($(_svc_now_ms) - t0)) ms"
	fi

	t0=$(_svc_now_ms)
	_svc_log "install: apt-get install ${missing[*]}"
	# shellcheck disable=SC2086
	if ! $sudo "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
		_svc_err "install: apt-get install ${missing[*]} failed"
		_svc_tail "$log" 40
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
	_svc_log "install: done in $(($(_svc_now_ms) - t0)) ms"

	# Check that what we asked for is really there now.
	local bad=()
	for name in "${missing[@]}"; do
		case $name in
		redis-server) command -v redis-server >/dev/null 2>&1 || bad+=(redis-server) ;;
		redis-tools) command -v redis-cli >/dev/null 2>&1 || bad+=(redis-cli) ;;
		redis-sentinel) command -v redis-sentinel >/dev/null 2>&1 || bad+=(redis-sentinel) ;;
		postgresql) [[ -n $(_svc_pg_bindir) ]] || bad+=("postgres (/usr/lib/postgresql/*/bin)") ;;
		chromium) [[ -x /usr/bin/chromium ]] || bad+=(/usr/bin/chromium) ;;
		esac
	done
	if ((${#bad[@]} > 0)); then
		_svc_err "install: still missing after apt-get install: ${bad[*]}"
		return 1
	fi
	return 0
}

# --------------------------------------------------------------------------
# Valkey 8.1 from Debian 13 (see the top of this file)
# --------------------------------------------------------------------------

_SVC_VALKEY_DIR=${CHISESS_VALKEY_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chisess/valkey-8.1}
# valkey-server and every library it loads that Debian 12's are too old
# for, with the loader that goes with them (libc6).
_SVC_VALKEY_PKGS=(valkey-server valkey-tools libc6 libatomic1 libcap2 libgcc-s1
	libjemalloc2 liblzf1 libssl3t64 libstdc++6 libsystemd0 libzstd1 zlib1g)

# Succeeds when $_SVC_VALKEY_DIR/valkey-server runs and is Valkey 8.1.
_svc_valkey_ok() {
	[[ -x $_SVC_VALKEY_DIR/valkey-server ]] &&
		[[ $("$_SVC_VALKEY_DIR/valkey-server" --version 2>/dev/null) == "Valkey server v=8.1."* ]]
}

_svc_valkey_install() {
	if _svc_valkey_ok; then
		_svc_log "install: valkey 8.1 already in $_SVC_VALKEY_DIR"
		return 0
	fi
	if [[ $(uname -m) != x86_64 ]]; then
		_svc_err "install: valkey: only amd64 is set up (this is $(uname -m))"
		return 1
	fi
	local d=$_SVC_VALKEY_DIR t0 log
	t0=$(_svc_now_ms)
	rm -rf -- "$d" && mkdir -p "$d/apt/lists/partial" "$d/apt/archives/partial" "$d/debs" "$d/root" || {
		_svc_err "install: valkey: cannot make $d"
		return 1
	}
	printf 'deb http://deb.debian.org/debian trixie main\n' >"$d/apt/sources.list"
	local -a apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q
		-o "Dir::Etc::SourceList=$d/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$d/apt/lists" -o "Dir::Cache::Archives=$d/apt/archives"
		-o Dir::State::status=/dev/null -o Debug::NoLocking=1
		-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false)
	log=$d/install.log
	_svc_log "install: valkey 8.1: apt-get download from Debian 13 into $d"
	if ! "${apt[@]}" update >"$log" 2>&1 ||
		! (cd "$d/debs" && "${apt[@]}" download "${_SVC_VALKEY_PKGS[@]}") >>"$log" 2>&1; then
		_svc_err "install: valkey: apt-get failed"
		_svc_tail "$log" 30
		return 1
	fi
	local deb
	for deb in "$d"/debs/*.deb; do
		dpkg-deb -x "$deb" "$d/root" || {
			_svc_err "install: valkey: dpkg-deb -x $deb failed"
			return 1
		}
	done
	local lib=$d/root/usr/lib/x86_64-linux-gnu
	cat >"$d/valkey-server" <<-WRAP
		#!/bin/sh
		# Valkey 8.1 from Debian 13, run by Debian 13's loader and libraries
		# (written by scripts/services.sh).
		exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib:$d/root/lib/x86_64-linux-gnu" "$d/root/usr/bin/valkey-server" "\$@"
	WRAP
	chmod +x "$d/valkey-server"
	rm -rf -- "$d/debs" "$d/apt/archives"
	if ! _svc_valkey_ok; then
		_svc_err "install: valkey: $d/valkey-server does not run as Valkey 8.1:"
		"$d/valkey-server" --version >&2 || true
		return 1
	fi
	_svc_log "install: valkey 8.1 ready in $(($(_svc_now_ms) - t0)) ms"
}

# --------------------------------------------------------------------------
# Free ports
# --------------------------------------------------------------------------

# Ports handed out by this shell, so two picks never collide.
_SVC_PICKED_PORTS=" "

# Succeeds when something listens on 127.0.0.1:$1 (or on a wildcard address).
_svc_port_listening() {
	local port=$1
	if command -v ss >/dev/null 2>&1; then
		# Local address is column 4: 127.0.0.1:P, 0.0.0.0:P, *:P, [::]:P, ...
		ss -Htln 2>/dev/null | awk -v p="$port" '{ n = split($4, a, ":"); if (a[n] == p) { found = 1 } } END { exit found ? 0 : 1 }'
		return
	fi
	# Fallback without iproute2: try to connect.
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# Prints a free TCP port of 127.0.0.1. With "cluster" as $1 the port P is
# also chosen so that P+10000 (the Redis Cluster bus port) is free.
# Ports are taken below the kernel's ephemeral range when possible, so that
# outgoing connections can never be sitting on them.
_svc_free_port() {
	local want_bus=${1:-}
	local lo=20000 hi eph_lo=32768 r
	if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
		read -r eph_lo _ </proc/sys/net/ipv4/ip_local_port_range || eph_lo=32768
	fi
	if [[ -n $want_bus ]]; then
		hi=$((eph_lo - 10000 - 1))
		((hi - lo >= 1000)) || hi=55000
	else
		hi=$((eph_lo - 1))
		((hi - lo >= 1000)) || hi=60000
	fi
	local i p
	for ((i = 0; i < 500; i++)); do
		r=$(((RANDOM << 15) | RANDOM))
		p=$((lo + r % (hi - lo + 1)))
		[[ $_SVC_PICKED_PORTS == *" $p "* ]] && continue
		_svc_port_listening "$p" && continue
		if [[ -n $want_bus ]]; then
			[[ $_SVC_PICKED_PORTS == *" $((p + 10000)) "* ]] && continue
			_svc_port_listening "$((p + 10000))" && continue
			_SVC_PICKED_PORTS+="$((p + 10000)) "
		fi
		_SVC_PICKED_PORTS+="$p "
		printf '%s' "$p"
		return 0
	done
	_svc_err "no free TCP port found on 127.0.0.1 in $lo-$hi"
	return 1
}

# --------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------

# State: one "port dir" entry per redis-server we started.
_SVC_REDIS=()

# The pid recorded in $1/redis.pid, or empty.
_svc_redis_pid() {
	local pid=""
	[[ -f $1/redis.pid ]] && read -r pid <"$1/redis.pid" 2>/dev/null
	[[ $pid =~ ^[0-9]+$ ]] && printf '%s' "$pid"
	return 0
}

# _svc_redis_up DIR PORT [extra redis-server args...]
# Starts redis-server in DIR on 127.0.0.1:PORT and waits until it answers
# PING and reports the pid written to its own pidfile (so we know the port
# is really ours). Returns 1 (after killing what it started) otherwise.
_svc_redis_up() {
	local dir=$1 port=$2
	shift 2
	mkdir -p "$dir" || return 1
	if ! "${_SVC_REDIS_BIN:-redis-server}" \
		--bind 127.0.0.1 --port "$port" --protected-mode yes \
		--save '' --appendonly no \
		--daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
		"$@" </dev/null >"$dir/redis.stdout" 2>&1; then
		_svc_err "${_SVC_REDIS_BIN:-redis-server} on port $port did not start"
		_svc_tail "$dir/redis.stdout"
		_svc_tail "$dir/redis.log"
		return 1
	fi
	local i pid="" info
	for ((i = 0; i < 100; i++)); do # up to ~10 s
		# The daemonized child logs why it gave up (e.g. port taken) and exits.
		if grep -q -E 'aborting|Fatal error|FATAL' "$dir/redis.log" 2>/dev/null; then
			break
		fi
		pid=$(_svc_redis_pid "$dir")
		if [[ -n $pid ]]; then
			info=$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r')
			if [[ $info == *"process_id:$pid"* ]]; then
				return 0
			fi
			if ! _svc_alive "$pid"; then
				break
			fi
		fi
		_svc_nap 0.1
	done
	_svc_err "redis-server on port $port did not come up"
	_svc_tail "$dir/redis.log"
	_svc_redis_down "$dir" "$port"
	return 1
}

# _svc_redis_down DIR PORT — stops the redis-server whose pidfile is in DIR.
_svc_redis_down() {
	local dir=$1 port=$2 pid info i
	pid=$(_svc_redis_pid "$dir")
	[[ -n $pid ]] || return 0
	_svc_alive "$pid" || return 0
	# Only talk to the port if the server there is ours.
	info=$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r')
	if [[ $info == *"process_id:$pid"* ]]; then
		redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
	else
		kill -TERM "$pid" 2>/dev/null || true
	fi
	for ((i = 0; i < 100; i++)); do
		_svc_alive "$pid" || return 0
		_svc_nap 0.1
	done
	_svc_err "redis-server pid $pid (port $port) did not stop; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		_svc_alive "$pid" || return 0
		_svc_nap 0.1
	done
	_svc_err "redis-server pid $pid (port $port) is still alive"
	return 1
}

# Starts one redis-server with free-port retries; prints the port.
# _svc_redis_start NAME [cluster] [extra args...]
_svc_redis_start() {
	local name=$1 kind=${2:-}
	shift 2 || shift $#
	local attempt port dir
	for ((attempt = 1; attempt <= 5; attempt++)); do
		port=$(_svc_free_port "$kind") || return 1
		dir=$SERVICES_TMPDIR/$name-$port
		if _svc_redis_up "$dir" "$port" "$@"; then
			_SVC_REDIS+=("$port $dir")
			printf '%s' "$port"
			return 0
		fi
		_svc_log "redis $name: retrying on another port"
	done
	_svc_err "redis $name: could not start after $((attempt - 1)) attempts"
	return 1
}

_svc_start_redis_standalone() { _svc_standalone redis redis-server CHISESS_REDIS_ADDR; }
_svc_start_valkey_standalone() { _svc_standalone valkey "$_SVC_VALKEY_DIR/valkey-server" CHISESS_VALKEY_ADDR; }

# _svc_standalone NAME SERVER VAR — starts one SERVER (redis-server or
# Valkey's) and exports its address as VAR.
_svc_standalone() {
	local name=$1 bin=$2 var=$3 port
	# Not in a $(...) subshell: _SVC_REDIS must be updated in this shell.
	_SVC_REDIS_BIN=$bin _svc_redis_start "$name" "" >"$SERVICES_TMPDIR/.port" || return 1
	port=$(<"$SERVICES_TMPDIR/.port")
	export "$var=127.0.0.1:$port"
	_svc_log "$name: standalone on ${!var}"
}

_svc_start_redis_cluster() { _svc_cluster redis redis-server CHISESS_REDIS_CLUSTER_ADDRS; }
_svc_start_valkey_cluster() { _svc_cluster valkey "$_SVC_VALKEY_DIR/valkey-server" CHISESS_VALKEY_CLUSTER_ADDRS; }

# _svc_cluster NAME SERVER VAR — starts a three-node cluster of SERVER
# (redis-server or Valkey's) and exports its addresses as VAR.
_svc_cluster() {
	local name=$1 bin=$2 var=$3
	local -a ports=()
	local n port
	for n in 1 2 3; do
		_SVC_REDIS_BIN=$bin _svc_redis_start "$name-cluster-$n" cluster \
			--cluster-enabled yes \
			--cluster-config-file "nodes-$n.conf" \
			--cluster-node-timeout 5000 >"$SERVICES_TMPDIR/.port" || return 1
		ports+=("$(<"$SERVICES_TMPDIR/.port")")
	done
	local log=$SERVICES_TMPDIR/$name-cluster-create.log
	if ! redis-cli --cluster create \
		"127.0.0.1:${ports[0]}" "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" \
		--cluster-replicas 0 --cluster-yes </dev/null >"$log" 2>&1; then
		_svc_err "$name cluster: 'redis-cli --cluster create' failed"
		_svc_tail "$log" 30
		return 1
	fi
	# Wait until every node agrees the cluster is up and all slots are served.
	local i ok info
	for ((i = 0; i < 300; i++)); do # up to ~30 s
		ok=1
		for port in "${ports[@]}"; do
			info=$(redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | tr -d '\r')
			if [[ $info != *"cluster_state:ok"* || $info != *"cluster_slots_ok:16384"* || $info != *"cluster_known_nodes:3"* ]]; then
				ok=""
				break
			fi
		done
		[[ -n $ok ]] && break
		_svc_nap 0.1
	done
	if [[ -z $ok ]]; then
		_svc_err "$name cluster: cluster_state did not become ok on all nodes"
		redis-cli -h 127.0.0.1 -p "${ports[0]}" cluster info >&2 2>&1 || true
		_svc_tail "$log" 30
		return 1
	fi
	export "$var=127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
	_svc_log "$name: cluster on ${!var}"
}

# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------

_SVC_PG_BIN=""
_SVC_PG_DATA=""
_SVC_PG_RUN=""
_SVC_PG_PORT=""

# Runs a command as the postgres OS user when we are root (PostgreSQL
# refuses to run as root), else as ourselves.
_svc_as_pg() {
	if [[ $(id -u) == 0 ]]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u postgres -- "$@"
		else
			local q
			printf -v q '%q ' "$@"
			su -s /bin/sh postgres -c "$q"
		fi
	else
		"$@"
	fi
}

_svc_start_postgres() {
	_SVC_PG_BIN=$(_svc_pg_bindir)
	if [[ -z $_SVC_PG_BIN ]]; then
		_svc_err "postgres: no server binaries under /usr/lib/postgresql/*/bin (run services_install)"
		return 1
	fi
	if [[ $(id -u) == 0 ]] && ! id postgres >/dev/null 2>&1; then
		_svc_err "postgres: running as root but there is no 'postgres' OS user to run the server as"
		return 1
	fi
	_SVC_PG_DATA=$SERVICES_TMPDIR/pg/data
	_SVC_PG_RUN=$SERVICES_TMPDIR/pg/run
	mkdir -p "$SERVICES_TMPDIR/pg" || return 1
	if [[ $(id -u) == 0 ]]; then
		# The postgres user must be able to reach its dirs inside our temp dir.
		chmod 711 "$SERVICES_TMPDIR" || return 1
		chown postgres: "$SERVICES_TMPDIR/pg" || return 1
	fi
	_svc_as_pg mkdir -p -m 700 "$_SVC_PG_DATA" "$_SVC_PG_RUN" || {
		_svc_err "postgres: cannot create $_SVC_PG_DATA"
		return 1
	}

	if ! _svc_as_pg "$_SVC_PG_BIN/initdb" -D "$_SVC_PG_DATA" -A trust -U postgres \
		-E UTF8 --locale=C --no-sync </dev/null >"$SERVICES_TMPDIR/pg/initdb.log" 2>&1; then
		_svc_err "postgres: initdb failed"
		_svc_tail "$SERVICES_TMPDIR/pg/initdb.log" 30
		return 1
	fi

	local attempt port log=$_SVC_PG_RUN/postgres.log
	for ((attempt = 1; attempt <= 5; attempt++)); do
		port=$(_svc_free_port) || return 1
		_SVC_PG_PORT=$port
		if _svc_as_pg "$_SVC_PG_BIN/pg_ctl" -D "$_SVC_PG_DATA" -l "$log" -w -t 60 \
			-o "-p $port -k $_SVC_PG_RUN -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
			start </dev/null >"$SERVICES_TMPDIR/pg/pg_ctl.log" 2>&1; then
			break
		fi
		_svc_log "postgres: start on port $port failed; retrying on another port"
		_svc_tail "$log" 10
		# If it half-started, make sure it is gone before retrying.
		_svc_stop_postgres >/dev/null 2>&1 || true
		_SVC_PG_PORT=""
	done
	if [[ -z $_SVC_PG_PORT ]]; then
		_svc_err "postgres: could not start"
		_svc_tail "$SERVICES_TMPDIR/pg/pg_ctl.log"
		_svc_tail "$log" 30
		return 1
	fi

	if ! _svc_as_pg "$_SVC_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
		-c 'CREATE DATABASE chisess_test' </dev/null >"$SERVICES_TMPDIR/pg/createdb.log" 2>&1; then
		_svc_err "postgres: CREATE DATABASE chisess_test failed"
		_svc_tail "$SERVICES_TMPDIR/pg/createdb.log"
		return 1
	fi
	export CHISESS_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/chisess_test?sslmode=disable"
	_svc_log "postgres: $("$_SVC_PG_BIN/postgres" --version 2>/dev/null) on 127.0.0.1:$port (data $_SVC_PG_DATA)"
}

_svc_stop_postgres() {
	[[ -n $_SVC_PG_DATA && -f $_SVC_PG_DATA/postmaster.pid ]] || return 0
	local pid i
	read -r pid <"$_SVC_PG_DATA/postmaster.pid" 2>/dev/null || pid=""
	if [[ -n $_SVC_PG_BIN ]] && _svc_as_pg "$_SVC_PG_BIN/pg_ctl" -D "$_SVC_PG_DATA" -m fast -w -t 30 stop </dev/null >/dev/null 2>&1; then
		return 0
	fi
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	_svc_alive "$pid" || return 0
	_svc_err "postgres: pg_ctl stop failed; sending SIGQUIT to postmaster $pid"
	kill -QUIT "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		_svc_alive "$pid" || return 0
		_svc_nap 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	_svc_err "postgres: postmaster $pid killed"
	return 1
}

# --------------------------------------------------------------------------
# services_start / services_stop
# --------------------------------------------------------------------------

SERVICES_TMPDIR=${SERVICES_TMPDIR:-}

services_start() {
	local -a want=() steps=()
	local name
	_svc_want start "redis cluster postgres valkey valkey-cluster" "$@" >/dev/null || return 1
	mapfile -t want < <(_svc_want start "redis cluster postgres valkey valkey-cluster" "$@")
	if [[ -n $SERVICES_TMPDIR && -d $SERVICES_TMPDIR ]]; then
		_svc_log "start: already running (temp dir $SERVICES_TMPDIR)"
		return 0
	fi
	for name in "${want[@]}"; do
		case $name in
		redis) steps+=(_svc_start_redis_standalone) ;;
		cluster) steps+=(_svc_start_redis_cluster) ;;
		postgres) steps+=(_svc_start_postgres) ;;
		valkey) steps+=(_svc_start_valkey_standalone) ;;
		valkey-cluster) steps+=(_svc_start_valkey_cluster) ;;
		esac
	done
	if [[ " ${want[*]} " == *" valkey"* ]] && ! _svc_valkey_ok; then
		_svc_err "start: Valkey 8.1 not found in $_SVC_VALKEY_DIR (run services_install ${want[*]})"
		return 1
	fi
	local t0
	t0=$(_svc_now_ms)
	if [[ " ${want[*]} " == *" redis "* || " ${want[*]} " == *" cluster "* ]] &&
		{ ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; }; then
		_svc_err "start: redis-server/redis-cli not found (run services_install ${want[*]})"
		return 1
	fi
	SERVICES_TMPDIR=$(mktemp -d -t chisess-services.XXXXXX) || {
		_svc_err "start: mktemp -d failed"
		SERVICES_TMPDIR=""
		return 1
	}
	_svc_log "start: temp dir $SERVICES_TMPDIR"

	local step t1
	for step in "${steps[@]}"; do
		t1=$(_svc_now_ms)
		if ! "$step"; then
			_svc_err "start: ${step#_svc_start_} failed to start; stopping the others"
			services_stop
			return 1
		fi
		_svc_log "start: ${step#_svc_start_} took $(($(_svc_now_ms) - t1)) ms"
	done

	if [[ -x /usr/bin/chromium ]]; then
		export CHISESS_CHROMIUM=/usr/bin/chromium
	else
		unset CHISESS_CHROMIUM
		_svc_log "start: /usr/bin/chromium not found; CHISESS_CHROMIUM not set"
	fi
	rm -f "$SERVICES_TMPDIR/.port"
	# What services_stop needs, for scripts/services-down.sh in another shell.
	declare -p _SVC_REDIS _SVC_PG_BIN _SVC_PG_DATA >"$SERVICES_TMPDIR/state"
	_svc_log "start: ${want[*]} up in $(($(_svc_now_ms) - t0)) ms"
	return 0
}

services_stop() {
	# Returns 1 (after doing all it can) if anything would not stop; under
	# `set -e` in an EXIT trap that turns a passing run into a failing one,
	# so leaked processes are never silent.
	local rc=0 entry port dir
	if [[ -z $SERVICES_TMPDIR ]]; then
		return 0
	fi
	for entry in "${_SVC_REDIS[@]}"; do
		port=${entry%% *}
		dir=${entry#* }
		_svc_redis_down "$dir" "$port" || rc=1
	done
	_SVC_REDIS=()
	_svc_stop_postgres || rc=1
	_SVC_PG_DATA=""
	_SVC_PG_PORT=""
	# Only ever remove the dir that services_start created.
	case $SERVICES_TMPDIR in
	*/chisess-services.*)
		if [[ -d $SERVICES_TMPDIR ]]; then
			rm -rf -- "$SERVICES_TMPDIR" || rc=1
		fi
		;;
	*)
		_svc_err "stop: not removing unexpected temp dir '$SERVICES_TMPDIR'"
		rc=1
		;;
	esac
	SERVICES_TMPDIR=""
	_SVC_PICKED_PORTS=" "
	unset CHISESS_REDIS_ADDR CHISESS_REDIS_CLUSTER_ADDRS CHISESS_POSTGRES_URL CHISESS_VALKEY_ADDR CHISESS_VALKEY_CLUSTER_ADDRS
	if ((rc != 0)); then
		_svc_err "stop: some services did not stop cleanly"
	else
		_svc_log "stop: all services stopped"
	fi
	return "$rc"
}
