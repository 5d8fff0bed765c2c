#!/usr/bin/env bash
# A private Citus cluster on loopback: a coordinator and two worker nodes, each a
# private PostgreSQL cluster from scripts/devdb.sh with Citus preloaded, under a
# git-ignored folder. Citus itself is installed by ../shared/citus/build.sh.
#
#   scripts/citus.sh start     start (creating the nodes if needed, adding the workers
#                              to the coordinator); prints the coordinator's URL only
#   scripts/citus.sh stop      shut every node down and delete the cluster
#   scripts/citus.sh url       print the coordinator's URL
#   scripts/citus.sh distribute   distribute the migrated schema (sql/citus/*.sql, once);
#                              run it after the migrations, e.g.
#                              DATABASE_URL=$(scripts/citus.sh url) jobsctl migrate
#   scripts/citus.sh restart-worker N   fast shutdown and start of worker node N (1 or 2)
#   scripts/citus.sh installed exit 0 if the Citus extension is installed, else 1
#
# Environment: CITUS_DIR (default <repo>/.citus). Why the schema is distributed the way
# it is: docs/scaling.md, "Citus".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${CITUS_DIR:-$ROOT/.citus}"
DEVDB="$ROOT/scripts/devdb.sh"
NODES=(coordinator worker1 worker2)
# Citus commits a transaction that wrote on several nodes with two-phase commit.
CONF="shared_preload_libraries = 'citus'
max_prepared_transactions = 200"

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "citus: $*" >&2; exit 1; }

installed() {
    local libdir
    libdir="$(pg_config --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)"
    [[ -e "$libdir/citus.so" ]]
}

node() { local name="$1"; shift; DEVDB_DIR="$DIR/$name" DEVDB_CONF="$CONF" "$DEVDB" "$@"; }
node_port() { node "$1" url | sed -E 's|.*:([0-9]+)/.*|\1|'; }
# Statements come on stdin, where psql substitutes :variables.
node_sql() { local name="$1"; shift; node "$name" psql -XAtq -v ON_ERROR_STOP=1 "$@"; }

start() {
    installed || die "the Citus extension is not installed; run ../shared/citus/build.sh as root (see its README)"
    local name
    for name in "${NODES[@]}"; do
        node "$name" start >/dev/null
        node_sql "$name" -c "CREATE EXTENSION IF NOT EXISTS citus" >/dev/null
    done
    local coordinator; coordinator="$(node_port coordinator)"
    node_sql coordinator -v port="$coordinator" <<<"SELECT citus_set_coordinator_host('127.0.0.1', :port)" >/dev/null
    for name in worker1 worker2; do
        local port; port="$(node_port "$name")"
        # Ports stay with a node across restarts, so an added node is found again.
        if [[ "$(node_sql coordinator -v port="$port" \
            <<<"SELECT count(*) FROM pg_dist_node WHERE nodename = '127.0.0.1' AND nodeport = :port")" == 0 ]]; then
            node_sql coordinator -v port="$port" <<<"SELECT citus_add_node('127.0.0.1', :port)" >/dev/null
        fi
    done
    node coordinator url
}

stop() {
    local name
    for name in "${NODES[@]}"; do
        [[ -d "$DIR/$name" ]] && node "$name" destroy
    done
    rm -rf "$DIR"
}

# The distributed install is one transaction, applied when queue.jobs is not distributed yet.
distribute() {
    local done
    done="$(node_sql coordinator <<<"SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = to_regclass('queue.jobs')")"
    [[ "$(node_sql coordinator <<<"SELECT to_regclass('queue.jobs') IS NOT NULL")" == t ]] ||
        die "queue.jobs does not exist; run the migrations first (jobsctl migrate with the coordinator's URL)"
    [[ "$done" == 0 ]] || return 0
    local file
    for file in "$ROOT"/sql/citus/*.sql; do
        node_sql coordinator --single-transaction -f "$file" >/dev/null || die "$file failed"
    done
}

cmd="${1:-}"
case "$cmd" in
    -h | --help | help | "") usage; [[ -n "$cmd" ]] || exit 1; exit 0 ;;
    start) start ;;
    stop) stop ;;
    url) node coordinator url ;;
    distribute) distribute ;;
    restart-worker)
        [[ "${2:-}" == 1 || "${2:-}" == 2 ]] || die "restart-worker takes 1 or 2"
        node "worker$2" restart ;;
    installed) installed ;;
    *) echo "citus: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac
