#!/usr/bin/env bash
# The main command: builds the release binaries, uses $DATABASE_URL or starts the
# private PostgreSQL cluster (scripts/devdb.sh), applies the migrations, then runs
# a worker against one round of the platform's batch jobs and shows the queue's
# statistics. Safe to run again: it reuses the database.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

if [[ -z "${DATABASE_URL:-}" ]]; then
    DATABASE_URL="$(scripts/devdb.sh start)"
    echo "database: private cluster at $DATABASE_URL (stop it with scripts/devdb.sh stop)"
else
    echo "database: \$DATABASE_URL"
fi
export DATABASE_URL

echo "building release binaries…"
swift build -c release -Xswiftc -warnings-as-errors 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' || true
BIN="$(swift build -c release --show-bin-path)"
[[ -x "$BIN/jobsctl" ]] || { echo "error: the build failed; run 'swift build -c release' to see why" >&2; exit 1; }

"$BIN/jobsctl" migrate
"$BIN/jobsctl" migrate --status

echo "enqueueing one round of the platform's batch jobs…"
for kind in coupon.expire coupon.expiry_reminder points.expire; do
    printf '  %-24s job ' "$kind"
    "$BIN/jobsctl" enqueue "$kind" --queue maintenance
done

LOG="${TMPDIR:-/tmp}/queue-worker-$$.log"
echo "starting a worker (log: $LOG)…"
"$BIN/queue-worker" --grace 10 >"$LOG" 2>&1 &
WORKER=$!
trap 'kill -TERM $WORKER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
    if ! "$BIN/jobsctl" jobs list --queue maintenance --json | grep -q '"state" : "\(available\|running\|scheduled\|retryable\)"'; then
        break
    fi
    sleep 0.2
done
kill -TERM $WORKER
wait $WORKER && echo "worker stopped cleanly (exit 0)"
trap - EXIT

"$BIN/jobsctl" jobs list --queue maintenance --limit 6
echo
"$BIN/jobsctl" stats
echo
echo "worker log (last lines):"
tail -n 5 "$LOG"
