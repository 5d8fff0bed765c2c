#!/usr/bin/env bash
# Runs the main command (scripts/run.sh) on a small data set against its own private
# cluster, then checks its summary against figures computed independently in SQL from
# the seed data (not from what the jobs recorded). Exits non-zero on any mismatch.
# CI runs it after the test suite; sizes: CHECK_CUSTOMERS (300), CHECK_CLEANERS (30),
# CHECK_ORDERS (1500).
#
#   scripts/check-run.sh --citus-only   the same on a fresh Citus cluster
#       (scripts/run.sh --citus), in .checkrun/citus/
#   scripts/check-run.sh --citus        both at once, with the same seed placed around the
#       same moment (SEED_NOW), then the two summaries and payout reports must be equal
#       (scripts/summary_compare: the figures that depend on the moment each run had are
#       checked per run instead)
#   scripts/check-run.sh --test         the comparison's own unit tests
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
case "${1:-}" in
    "") OUT="$ROOT/.checkrun"; TARGET="" ;;
    --citus-only) OUT="$ROOT/.checkrun/citus"; TARGET=--citus ;;
    --citus)
        # Both runs at once, their data placed around one moment (jobsctl seed --now):
        # the jobs' windows (the payout week, a tier's 12 months) then cut both data
        # sets at the same rows, which two runs minutes apart would not.
        SEED_NOW="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        export SEED_NOW
        PERIOD="$(TZ="${BUSINESS_TIME_ZONE:-Asia/Shanghai}" date -d '7 days ago' +%G-W%V)"   # as each run names its report
        "$0" & SINGLE=$!
        "$0" --citus-only & CITUS=$!
        FAILED=0
        wait "$SINGLE" || FAILED=1
        wait "$CITUS" || FAILED=1
        ((FAILED == 0)) || { echo "check-run: a run failed its own checks (above); the two were not compared" >&2; exit 1; }
        PYTHONPATH="$ROOT/scripts" exec python3 -m summary_compare \
            "$ROOT/.checkrun/summary.json" "$ROOT/.checkrun/citus/summary.json" \
            --reports "$ROOT/.checkrun/run/payouts-$PERIOD.csv" "$ROOT/.checkrun/citus/run/payouts-$PERIOD.csv" ;;
    --test) exec python3 -m unittest discover -s "$ROOT/scripts/summary_compare/tests" -t "$ROOT/scripts" ;;
    *) echo "check-run: unknown option '$1' (options: --citus, --citus-only, --test, --help)" >&2; exit 64 ;;
esac
mkdir -p "$OUT"

if [[ -n "$TARGET" ]]; then
    # scripts/run.sh --citus starts the cluster (replacing any in CITUS_DIR).
    export CITUS_DIR="$OUT/cluster"
    unset DATABASE_URL
    trap 'scripts/citus.sh stop >/dev/null 2>&1 || true' EXIT
else
    export DEVDB_DIR="$OUT/cluster"
    scripts/devdb.sh destroy >/dev/null 2>&1 || true
    trap 'scripts/devdb.sh destroy >/dev/null 2>&1 || true' EXIT
    DATABASE_URL="$(scripts/devdb.sh start)"
    export DATABASE_URL
fi
export RUN_DIR="$OUT/run"
rm -rf "$RUN_DIR"

# The data's own moment when both runs share one (the seed dates its exam submissions then).
START="${SEED_NOW:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}"
SEED_CUSTOMERS="${CHECK_CUSTOMERS:-300}" SEED_CLEANERS="${CHECK_CLEANERS:-30}" SEED_ORDERS="${CHECK_ORDERS:-1500}" \
    WORKERS=2 scripts/run.sh $TARGET >"$OUT/run.log" 2>&1 || {
    tail -n 40 "$OUT/run.log" >&2
    echo "check-run: scripts/run.sh $TARGET failed (log: $OUT/run.log)" >&2
    exit 1
}
if [[ -n "$TARGET" ]]; then DATABASE_URL="$(scripts/citus.sh url)"; export DATABASE_URL; fi
# Rounded up to the next second: a reminder due in the second the run ended ran (the
# run waits until nothing is due within 90 s) and must count; none is due after it.
END="$(date -u -d '+1 second' +%Y-%m-%dT%H:%M:%SZ)"
BIN="$(swift build -c release --show-bin-path)"
"$BIN/jobsctl" summary --since "$START" --json >"$OUT/summary.json"
PERIOD="$(TZ="${BUSINESS_TIME_ZONE:-Asia/Shanghai}" date -d '7 days ago' +%G-W%V)"
REPORT="$RUN_DIR/payouts-$PERIOD.csv"

sql() { psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

# Expected figures, from the seeded rows and the rules tables only.
# The submissions the seed queued for grading (its onboarding exams were graded 30 days ago).
EXPECTED_GRADED="$(sql "SELECT count(*) FROM platform.exam_submissions WHERE submitted_at >= '$START'")"
EXPECTED_CERTIFIED="$(sql "
    SELECT count(*) FROM (
        SELECT s.id, sum(CASE q.kind
            WHEN 'single_choice' THEN CASE WHEN s.answers->>q.id::text = q.answer_key #>> '{}' THEN q.points ELSE 0 END
            WHEN 'multiple_choice' THEN CASE
                WHEN NOT (s.answers->(q.id::text) <@ q.answer_key) THEN 0
                ELSE q.points * jsonb_array_length(s.answers->(q.id::text)) / jsonb_array_length(q.answer_key) END
            WHEN 'true_false' THEN CASE WHEN (s.answers->(q.id::text)) = q.answer_key THEN q.points ELSE 0 END
            ELSE CASE WHEN q.answer_key ? btrim(s.answers->>q.id::text) THEN q.points ELSE 0 END
        END) AS score, e.pass_mark
        FROM platform.exam_submissions s JOIN platform.exams e ON e.id = s.exam_id
        JOIN platform.exam_questions q ON q.exam_id = e.id
        GROUP BY s.id, e.pass_mark) AS graded
    WHERE score >= pass_mark")"
EXPECTED_EXPIRED_MIN="$(sql "SELECT count(*) FROM platform.coupons WHERE valid_until <= '$START'")"
EXPECTED_EXPIRED_MAX="$(sql "SELECT count(*) FROM platform.coupons WHERE valid_until <= '$END'")"
EXPECTED_TIERS="$(sql "
    WITH growth AS (
        SELECT c.id, c.activity_points + COALESCE((
            SELECT sum(o.paid_fen / 100) FROM platform.orders o
            WHERE o.customer_id = c.id AND o.status = '已完成' AND o.refunded_fen = 0
              AND o.completed_at > now() - interval '12 months'), 0) AS g
        FROM platform.customers c)
    SELECT count(*) FROM growth WHERE g >= (SELECT min(threshold) FROM platform.member_tiers WHERE threshold > 0)")"
PERIOD_BOUNDS="$(python3 - "$PERIOD" <<'EOF'
import datetime, sys
year, week = sys.argv[1].split("-W")
start = datetime.datetime.fromisocalendar(int(year), int(week), 1)
print(f"{start:%Y-%m-%d} 00:00:00+08|{start + datetime.timedelta(days=7):%Y-%m-%d} 00:00:00+08")
EOF
)"
PERIOD_START="${PERIOD_BOUNDS%%|*}"
PERIOD_END="${PERIOD_BOUNDS##*|}"
EXPECTED_PAYOUT="$(sql "
    SELECT count(DISTINCT o.cleaner_id) || ',' || COALESCE(sum(o.paid_fen - o.refunded_fen), 0) || ',' ||
           COALESCE(sum(((o.paid_fen - o.refunded_fen) * r.rate_bp + 5000) / 10000), 0)
    FROM platform.orders o JOIN platform.cleaners c ON c.id = o.cleaner_id
    JOIN platform.commission_rates r ON r.level = c.level
    WHERE o.status = '已完成' AND o.completed_at >= '$PERIOD_START' AND o.completed_at < '$PERIOD_END'")"
EXPECTED_REMINDERS="$(sql "
    SELECT (SELECT count(*) FROM platform.orders, unnest(ARRAY[interval '24 hours', interval '2 hours']) AS lead(l)
            WHERE appointment_start - l BETWEEN '$START' AND '$END' AND status IN ('待接单', '已接单'))
         + (SELECT count(*) FROM platform.orders
            WHERE appointment_start - interval '1 hour' BETWEEN '$START' AND '$END' AND status IN ('待接单', '已接单')
              AND cleaner_id IS NOT NULL)
         + (SELECT count(*) FROM platform.orders WHERE accepted_at BETWEEN '$START' AND '$END')")"
# (the last term: each order the demo's dispatch assigned tells its cleaner at once)
# The demo campaign's segment: customers whose latest order is older than 30 days at launch.
lapsed_customers() { sql "SELECT count(*) FROM (SELECT customer_id FROM platform.orders GROUP BY 1
                HAVING max(created_at) < timestamptz '$1' - interval '30 days') AS lapsed"; }
EXPECTED_TARGETED_MIN="$(lapsed_customers "$START")"
EXPECTED_TARGETED_MAX="$(lapsed_customers "$END")"

python3 - "$OUT/summary.json" "$REPORT" <<EOF
import csv, json, sys
summary = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
problems = []
def check(name, actual, expected):
    print(f"  {name:34} {actual!s:>12}  expected {expected}")
    if actual != expected:
        problems.append(name)
jobs = {k["kind"]: k for k in summary["jobs"]}
check("exams graded", summary["submissionsGraded"], $EXPECTED_GRADED)
check("certifications granted", summary["certificationsGranted"], $EXPECTED_CERTIFIED)
expired = summary["couponsExpired"]
print(f"  {'coupons expired':34} {expired:>12}  expected {$EXPECTED_EXPIRED_MIN}…{$EXPECTED_EXPIRED_MAX}")
if not ($EXPECTED_EXPIRED_MIN <= expired <= $EXPECTED_EXPIRED_MAX): problems.append("coupons expired")
check("tier changes", summary["tierChanges"], $EXPECTED_TIERS)
check("reminders that came due and ran", jobs.get("order.reminder", {}).get("completed", 0), $EXPECTED_REMINDERS)
totals = rows[-1]
cleaners, gross, commission = "$EXPECTED_PAYOUT".split(",")
check("payout: a row for every cleaner with orders", len(rows) - 1 >= int(cleaners), True)
check("payout: gross fen", int(totals["gross_fen_paid_minus_refunded"]), int(gross))
check("payout: commission fen", int(totals["commission_fen"]), int(commission))
campaigns = summary["campaigns"]
check("campaigns launched", len(campaigns), 1)
for campaign in campaigns:
    targeted = campaign["targeted"]
    print(f"  {'campaign targeted':34} {targeted:>12}  expected {$EXPECTED_TARGETED_MIN}…{$EXPECTED_TARGETED_MAX}")
    if not ($EXPECTED_TARGETED_MIN <= targeted <= $EXPECTED_TARGETED_MAX): problems.append("campaign targeted")
    print("  " + campaign["line"])
failed = sum(k["failed"] for k in summary["jobs"])
check("jobs failed", failed, 0)
pending = [n for n in summary["notifications"] if n["status"] == "failed"]
check("notifications failed", len(pending), 0)
if problems:
    print("check-run: MISMATCH in " + ", ".join(problems))
    sys.exit(1)
print("check-run: summary matches the seed data")
EOF
