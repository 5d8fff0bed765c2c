#!/usr/bin/env bash
# The queue benchmarks at CI size on their own private cluster: `bench queue suite
# --quick` (enqueue, processing, latency, backlog, memory beside pgbench; ~30 s),
# `bench queue scaling --quick` (1 and 2 worker processes, drain and mixed load; ~20 s)
# and `bench bloat --quick` (sustained load with retention, table sizes; ~45 s),
# `bench queue pooling --quick` through scripts/bench-pooling.sh (direct vs. PgBouncer),
# then `bench platform`'s order dispatch and nightly recommendations at a small size
# (200 orders across 100 cleaners, 5 000 customers; ~30 s).
# They fail on broken benchmark code or a run that does not finish; the figures are
# printed, not judged (CI machines are too noisy for thresholds). Full sizes and the
# side-by-side harness: docs/performance-queue.md. Optional: --bin DIR (release
# binaries; default: `swift build -c release --show-bin-path`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
BIN=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin) BIN="${2:?--bin needs a folder}"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-smoke: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ -n "$BIN" ]] || BIN="$(swift build -c release --show-bin-path)"
[[ -x "$BIN/bench" ]] || { echo "bench-smoke: $BIN/bench not built; run swift build -c release" >&2; exit 1; }

export DEVDB_DIR="$ROOT/.bench-smoke/cluster"
scripts/devdb.sh destroy >/dev/null 2>&1 || true
trap 'scripts/devdb.sh destroy >/dev/null 2>&1 || true' EXIT
URL="$(scripts/devdb.sh start)"

export MIGRATIONS_DIR="$ROOT/sql"
"$BIN/bench" queue suite --quick --database-url "$URL"
"$BIN/bench" queue scaling --quick --database-url "$URL"
"$BIN/bench" bloat --quick --database-url "$URL"
"$ROOT/scripts/bench-pooling.sh" --bin "$BIN" --quick
"$BIN/bench" platform --coupons 0 --notifications 0 --dispatch-orders 200 --dispatch-cleaners 100 \
    --recommend-customers 5000 --recommend-cleaners 500 --database-url "$URL"
