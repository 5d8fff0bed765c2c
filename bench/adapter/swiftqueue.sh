#!/usr/bin/env bash
# Adapter of the side-by-side job-queue harness (shared bench/README.md, "Adapter
# contract") for this project's queue engine: `bench queue adapter`.
#
#   swiftqueue.sh --prepare   build the release binary (swift build -c release --product bench)
#   swiftqueue.sh             run the phases with the harness's environment (PGURL, N, CONCURRENCY, ...)
#
# The project is found from this script's own path (the harness runs adapters from its
# own folder). QUEUE_BENCH_SCRATCH sets the build folder (default <project>/.build-qbench,
# apart from .build so a benchmark build never waits on a development build's lock).
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)"
SCRATCH="${QUEUE_BENCH_SCRATCH:-$ROOT/.build-qbench}"
export PATH="$PATH:/opt/swift/usr/bin"

if [[ "${1:-}" == "--prepare" ]]; then
    cd "$ROOT"
    exec swift build -c release --scratch-path "$SCRATCH" --product bench
fi

BIN="$SCRATCH/release/bench"
[[ -x "$BIN" ]] || { echo "swiftqueue.sh: $BIN not built; run with --prepare first" >&2; exit 1; }
export MIGRATIONS_DIR="$ROOT/sql"
if [[ -z "${QUEUE_BENCH_VERSION:-}" ]]; then
    # The checkout as it is now (it may have moved since --prepare) and when the binary was built.
    QUEUE_BENCH_VERSION="cleaning-queue $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    git -C "$ROOT" diff --quiet HEAD -- Sources Package.swift sql 2>/dev/null || QUEUE_BENCH_VERSION+="+uncommitted"
    QUEUE_BENCH_VERSION+=", binary built $(date -u -r "$BIN" +%Y-%m-%dT%H:%MZ)"
    export QUEUE_BENCH_VERSION
fi
exec "$BIN" queue adapter
