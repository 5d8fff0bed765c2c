#!/usr/bin/env bash
# The whole test suite: builds with warnings as errors, starts a throwaway PostgreSQL
# cluster on a free loopback port, runs every test against it, and deletes the
# cluster afterwards (and the PgBouncer some tests start in front of it). Extra arguments go to `swift test` (e.g. --filter PoolTests).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"

export DEVDB_DIR="$ROOT/.testdb/cluster"
export DEVDB_SCRIPT="$ROOT/scripts/devdb.sh"
# PgBouncer (transaction pooling) in front of it, started by the tests that need it.
export PGBOUNCER_DIR="$ROOT/.testdb/pgbouncer"
export PGBOUNCER_SCRIPT="$ROOT/scripts/pgbouncer.sh"
teardown() {
    "$PGBOUNCER_SCRIPT" destroy >/dev/null 2>&1 || true
    "$DEVDB_SCRIPT" destroy >/dev/null 2>&1 || true
}
teardown
trap teardown EXIT

TEST_DATABASE_URL="$("$DEVDB_SCRIPT" start)"
export TEST_DATABASE_URL
echo "test database: $TEST_DATABASE_URL"

swift build --build-tests -Xswiftc -warnings-as-errors
BIN_DIR="$(swift build --show-bin-path)"
export BIN_DIR
swift test --skip-build "$@"
