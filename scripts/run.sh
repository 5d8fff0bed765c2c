#!/usr/bin/env bash
# The main command: the whole system, end to end, on one machine.
#
# Builds the release binaries, uses $DATABASE_URL or starts the private PostgreSQL
# cluster (scripts/devdb.sh), migrates, loads the demo data set (once), starts the
# worker pool (the scheduler is whichever worker leads), triggers one round of
# every platform job (due reminders, dispatch, tier recalculation, coupon and points
# expiry, exam grading, last week's service quality, complaint SLA escalations,
# last week's payout run, the statistics rollup, a marketing campaign), shows progress,
# and prints a summary with the campaign's report and yesterday's statistics line, then
# how to open the web console (its URL). Run it again: it reuses the database and does
# no duplicate work.
#
# Sizes: SEED_CUSTOMERS (2000), SEED_CLEANERS (150), SEED_ORDERS (10000), SEED (20261123);
# SEED_NOW (an ISO 8601 time: the moment the data is placed around; default the load's);
# WORKERS (2) worker processes. Output files go to RUN_DIR (default .run/).
#
#   scripts/run.sh --citus   the same on a fresh Citus cluster (scripts/citus.sh: a
#       coordinator and two workers, replacing any cluster in CITUS_DIR, default .citus/),
#       the schema distributed after the migrations; docs/scaling.md, "Citus", says what
#       is distributed (the payout run completes without its batch there). scripts/check-run.sh
#       --citus compares its summary with a single-server run of the same seed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
CITUS=0
case "${1:-}" in
    --citus) CITUS=1 ;;
    "") ;;
    *) echo "run: unknown option '$1' (options: --citus, --help)" >&2; exit 64 ;;
esac

RUN_DIR="${RUN_DIR:-$ROOT/.run}"
mkdir -p "$RUN_DIR"

if ((CITUS)); then
    scripts/citus.sh stop >/dev/null 2>&1 || true
    DATABASE_URL="$(scripts/citus.sh start)"
    echo "database: Citus coordinator at $DATABASE_URL, two worker nodes (stop them with scripts/citus.sh stop)"
elif [[ -z "${DATABASE_URL:-}" ]]; then
    DATABASE_URL="$(scripts/devdb.sh start)"
    echo "database: private cluster at $DATABASE_URL (stop it with scripts/devdb.sh stop)"
else
    echo "database: \$DATABASE_URL"
fi
export DATABASE_URL

echo "building release binaries…"
swift build -c release -Xswiftc -warnings-as-errors 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' || true
BIN="$(swift build -c release --show-bin-path)"
[[ -x "$BIN/jobsctl" && -x "$BIN/queue-worker" ]] || {
    echo "error: the build failed; run 'swift build -c release' to see why" >&2
    exit 1
}
JOBSCTL="$BIN/jobsctl"

"$JOBSCTL" migrate
if ((CITUS)); then
    scripts/citus.sh distribute
    echo "schema distributed over the Citus workers (sql/citus/)"
fi
START="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
"$JOBSCTL" seed --customers "${SEED_CUSTOMERS:-2000}" --cleaners "${SEED_CLEANERS:-150}" \
    --orders "${SEED_ORDERS:-10000}" --seed "${SEED:-20261123}" ${SEED_NOW:+--now "$SEED_NOW"}

WORKER_PIDS=()
stop_workers() {
    for pid in "${WORKER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${WORKER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    WORKER_PIDS=()
}
trap stop_workers EXIT
for index in $(seq 1 "${WORKERS:-2}"); do
    "$BIN/queue-worker" --worker-id "demo-worker-$index" --grace 20 >"$RUN_DIR/worker-$index.log" 2>&1 &
    WORKER_PIDS+=($!)
done
echo "started ${WORKERS:-2} workers (logs: $RUN_DIR/worker-*.log)"

# Days and weeks are the platform's business days (BUSINESS_TIME_ZONE, as the
# programs read it).
BUSINESS_ZONE="${BUSINESS_TIME_ZONE:-Asia/Shanghai}"
# One round of the batch jobs, once per day: unique keys held for good make a
# second run the same day enqueue nothing.
TODAY="$(TZ="$BUSINESS_ZONE" date +%F)"
for kind in tier.recalculate coupon.expire coupon.expiry_reminder points.expire statistics.rollup quality.reinstate; do
    "$JOBSCTL" enqueue "$kind" --queue maintenance --unique-key "demo:$kind:$TODAY" --unique-scope always >/dev/null
done
echo "enqueued tier recalculation, coupon expiry, coupon reminders, points expiry, the statistics rollup and suspension reinstatement"

# Dispatch: the next week's waiting orders are offered to cleaners; simulated
# cleaners (deterministic from the seed) accept, decline or ignore the offers.
"$JOBSCTL" dispatch start-waiting --days 7
"$JOBSCTL" dispatch simulate --seed "${SEED:-20261123}" --seconds 300 >"$RUN_DIR/dispatch-simulation.log" 2>&1 &
SIMULATION_PID=$!

# A marketing campaign, one a day: customers without an order in 30 days get the
# seed's coupon (template 1) and an offer, in batches through the outbox, under the
# marketing rules (opted out, frequency cap; outside 08:00–21:00 the batches wait).
CAMPAIGN_JSON="$("$JOBSCTL" campaigns create --once --json --name "老客回流 $TODAY" --template campaign_coupon \
    --param offer=本周深度保洁8折 --coupon-template 1 --segment '{"last_order_older_than_days": 30}' --ends +1d)"
[[ "$CAMPAIGN_JSON" =~ \"id\"[[:space:]]*:[[:space:]]*([0-9]+) ]] && CAMPAIGN="${BASH_REMATCH[1]}"
if [[ "$CAMPAIGN_JSON" =~ \"created\"[[:space:]]*:[[:space:]]*true ]]; then
    "$JOBSCTL" campaigns launch "$CAMPAIGN"
else
    echo "campaign $CAMPAIGN was launched by an earlier run today"
fi

PERIOD="$(TZ="$BUSINESS_ZONE" date -d '7 days ago' +%G-W%V)"
# Last week's service quality, decided before the payout run (a week scored once
# decides nothing again); overdue seeded complaints escalate on queue "complaints".
"$JOBSCTL" enqueue quality.score --queue maintenance --args "{\"period\":\"$PERIOD\"}" \
    --unique-key "demo:quality.score:$PERIOD" --unique-scope always >/dev/null
echo "enqueued the service-quality scoring of $PERIOD"
REPORT="$RUN_DIR/payouts-$PERIOD.csv"
# On Citus the run has no batch: its last payment completes it (docs/scaling.md,
# "The payout run on Citus").
echo "payout run for last week ($PERIOD)…"
"$JOBSCTL" payouts run --period "$PERIOD" --report "$REPORT" --wait 600

echo "waiting for the queues to drain (due reminders, dispatch, grading, expiry, statistics, campaign)…"
"$JOBSCTL" wait --due-within 90 --timeout 900
wait "$SIMULATION_PID"
cat "$RUN_DIR/dispatch-simulation.log"
stop_workers
trap - EXIT
echo "workers stopped cleanly"
echo
"$JOBSCTL" summary --since "$START"
echo
echo "payout report for $PERIOD: $REPORT ($(($(wc -l <"$REPORT") - 2)) cleaners)"
tail -n 1 "$REPORT" | awk -F, '{ printf "  totals: gross %s fen, commission %s fen, paid %s fen, carried %s fen\n", $5, $6, $11, $12 }'

YESTERDAY="$(TZ="$BUSINESS_ZONE" date -d yesterday +%F)"
echo
echo "statistics for yesterday ($YESTERDAY, $BUSINESS_ZONE; CSV: $RUN_DIR/statistics-$YESTERDAY.csv):"
"$JOBSCTL" stats platform --from "$YESTERDAY" --to "$YESTERDAY" --csv "$RUN_DIR/statistics-$YESTERDAY.csv"
echo
echo "web console (Ctrl-C stops it): create a user once — the password is read from standard input —"
echo "  $JOBSCTL console-user admin --role finance"
echo "then serve it and open http://127.0.0.1:${CONSOLE_PORT:-8080}/"
echo "  $JOBSCTL console --port ${CONSOLE_PORT:-8080}"
