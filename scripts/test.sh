#!/usr/bin/env bash
# The whole test suite: builds with warnings as errors, starts a throwaway PostgreSQL
# cluster on a free loopback port, runs every test against it, and deletes the
# cluster afterwards (and the PgBouncer some tests start in front of it). Extra
# arguments go to `swift test` (e.g. --filter PoolTests).
#
#   scripts/test.sh --citus [--filter ...]   the same against a throwaway Citus cluster
#       (scripts/citus.sh: a coordinator and two workers), the schema migrated and
#       distributed (sql/citus) before the tests; CI runs the engine's core tests so.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"

CITUS=0
if [[ "${1:-}" == --citus ]]; then CITUS=1; shift; fi

export DEVDB_SCRIPT="$ROOT/scripts/devdb.sh"
# PgBouncer (transaction pooling) in front of the test database, started by the tests
# that need it.
export PGBOUNCER_DIR="$ROOT/.testdb/pgbouncer"
export PGBOUNCER_SCRIPT="$ROOT/scripts/pgbouncer.sh"
"$PGBOUNCER_SCRIPT" destroy >/dev/null 2>&1 || true
if ((CITUS)); then
    export CITUS_DIR="$ROOT/.testdb/citus"
    # Tests that restart "the database" restart the coordinator.
    export DEVDB_DIR="$CITUS_DIR/coordinator"
    "$ROOT/scripts/citus.sh" installed ||
        { echo "test: Citus is not installed (run ../shared/citus/build.sh as root)" >&2; exit 1; }
    "$ROOT/scripts/citus.sh" stop >/dev/null 2>&1 || true
    trap '"$PGBOUNCER_SCRIPT" destroy >/dev/null 2>&1 || true; "$ROOT/scripts/citus.sh" stop >/dev/null 2>&1 || true' EXIT
    TEST_DATABASE_URL="$("$ROOT/scripts/citus.sh" start)"
else
    export DEVDB_DIR="$ROOT/.testdb/cluster"
    "$DEVDB_SCRIPT" destroy >/dev/null 2>&1 || true
    trap '"$PGBOUNCER_SCRIPT" destroy >/dev/null 2>&1 || true; "$DEVDB_SCRIPT" destroy >/dev/null 2>&1 || true' EXIT
    TEST_DATABASE_URL="$("$DEVDB_SCRIPT" start)"
fi
export TEST_DATABASE_URL
echo "test database: $TEST_DATABASE_URL"

swift build --build-tests -Xswiftc -warnings-as-errors
BIN_DIR="$(swift build --show-bin-path)"
export BIN_DIR
if ((CITUS)); then
    "$BIN_DIR/jobsctl" migrate --database-url "$TEST_DATABASE_URL" --migrations "$ROOT/sql" >/dev/null
    "$ROOT/scripts/citus.sh" distribute
fi
swift test --skip-build "$@"
