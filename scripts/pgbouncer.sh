#!/usr/bin/env bash
# PgBouncer in transaction pooling mode in front of the private cluster (scripts/devdb.sh),
# on a free loopback port, under a git-ignored folder. For tests and benchmarks.
#
#   scripts/pgbouncer.sh start    start it (if not running); prints its URL only
#   scripts/pgbouncer.sh stop     stop it
#   scripts/pgbouncer.sh url      print its URL
#   scripts/pgbouncer.sh destroy  stop it and delete its folder
#
# Environment: PGBOUNCER_DIR (default <repo>/.pgbouncer), DEVDB_DIR (the cluster it fronts,
# as for devdb.sh). Exits 3 with a message when pgbouncer is not installed
# (Debian: apt-get install pgbouncer).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${PGBOUNCER_DIR:-$ROOT/.pgbouncer}"
DEVDB="$ROOT/scripts/devdb.sh"
DB=cleaning

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "pgbouncer.sh: $*" >&2; exit 1; }

find_binary() {
    command -v pgbouncer 2>/dev/null && return 0
    [[ -x /usr/sbin/pgbouncer ]] && { echo /usr/sbin/pgbouncer; return 0; }
    return 1
}

# PgBouncer refuses to run as root: run it as the postgres user then.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
    local p offset=$((RANDOM % 100)) i
    for ((i = 0; i < 100; i++)); do
        p=$((64320 + (offset + i) % 100))
        port_free "$p" && { echo "$p"; return; }
    done
    die "no free port in 64320-64419"
}

running() { [[ -f "$DIR/pgbouncer.pid" ]] && kill -0 "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null; }
url() { echo "postgresql://postgres@127.0.0.1:$(cat "$DIR/port")/$DB"; }

start() {
    local binary; binary="$(find_binary)" || {
        echo "pgbouncer.sh: pgbouncer is not installed (Debian: apt-get install pgbouncer)" >&2; exit 3; }
    if running; then url; return; fi
    local server_url server_port
    server_url="$("$DEVDB" url)" || die "the private cluster is not running; start it with scripts/devdb.sh start"
    server_port="${server_url##*:}"; server_port="${server_port%%/*}"
    mkdir -p "$DIR"
    [[ $(id -u) -eq 0 ]] && chown postgres "$DIR"
    local p; p="$(pick_port)"
    # trust: the cluster behind it trusts loopback too; the users file lists who may connect
    # (front_end: the login role of PgBouncerTests' front end, a member of cleaning_app).
    as_owner tee "$DIR/users.txt" >/dev/null <<USERS
"postgres" ""
"front_end" ""
USERS
    as_owner tee "$DIR/pgbouncer.ini" >/dev/null <<INI
[databases]
* = host=127.0.0.1 port=$server_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $p
unix_socket_dir =
auth_type = trust
auth_file = $DIR/users.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
server_reset_query =
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
INI
    echo "$p" | as_owner tee "$DIR/port" >/dev/null
    as_owner "$binary" -d "$DIR/pgbouncer.ini" || die "pgbouncer failed to start, see $DIR/pgbouncer.log"
    local i
    for ((i = 0; i < 100; i++)); do
        port_free "$p" || { url; return; }
        sleep 0.1
    done
    die "pgbouncer did not listen on port $p, see $DIR/pgbouncer.log"
}

# SIGTERM is PgBouncer's fast exit; a PgBouncer started from a process that blocks
# SIGTERM (a test runner) inherits the blocked signal, so SIGKILL follows (it keeps
# no state worth a clean exit).
stop() {
    if running; then
        local pid; pid="$(cat "$DIR/pgbouncer.pid")"
        kill "$pid" 2>/dev/null || true
        local i
        for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    return 0
}

cmd="${1:-}"
case "$cmd" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    destroy) stop; rm -rf "$DIR" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
