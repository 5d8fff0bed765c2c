#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, built from the system's
# PostgreSQL binaries, under a git-ignored folder, listening on 127.0.0.1 only.
#
#   scripts/devdb.sh start     start (creating it if needed); prints DATABASE_URL only
#   scripts/devdb.sh stop      fast shutdown
#   scripts/devdb.sh restart   fast shutdown and start; returns when it accepts connections
#   scripts/devdb.sh crash     immediate shutdown, as a crashed server (WAL not yet streamed never reaches a standby)
#   scripts/devdb.sh status    running or stopped
#   scripts/devdb.sh url       print DATABASE_URL
#   scripts/devdb.sh psql ...  psql against the cluster
#   scripts/devdb.sh destroy   stop and delete the cluster folder (and its standbys)
#   scripts/devdb.sh standby NAME  a hot standby of the cluster streaming from it
#                              (pg_basebackup -R, own free port, under DEVDB_DIR/standby-NAME);
#                              prints its DATABASE_URL
#   scripts/devdb.sh promote NAME  promote standby NAME to a primary; returns when it accepts writes
#   scripts/devdb.sh drop-standby NAME  stop standby NAME and delete it
#
# Environment: DEVDB_DIR (default <repo>/.devdb), DEVDB_PORT (default: first free port
# from 54320), DEVDB_CONF (extra postgresql.conf lines for a new cluster, e.g. Citus'
# shared_preload_libraries), DEVDB_WALDIR (a new cluster's pg_wal elsewhere: initdb
# --waldir, e.g. on a small filesystem). Missing binaries are installed with apt
# (postgresql, libpq-dev, pkg-config).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${DEVDB_DIR:-$ROOT/.devdb}"
# The server runs as the postgres user when we are root; if that user cannot reach
# $DIR (a clone under /root, say), the data lives under /tmp and $DIR/datadir says where.
DATA="$DIR/data"
[[ -f "$DIR/datadir" ]] && DATA="$(cat "$DIR/datadir")"
LOG="$DATA/../server.log"
DB=cleaning

usage() { sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "devdb: $*" >&2; exit 1; }

find_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
    done
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir)"
        [[ -x "$d/initdb" ]] && { echo "$d"; return 0; }
    fi
    return 1
}

ensure_installed() {
    if find_bindir >/dev/null && command -v pkg-config >/dev/null && pkg-config --exists libpq 2>/dev/null; then
        return 0
    fi
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "devdb: installing postgresql libpq-dev pkg-config with apt" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql libpq-dev pkg-config >&2
    fi
    find_bindir >/dev/null || die "PostgreSQL server binaries not found; install them (Debian: apt-get install postgresql libpq-dev pkg-config) and retry"
}

# initdb and the server refuse to run as root: run them as the postgres user then.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
    if [[ -n "${DEVDB_PORT:-}" ]]; then echo "$DEVDB_PORT"; return; fi
    # Start at a random place in the range, so clusters started at the same moment
    # (parallel test runs) rarely pick the same port.
    local p offset=$((RANDOM % 100)) i
    for ((i = 0; i < 100; i++)); do
        p=$((54320 + (offset + i) % 100))
        port_free "$p" && { echo "$p"; return; }
    done
    die "no free port in 54320-54419; set DEVDB_PORT"
}

port() { cat "$DATA/port" 2>/dev/null || die "no cluster at $DATA; run: scripts/devdb.sh start"; }
url() { echo "postgresql://postgres@127.0.0.1:$(port)/$DB"; }

running() { [[ -f "$DATA/PG_VERSION" ]] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

create_cluster() {
    mkdir -p "$DIR"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres "$DIR"
        if ! as_owner test -w "$DIR"; then
            local alt; alt="/tmp/devdb-$(echo "$DIR" | cksum | cut -d' ' -f1)"
            rm -rf "$alt"; mkdir -p "$alt"; chown postgres "$alt"
            DATA="$alt/data"; LOG="$alt/server.log"
            echo "$DATA" >"$DIR/datadir"
        fi
    fi
    as_owner test -w "$(dirname "$DATA")" || die "$(dirname "$DATA") is not writable; set DEVDB_DIR to a folder you can write"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C \
        ${DEVDB_WALDIR:+--waldir="$DEVDB_WALDIR"} >"$DIR/initdb.log" 2>&1 ||
        die "initdb failed, see $DIR/initdb.log"
    chmod 644 "$DIR/initdb.log" 2>/dev/null || true
    local p; p="$(pick_port)"
    as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
# devdb: private loopback cluster
listen_addresses = '127.0.0.1'
port = $p
unix_socket_directories = '$DATA'
max_connections = 200
shared_buffers = 128MB
fsync = on
log_min_messages = warning
${DEVDB_CONF:-}
CONF
    echo "$p" | as_owner tee "$DATA/port" >/dev/null
}

start() {
    [[ -f "$DATA/PG_VERSION" ]] || create_cluster
    if ! running; then
        local p; p="$(port)"
        if ! port_free "$p"; then die "port $p is in use by another program; stop it or run destroy and start with DEVDB_PORT set"; fi
        local attempt
        for attempt in 1 2 3 4 5; do
            as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null && break
            # Another server took the port between the check and the start: move.
            if [[ -z "${DEVDB_PORT:-}" && $attempt -lt 5 ]] && tail -n 20 "$LOG" | grep -q "Address already in use"; then
                p="$(pick_port)"
                as_owner sed -i "s/^port = .*/port = $p/" "$DATA/postgresql.conf"
                echo "$p" | as_owner tee "$DATA/port" >/dev/null
                continue
            fi
            die "server failed to start, see $LOG"
        done
    fi
    wait_ready
    if ! as_owner "$BIN/psql" -h 127.0.0.1 -p "$(port)" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
        as_owner "$BIN/createdb" -h 127.0.0.1 -p "$(port)" -U postgres "$DB"
    fi
    url
}

wait_ready() {
    local i
    for ((i = 0; i < 600; i++)); do
        "$BIN/pg_isready" -q -h 127.0.0.1 -p "$(port)" && return 0
        sleep 0.1
    done
    die "server did not become ready, see $LOG"
}

stop() {
    running && as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    return 0
}

standby_data() {
    [[ "${1:-}" =~ ^[a-z0-9_-]+$ ]] || die "standby NAME: letters, digits, - or _ (got '${1:-}')"
    echo "$(dirname "$DATA")/standby-$1"
}

# The default pg_hba.conf of initdb --auth=trust lets postgres replicate over
# 127.0.0.1, and PostgreSQL's defaults (wal_level=replica, max_wal_senders=10) allow
# streaming: a base backup with -R (standby.signal + primary_conninfo) is a standby.
standby() {
    running || die "the cluster is not running; run: scripts/devdb.sh start"
    local data; data="$(standby_data "$1")"
    if [[ ! -f "$data/standby.signal" ]]; then
        as_owner rm -rf "$data"
        as_owner "$BIN/pg_basebackup" -h 127.0.0.1 -p "$(port)" -U postgres -D "$data" -R -X stream -c fast \
            >"$data.log" 2>&1 || die "pg_basebackup failed, see $data.log"
        local p; p="$(DEVDB_PORT= pick_port)"
        as_owner tee -a "$data/postgresql.conf" >/dev/null <<CONF
# devdb: standby $1
port = $p
unix_socket_directories = '$data'
hot_standby = on
CONF
        echo "$p" | as_owner tee "$data/port" >/dev/null
    fi
    local log="$data/../standby-$1.server.log" attempt
    for attempt in 1 2 3 4 5; do
        as_owner "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null && break
        # Another server took the port between the pick and the start (as in start): move.
        if [[ $attempt -lt 5 ]] && tail -n 20 "$log" | grep -q "Address already in use"; then
            local p; p="$(DEVDB_PORT= pick_port)"
            as_owner sed -i "s/^port = .*/port = $p/" "$data/postgresql.conf"
            echo "$p" | as_owner tee "$data/port" >/dev/null
            continue
        fi
        die "standby failed to start, see $log"
    done
    echo "postgresql://postgres@127.0.0.1:$(cat "$data/port")/$DB"
}

promote() {
    local data; data="$(standby_data "$1")"
    as_owner "$BIN/pg_ctl" -D "$data" -w -t 60 promote >/dev/null || die "promotion of standby $1 failed"
}

drop_standby() {
    local data; data="$(standby_data "$1")"
    [[ -f "$data/PG_VERSION" ]] && as_owner "$BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
    as_owner rm -rf "$data" "$data.log" "$data/../standby-$1.server.log"
}

stop_standbys() {
    local data
    for data in "$(dirname "$DATA")"/standby-*/; do
        [[ -f "$data/PG_VERSION" ]] && as_owner "$BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
    done
    return 0
}

cmd="${1:-}"
case "$cmd" in
    -h | --help | help | "") usage; [[ -n "$cmd" ]] || exit 1; exit 0 ;;
esac
ensure_installed
BIN="$(find_bindir)"
shift
case "$cmd" in
    start) start ;;
    stop) stop ;;
    restart)
        [[ -f "$DATA/PG_VERSION" ]] || die "no cluster at $DATA; run: scripts/devdb.sh start"
        stop
        as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null || die "server failed to start, see $LOG"
        wait_ready ;;
    crash) running && as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null; true ;;
    status) if running; then echo "running: $(url)"; else echo "stopped"; exit 3; fi ;;
    url) url ;;
    standby) standby "${1:-}" ;;
    promote) promote "${1:-}" ;;
    drop-standby) drop_standby "${1:-}" ;;
    psql) exec "$BIN/psql" "$(url)" "$@" ;;
    destroy) stop_standbys; stop; [[ -f "$DIR/datadir" ]] && rm -rf "$(dirname "$DATA")"; rm -rf "$DIR" ;;
    *) echo "devdb: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac
