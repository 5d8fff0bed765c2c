#!/usr/bin/env bash
# `bench queue pooling` on its own private cluster with PgBouncer (transaction mode) in
# front of it: throughput direct vs. through PgBouncer, and unnamed vs. prepared
# statements, in one run. The figures in docs/deployment.md come from this script.
# Options: --bin DIR (release binaries; default: `swift build -c release --show-bin-path`);
# anything else goes to the benchmark (e.g. --quick, --repeat 5, --concurrency 8).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
BIN=""
PASS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin) BIN="${2:?--bin needs a folder}"; shift 2 ;;
        -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) PASS+=("$1"); shift ;;
    esac
done
[[ -n "$BIN" ]] || BIN="$(swift build -c release --show-bin-path)"
[[ -x "$BIN/bench" ]] || { echo "bench-pooling: $BIN/bench not built; run swift build -c release" >&2; exit 1; }

export DEVDB_DIR="$ROOT/.bench-pooling/cluster"
export PGBOUNCER_DIR="$ROOT/.bench-pooling/pgbouncer"
teardown() {
    scripts/pgbouncer.sh destroy >/dev/null 2>&1 || true
    scripts/devdb.sh destroy >/dev/null 2>&1 || true
}
teardown
trap teardown EXIT
URL="$(scripts/devdb.sh start)"
POOLED="$(scripts/pgbouncer.sh start)"

export MIGRATIONS_DIR="$ROOT/sql"
"$BIN/bench" queue pooling --database-url "$URL" --pgbouncer-url "$POOLED" "${PASS[@]}"
