#!/usr/bin/env bash
# Fault-injection runs ("proven under failure"): real worker processes (queue-testbed;
# queue-worker and jobsctl in payout) against a private PostgreSQL cluster under
# .chaos/, while faults are injected.
#
#   kill-workers  SIGKILL a random worker every few seconds and start a new one
#   restart-db    restart the PostgreSQL server (fast shutdown + start) during the run;
#                 workers must reconnect by themselves, and none may die
#   stall         SIGSTOP a worker for longer than its lease, then SIGCONT it; the
#                 others rescue its jobs and its stale completions must be fenced out
#   payout        a settlement payout run (`jobsctl payouts run`) on seeded platform
#                 data, worked by `queue-worker --queues payouts=4` processes; every
#                 1-2 s SIGKILL a random worker (and sometimes the jobsctl process),
#                 start a new one, and re-run jobsctl whenever it is gone before the
#                 run is complete, as finance would
#
# The first three enqueue N testbed.effect jobs (each records one row in
# testbed_effects in the transaction that completes it), work them with several
# workers while the fault is injected, and check that every job completed, that each
# effect exists exactly once and that no job is left running. The payout run checks
# the ledger and the report against figures computed in SQL from the seeded orders,
# reviews and complaints: every ledger transaction balances, one settlement per line,
# one payout per line with something to pay and none for the others, every completed
# order of the week settled once by a line of this run, a line for exactly the
# cleaners with orders, bonuses or penalties in the week, and a CSV report with one
# row per line whose paid total is what left platform:cash. Each run prints a
# one-line verdict.
#
# Usage: scripts/chaos.sh [OPTIONS] [RUN ...]      (default: every run)
#
# Options (environment variable in brackets):
#   --small              CI sizes: 3000 jobs, 1 kill, 1 restart, 1 stall; payout with
#                        100 cleaners (40 s to a minute in all)
#   --jobs N             jobs per run (default 50000)                    [CHAOS_JOBS]
#   --workers N          worker processes (default 4)                    [CHAOS_WORKERS]
#   --concurrency N      jobs at once per worker (default 10)            [CHAOS_CONCURRENCY]
#   --sleep-ms N         each job's sleep, so faults land mid-job (default 5) [CHAOS_SLEEP_MS]
#   --lease S            lease of kill-workers and restart-db (default 5)     [CHAOS_LEASE]
#   --kill-every S       seconds between kills (default 3)               [CHAOS_KILL_EVERY]
#   --kills N            most kills (default 0: until the jobs are done) [CHAOS_KILLS]
#   --restarts N         database restarts (default 2)                   [CHAOS_RESTARTS]
#   --stalls N           SIGSTOP/SIGCONT cycles (default 3)              [CHAOS_STALLS]
#   --stall-lease S      lease in the stall run (default 2)              [CHAOS_STALL_LEASE]
#   --stall-seconds S    how long the worker stays stopped (default 6)   [CHAOS_STALL_SECONDS]
#   --stall-sleep-ms N   each job's sleep in the stall run, so that the stopped worker
#                        holds a full set of jobs (default 50)          [CHAOS_STALL_SLEEP_MS]
#   --payout-cleaners N  cleaners in the payout run's data set (default 3000) [CHAOS_PAYOUT_CLEANERS]
#   --payout-orders N    orders, spread over 97 days: about 6.5% of them are completed
#                        orders of last week (default 100000)          [CHAOS_PAYOUT_ORDERS]
#   --payout-customers N customers (default 10000)                       [CHAOS_PAYOUT_CUSTOMERS]
#   --payout-workers N   queue-worker processes at a time (default 3)    [CHAOS_PAYOUT_WORKERS]
#   --payout-lease S     their lease (default 2)                         [CHAOS_PAYOUT_LEASE]
#   --payout-kills N     most SIGKILLs, the first one of jobsctl (default 0: until the
#                        run is complete)                               [CHAOS_PAYOUT_KILLS]
#   --seed N             the data set's seed (default 20261123)          [CHAOS_SEED]
#   --timeout S          give up on a run after S seconds (default 900)  [CHAOS_TIMEOUT]
#   --bin DIR            use the binaries in DIR instead of building     [CHAOS_BIN]
#   --scratch-path DIR   build folder for `swift build -c release`       [CHAOS_SCRATCH_PATH]
#   --dir DIR            work folder: cluster and logs (default .chaos)  [CHAOS_DIR]
#   -h, --help           this text
#
# Exits 0 when every run passed, 1 when one failed (loss, duplicate, stuck job, worker
# death, fault not injected, timeout; in payout also an unbalanced transaction, a line
# paid twice or not at all, an order or cleaner skipped, a report that disagrees, jobsctl
# failing unasked), 2 on bad usage, 130 when interrupted. Worker and jobsctl logs
# stay in DIR/logs/RUN/; the cluster and every process are removed on exit.
set -uo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
die() { echo "chaos: $*" >&2; exit 2; }
say() { echo "  [$(date +%H:%M:%S)] $*"; }

JOBS="${CHAOS_JOBS:-50000}"
WORKERS="${CHAOS_WORKERS:-4}"
CONCURRENCY="${CHAOS_CONCURRENCY:-10}"
SLEEP_MS="${CHAOS_SLEEP_MS:-5}"
LEASE="${CHAOS_LEASE:-5}"
KILL_EVERY="${CHAOS_KILL_EVERY:-3}"
KILLS="${CHAOS_KILLS:-0}"
RESTARTS="${CHAOS_RESTARTS:-2}"
STALLS="${CHAOS_STALLS:-3}"
STALL_LEASE="${CHAOS_STALL_LEASE:-2}"
STALL_SECONDS="${CHAOS_STALL_SECONDS:-6}"
STALL_SLEEP_MS="${CHAOS_STALL_SLEEP_MS:-50}"
PAYOUT_CLEANERS="${CHAOS_PAYOUT_CLEANERS:-3000}"
PAYOUT_ORDERS="${CHAOS_PAYOUT_ORDERS:-100000}"
PAYOUT_CUSTOMERS="${CHAOS_PAYOUT_CUSTOMERS:-10000}"
PAYOUT_WORKERS="${CHAOS_PAYOUT_WORKERS:-3}"
PAYOUT_LEASE="${CHAOS_PAYOUT_LEASE:-2}"
PAYOUT_KILLS="${CHAOS_PAYOUT_KILLS:-0}"
SEED="${CHAOS_SEED:-20261123}"
TIMEOUT="${CHAOS_TIMEOUT:-900}"
BIN="${CHAOS_BIN:-}"
SCRATCH="${CHAOS_SCRATCH_PATH:-}"
CHAOS_DIR="${CHAOS_DIR:-$ROOT/.chaos}"
RUNS=()
small() {
    JOBS=3000 KILLS=1 KILL_EVERY=2 RESTARTS=1 STALLS=1 LEASE=3 TIMEOUT=180
    PAYOUT_CLEANERS=100 PAYOUT_ORDERS=8000 PAYOUT_CUSTOMERS=1000
}
for arg in "$@"; do [[ "$arg" == --small ]] && small; done # explicit flags win over --small

need_value() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --small) shift ;;
        --jobs) need_value "$@"; JOBS="$2"; shift 2 ;;
        --workers) need_value "$@"; WORKERS="$2"; shift 2 ;;
        --concurrency) need_value "$@"; CONCURRENCY="$2"; shift 2 ;;
        --sleep-ms) need_value "$@"; SLEEP_MS="$2"; shift 2 ;;
        --lease) need_value "$@"; LEASE="$2"; shift 2 ;;
        --kill-every) need_value "$@"; KILL_EVERY="$2"; shift 2 ;;
        --kills) need_value "$@"; KILLS="$2"; shift 2 ;;
        --restarts) need_value "$@"; RESTARTS="$2"; shift 2 ;;
        --stalls) need_value "$@"; STALLS="$2"; shift 2 ;;
        --stall-lease) need_value "$@"; STALL_LEASE="$2"; shift 2 ;;
        --stall-seconds) need_value "$@"; STALL_SECONDS="$2"; shift 2 ;;
        --stall-sleep-ms) need_value "$@"; STALL_SLEEP_MS="$2"; shift 2 ;;
        --payout-cleaners) need_value "$@"; PAYOUT_CLEANERS="$2"; shift 2 ;;
        --payout-orders) need_value "$@"; PAYOUT_ORDERS="$2"; shift 2 ;;
        --payout-customers) need_value "$@"; PAYOUT_CUSTOMERS="$2"; shift 2 ;;
        --payout-workers) need_value "$@"; PAYOUT_WORKERS="$2"; shift 2 ;;
        --payout-lease) need_value "$@"; PAYOUT_LEASE="$2"; shift 2 ;;
        --payout-kills) need_value "$@"; PAYOUT_KILLS="$2"; shift 2 ;;
        --seed) need_value "$@"; SEED="$2"; shift 2 ;;
        --timeout) need_value "$@"; TIMEOUT="$2"; shift 2 ;;
        --bin) need_value "$@"; BIN="$2"; shift 2 ;;
        --scratch-path) need_value "$@"; SCRATCH="$2"; shift 2 ;;
        --dir) need_value "$@"; CHAOS_DIR="$2"; shift 2 ;;
        kill-workers | restart-db | stall | payout)
            [[ " ${RUNS[*]} " == *" $1 "* ]] || RUNS+=("$1") # each run once: they share the database
            shift ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ ${#RUNS[@]} -gt 0 ]] || RUNS=(kill-workers restart-db stall payout)

is_int() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a whole number, got '$2'"; }
is_seconds() { [[ "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$1 must be a number of seconds, got '$2'"; }
is_int --jobs "$JOBS"; is_int --workers "$WORKERS"; is_int --concurrency "$CONCURRENCY"
is_int --sleep-ms "$SLEEP_MS"; is_int --kills "$KILLS"; is_int --restarts "$RESTARTS"
is_int --stalls "$STALLS"; is_int --timeout "$TIMEOUT"; is_int --stall-sleep-ms "$STALL_SLEEP_MS"
is_seconds --lease "$LEASE"; is_seconds --kill-every "$KILL_EVERY"
is_seconds --stall-lease "$STALL_LEASE"; is_seconds --stall-seconds "$STALL_SECONDS"
((JOBS >= 1)) || die "--jobs must be at least 1"
((WORKERS >= 2)) || die "--workers must be at least 2 (faults need a survivor)"
((CONCURRENCY >= 1)) || die "--concurrency must be at least 1"
is_int --payout-cleaners "$PAYOUT_CLEANERS"; is_int --payout-orders "$PAYOUT_ORDERS"
is_int --payout-customers "$PAYOUT_CUSTOMERS"; is_int --payout-workers "$PAYOUT_WORKERS"
is_int --payout-kills "$PAYOUT_KILLS"; is_int --seed "$SEED"; is_seconds --payout-lease "$PAYOUT_LEASE"
((PAYOUT_CLEANERS >= 1 && PAYOUT_CUSTOMERS >= 1)) || die "--payout-cleaners and --payout-customers must be at least 1"
((PAYOUT_WORKERS >= 2)) || die "--payout-workers must be at least 2 (faults need a survivor)"

# --- binaries -----------------------------------------------------------------------
if [[ -z "$BIN" ]]; then
    build=(swift build -c release -Xswiftc -warnings-as-errors)
    [[ -n "$SCRATCH" ]] && build+=(--scratch-path "$SCRATCH")
    echo "chaos: building release binaries (${build[*]})"
    "${build[@]}" 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]'
    [[ ${PIPESTATUS[0]} == 0 ]] || { echo "chaos: the release build failed" >&2; exit 1; }
    BIN="$("${build[@]}" --show-bin-path)" || die "cannot find the build folder"
fi
for tool in queue-testbed queue-worker jobsctl; do
    [[ -x "$BIN/$tool" ]] || die "$BIN/$tool is missing; build with: swift build -c release"
done

# --- work folder, one user at a time ---------------------------------------------------
mkdir -p "$CHAOS_DIR" || die "cannot create $CHAOS_DIR"
CHAOS_DIR="$(cd "$CHAOS_DIR" && pwd)"
exec 9<"$CHAOS_DIR"
flock -n 9 || die "another chaos.sh is using $CHAOS_DIR (use --dir for a second one)"
export DEVDB_DIR="$CHAOS_DIR/db"
unset DEVDB_PORT
DEVDB="$ROOT/scripts/devdb.sh"
# Left over from a run that was killed with SIGKILL: its workers, then its cluster.
if [[ -f "$CHAOS_DIR/pids" ]]; then
    while read -r pid; do
        case "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" in
            *"queue-testbed work --queues chaos_"* | *"queue-worker --queues payouts="*"--worker-id po-"* | \
                *"jobsctl payouts run --period "*"--report $CHAOS_DIR/"*) kill -KILL "$pid" 2>/dev/null ;;
        esac
    done <"$CHAOS_DIR/pids"
fi
"$DEVDB" destroy >/dev/null 2>&1 || true
rm -rf "$CHAOS_DIR/logs" "$CHAOS_DIR/pids"

# --- cleanup: every process we started, then the cluster --------------------------------
declare -a ALL_PIDS=()
CLEANED=0
cleanup() {
    [[ $CLEANED == 1 ]] && return
    CLEANED=1
    local pid
    for pid in "${ALL_PIDS[@]}"; do
        kill -CONT "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
    for pid in "${ALL_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    "$DEVDB" destroy >/dev/null 2>&1 || echo "chaos: could not remove the cluster in $DEVDB_DIR" >&2
    rm -f "$CHAOS_DIR/pids"
}
interrupted() {
    trap '' INT TERM
    echo
    echo "chaos: interrupted; stopping workers and removing the cluster" >&2
    cleanup
    exit 130
}
trap cleanup EXIT
trap interrupted INT TERM HUP

# --- database ---------------------------------------------------------------------------
echo "chaos: starting a private PostgreSQL cluster in $DEVDB_DIR"
DATABASE_URL="$("$DEVDB" start 9<&-)" || { echo "chaos: the cluster did not start" >&2; exit 1; }
export DATABASE_URL
PSQL="$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V -r | head -n 1)"
[[ -n "$PSQL" ]] || PSQL="$(command -v psql)" || die "psql not found"
sql() { "$PSQL" -X -q -t -A -F ' ' -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c "$1" 2>/dev/null; }

"$BIN/jobsctl" migrate --migrations "$ROOT/sql" >/dev/null || { echo "chaos: migrations failed" >&2; exit 1; }
sql "CREATE TABLE IF NOT EXISTS testbed_effects (job_id bigint NOT NULL, attempt integer NOT NULL,
     worker text NOT NULL, at timestamptz NOT NULL DEFAULT now())" >/dev/null ||
    { echo "chaos: cannot create testbed_effects" >&2; exit 1; }
echo "chaos: database $DATABASE_URL; binaries $BIN"
echo "chaos: jobs=$JOBS workers=$WORKERS concurrency=$CONCURRENCY sleep_ms=$SLEEP_MS runs: ${RUNS[*]}"
[[ " ${RUNS[*]} " == *" payout "* ]] && echo "chaos: payout: cleaners=$PAYOUT_CLEANERS orders=$PAYOUT_ORDERS" \
    "customers=$PAYOUT_CUSTOMERS seed=$SEED workers=$PAYOUT_WORKERS lease=${PAYOUT_LEASE}s"

now_ms() { local t="$EPOCHREALTIME"; echo $((10#${t/./} / 1000)); }
ms() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }'; }

# --- workers ----------------------------------------------------------------------------
declare -A LIVE=() # worker name -> pid, for the workers of the current run
RUN="" RUN_PREFIX="" QUEUE="" LOGDIR="" RUN_LEASE="" RUN_START=0
STARTED=0 DEATHS=0 KILLED=0 RESTARTED=0 COMPLETED=0 ACTIVE=0 DONE=0
FAILURES=() # reasons this run fails besides the figures
REMARKS=()  # what was seen that does not fail the run

start_worker() {
    local name="$RUN_PREFIX$STARTED"
    if [[ "$RUN" == payout ]]; then
        "$BIN/queue-worker" --queues "payouts=4" --lease "$RUN_LEASE" \
            --poll-interval 0.5 --grace 10 --worker-id "$name" >"$LOGDIR/$name.log" 2>&1 9<&- &
    else
        "$BIN/queue-testbed" work --queues "$QUEUE" --concurrency "$CONCURRENCY" --lease "$RUN_LEASE" \
            --poll-interval 0.5 --grace 10 --worker-id "$name" >"$LOGDIR/$name.log" 2>&1 9<&- &
    fi
    LIVE[$name]=$!
    ALL_PIDS+=($!)
    echo $! >>"$CHAOS_DIR/pids"
    STARTED=$((STARTED + 1))
    LAST_STARTED="$name"
}

alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ "$state" != Z ]]
}

# Workers that exited without being told to are deaths: an engine failure. Report
# each, then start another in its place so that the run can finish.
reap_deaths() {
    local name pid status
    for name in "${!LIVE[@]}"; do
        pid="${LIVE[$name]}"
        alive "$pid" && continue
        status=0
        wait "$pid" 2>/dev/null || status=$?
        unset "LIVE[$name]"
        DEATHS=$((DEATHS + 1))
        FAILURES+=("worker $name died (exit status $status); see $LOGDIR/$name.log")
        say "WORKER DIED: $name (pid $pid), exit status $status; its last log lines:"
        tail -n 8 "$LOGDIR/$name.log" | cut -c1-400 | sed 's/^/      /'
        start_worker
        say "started $LAST_STARTED in its place"
    done
}

random_worker() {
    local names=("${!LIVE[@]}")
    echo "${names[RANDOM % ${#names[@]}]}"
}

# SIGTERM every worker; each must exit 0 within its grace period.
stop_workers() {
    local name pid status deadline
    for name in "${!LIVE[@]}"; do
        kill -CONT "${LIVE[$name]}" 2>/dev/null
        kill -TERM "${LIVE[$name]}" 2>/dev/null
    done
    deadline=$((SECONDS + 40))
    for name in "${!LIVE[@]}"; do
        pid="${LIVE[$name]}"
        while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
        if alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null
            FAILURES+=("worker $name did not exit within 40 s of SIGTERM")
        fi
        status=0
        wait "$pid" 2>/dev/null || status=$?
        ((status == 0)) || FAILURES+=("worker $name exited with status $status on SIGTERM")
    done
    LIVE=()
}

running_under() { sql "SELECT count(*) FROM queue.jobs WHERE state = 'running' AND leased_by = '$1'"; }

# SIGKILL a random live worker (not replaced here) and count it in KILLED. Sets
# KILLED_NAME, KILLED_PID and KILLED_HELD (its jobs still running, left to the rescuer).
kill_random_worker() {
    KILLED_NAME="$(random_worker)"
    KILLED_PID="${LIVE[$KILLED_NAME]}"
    kill -KILL "$KILLED_PID" 2>/dev/null
    wait "$KILLED_PID" 2>/dev/null
    unset "LIVE[$KILLED_NAME]"
    KILLED_HELD="$(running_under "$KILLED_NAME")"
    KILLED=$((KILLED + 1))
}

begin_run() {
    RUN="$1" RUN_PREFIX="$2" RUN_LEASE="$3"
    local sleep_ms="$4"
    QUEUE="chaos_${RUN//-/_}"
    LOGDIR="$CHAOS_DIR/logs/$RUN"
    mkdir -p "$LOGDIR"
    STARTED=0 DEATHS=0 KILLED=0 RESTARTED=0 COMPLETED=0 ACTIVE=0 DONE=0
    FAILURES=() REMARKS=() LIVE=()
    echo "$RUN: enqueueing $JOBS testbed.effect jobs {\"sleepMs\": $sleep_ms} on queue $QUEUE; $WORKERS workers, lease ${RUN_LEASE}s"
    sql "TRUNCATE testbed_effects; DELETE FROM queue.jobs WHERE queue = '$QUEUE'" >/dev/null
    "$BIN/queue-testbed" enqueue --kind testbed.effect --count "$JOBS" --queue "$QUEUE" \
        --args "{\"sleepMs\": $sleep_ms}" >"$LOGDIR/enqueue.log" 2>&1 ||
        FAILURES+=("enqueue failed: $(tail -n 1 "$LOGDIR/enqueue.log")")
    local i
    for ((i = 0; i < WORKERS; i++)); do start_worker; done
    RUN_START=$(now_ms)
}

# One round of a run's loop: deaths, progress, timeout. Sets COMPLETED, ACTIVE, DONE.
poll() {
    reap_deaths
    local figures
    figures="$(sql "SELECT count(*) FILTER (WHERE state = 'completed'),
                           count(*) FILTER (WHERE state IN ('available', 'running', 'scheduled', 'retryable'))
                    FROM queue.jobs WHERE queue = '$QUEUE'")"
    if [[ -n "$figures" ]]; then # empty while the server restarts
        read -r COMPLETED ACTIVE <<<"$figures"
        ((ACTIVE == 0)) && DONE=1
    fi
    if (($(now_ms) - RUN_START > TIMEOUT * 1000)); then
        FAILURES+=("timed out after ${TIMEOUT}s with $COMPLETED of $JOBS jobs completed")
        DONE=1
    fi
}

# Attempts that logged losing their lease (the handler's last word on the attempt),
# as "worker job_id attempt" lines, from the given worker logs.
lost_attempts() {
    grep -hE 'msg="(job stopped: lease lost|job.s lease was lost before it could complete)' "$@" 2>/dev/null |
        sed -n 's/.* worker=\([^ ]*\) job_id=\([0-9]*\) .* attempt=\([0-9]*\).*/\1 \2 \3/p' | sort -u
}

# Reads "worker job_id attempt" lines; prints each with t when that attempt wrote its
# effect (and so completed the job), else f.
with_effect() {
    local values
    values="$(awk 'NF == 3 { printf "%s(\047%s\047, %s, %s)", (n++ ? ", " : ""), $1, $2, $3 }')"
    [[ -n "$values" ]] || return 0
    sql "SELECT a.worker, a.job_id, a.attempt, EXISTS (SELECT 1 FROM testbed_effects e
                WHERE e.job_id = a.job_id AND e.attempt = a.attempt AND e.worker = a.worker)
         FROM (VALUES $values) AS a(worker, job_id, attempt)"
}

# Splits the attempts that logged a lost lease into the ones really fenced out (no
# effect row of theirs) and the ones that had in fact written their effect and
# completed the job (a false alarm). Prints: fenced misreported.
classify_lost() {
    lost_attempts "$@" | with_effect | awk '{ n[$4]++ } END { printf "%d %d\n", n["f"], n["t"] }'
}

fence_lines() { cat "$@" 2>/dev/null | grep -cE 'outcome rejected: lease no longer current|lease lost|lease was lost'; }

VERDICTS=()
FAILED=0

# Stops the workers, checks the end state and prints the verdict line. Argument:
# the run's own figures.
finish_run() {
    local extra="$1"
    local elapsed=$((($(now_ms) - RUN_START + 500) / 1000))
    reap_deaths
    stop_workers
    local figures effects
    figures="$(sql "SELECT count(*), count(*) FILTER (WHERE state = 'completed'),
                          count(*) FILTER (WHERE state = 'running'),
                          count(*) FILTER (WHERE attempt > 1),
                          count(*) FILTER (WHERE errors::text LIKE '%lease expired%'),
                          count(*) FILTER (WHERE state IN ('discarded', 'cancelled'))
                   FROM queue.jobs WHERE queue = '$QUEUE'")"
    effects="$(sql "SELECT count(*), count(DISTINCT e.job_id),
                           count(DISTINCT e.job_id) FILTER (WHERE j.state IS DISTINCT FROM 'completed')
                    FROM testbed_effects e LEFT JOIN queue.jobs j ON j.id = e.job_id")"
    local total=0 completed=0 running=0 retried=0 rescued=0 gaveup=0 rows=0 distinct=0 unfinished=0
    if [[ -n "$figures" && -n "$effects" ]]; then
        read -r total completed running retried rescued gaveup <<<"$figures"
        read -r rows distinct unfinished <<<"$effects"
    else
        FAILURES+=("could not read the end state from the database")
    fi
    local lost=$((JOBS - distinct)) duplicated=$((rows - distinct))
    ((total == JOBS)) || FAILURES+=("$total job rows for $JOBS enqueued")
    ((gaveup == 0)) || FAILURES+=("$gaveup jobs were discarded or cancelled")
    ((unfinished == 0)) || FAILURES+=("$unfinished effects belong to jobs that are not completed")
    local _fenced misreported
    read -r _fenced misreported <<<"$(classify_lost "$LOGDIR"/*.log)"
    ((${misreported:-0} == 0)) || REMARKS+=("engine: $misreported attempts logged \"lease lost\" although they had written their effect and completed their job (false alarm, no data harm): grep -h 'lease lost' $LOGDIR/*.log")
    local result=PASS
    if ((completed != JOBS || lost != 0 || duplicated != 0 || running != 0 || DEATHS != 0)) ||
        [[ ${#FAILURES[@]} -gt 0 ]]; then
        result=FAIL
        FAILED=1
    fi
    local line="$RUN: jobs=$JOBS workers=$WORKERS kills=$KILLED restarts=$RESTARTED deaths=$DEATHS"
    line+=" completed=$completed lost=$lost duplicated=$duplicated stuck_running=$running"
    line+=" retried=$retried rescued=$rescued${extra:+ $extra} elapsed=${elapsed}s $result"
    echo "$line"
    local note
    for note in "${FAILURES[@]}"; do echo "  failure: $note"; done
    for note in "${REMARKS[@]}"; do echo "  note: $note"; done
    VERDICTS+=("$line")
}

# --- run 1: kill-workers -------------------------------------------------------------------
# SIGKILL a random worker every KILL_EVERY seconds (the first one once a quarter of
# the jobs are done, if that comes sooner) and start a new one at once.
run_kill_workers() {
    begin_run kill-workers kw- "$LEASE" "$SLEEP_MS"
    local every_ms last orphaned=0
    every_ms=$(ms "$KILL_EVERY")
    last=$RUN_START
    while poll; ((DONE == 0)); do
        if ((KILLS == 0 || KILLED < KILLS)) &&
            (($(now_ms) - last >= every_ms || (KILLED == 0 && COMPLETED * 4 >= JOBS))); then
            kill_random_worker
            orphaned=$((orphaned + ${KILLED_HELD:-0}))
            start_worker
            say "SIGKILL $KILLED_NAME (pid $KILLED_PID) with ${KILLED_HELD:-?} jobs running; started $LAST_STARTED"
            last=$(now_ms)
        fi
        sleep 0.25
    done
    ((KILLED >= 1)) || FAILURES+=("no worker was killed: the jobs were done first (raise --jobs)")
    finish_run "orphaned=$orphaned"
}

# --- run 2: restart-db ---------------------------------------------------------------------
# Restart i of R happens once i/(R+1) of the jobs are completed.
run_restart_db() {
    begin_run restart-db rd- "$LEASE" "$SLEEP_MS"
    local started down=0 took
    while poll; ((DONE == 0)); do
        if ((RESTARTED < RESTARTS && COMPLETED * (RESTARTS + 1) >= JOBS * (RESTARTED + 1))); then
            say "restarting PostgreSQL (fast shutdown + start) at $COMPLETED of $JOBS jobs completed"
            started=$(now_ms)
            if ! "$DEVDB" restart >"$LOGDIR/restart-$RESTARTED.log" 2>&1 9<&-; then
                FAILURES+=("devdb.sh restart failed: $(tail -n 1 "$LOGDIR/restart-$RESTARTED.log")")
                "$DEVDB" start >/dev/null 2>&1 9<&-
            fi
            took=$(($(now_ms) - started))
            down=$((down + took))
            RESTARTED=$((RESTARTED + 1))
            say "PostgreSQL accepts connections again after $took ms"
        fi
        sleep 0.2
    done
    ((RESTARTED == RESTARTS)) ||
        FAILURES+=("$RESTARTED of $RESTARTS restarts happened before the jobs were done (raise --jobs)")
    local errors
    errors=$(cat "$LOGDIR"/rd-*.log | grep -c 'level=error')
    finish_run "down_ms=$down error_lines=$errors"
}

# --- run 3: stall --------------------------------------------------------------------------
# SIGSTOP a random worker for STALL_SECONDS (longer than its lease), then SIGCONT it;
# the first stall after 2 s or a fifth of the jobs, the next 3 s after each SIGCONT.
run_stall() {
    begin_run stall st- "$STALL_LEASE" "$STALL_SLEEP_MS"
    local stalled=0 held=0 victim="" pid="" stopped_at=0 stall_ms next h
    : >"$LOGDIR/held.txt"
    local -A victims=()
    stall_ms=$(ms "$STALL_SECONDS")
    next=$(($(now_ms) + 2000))
    while poll; ((DONE == 0)); do
        if [[ -n "$victim" ]]; then
            if (($(now_ms) - stopped_at >= stall_ms)); then
                kill -CONT "$pid" 2>/dev/null
                say "SIGCONT $victim after $(($(now_ms) - stopped_at)) ms"
                victim=""
                next=$(($(now_ms) + 3000))
            fi
        elif ((stalled < STALLS)) && (($(now_ms) >= next || (stalled == 0 && COMPLETED * 5 >= JOBS))); then
            victim="$(random_worker)"
            pid="${LIVE[$victim]}"
            kill -STOP "$pid"
            stopped_at=$(now_ms)
            h="$(sql "SELECT leased_by, id, attempt FROM queue.jobs
                      WHERE queue = '$QUEUE' AND state = 'running' AND leased_by = '$victim'")"
            [[ -n "$h" ]] && echo "$h" >>"$LOGDIR/held.txt"
            h=$(grep -c . <<<"$h")
            held=$((held + h))
            stalled=$((stalled + 1))
            victims[$victim]=1
            say "SIGSTOP $victim (pid $pid) holding ${h:-?} running jobs, for ${STALL_SECONDS}s (lease ${STALL_LEASE}s)"
        fi
        sleep 0.2
    done
    if [[ -n "$victim" ]]; then
        # The others finished the jobs while it was stopped: wake it so that it meets
        # its fenced leases before it is stopped.
        while (($(now_ms) - stopped_at < stall_ms)); do sleep 0.2; done
        kill -CONT "$pid" 2>/dev/null
        say "SIGCONT $victim after $(($(now_ms) - stopped_at)) ms (the jobs were done meanwhile)"
        sleep 2
    fi
    # The attempts the stalled workers held when stopped: the ones that did not write
    # their effect were rescued (stale); each must have had its completion refused.
    local files=() name lines=0 stale=0 refused=0
    for name in "${!victims[@]}"; do files+=("$LOGDIR/$name.log"); done
    if ((${#files[@]} > 0)); then
        lost_attempts "${files[@]}" >"$LOGDIR/lost.txt"
        with_effect <"$LOGDIR/held.txt" >"$LOGDIR/held-outcome.txt"
        stale=$(awk '$4 == "f"' "$LOGDIR/held-outcome.txt" | wc -l)
        refused=$(awk '$4 == "f" { print $1, $2, $3 }' "$LOGDIR/held-outcome.txt" | grep -cFxf "$LOGDIR/lost.txt")
        lines=$(fence_lines "${files[@]}")
    fi
    ((stalled >= 1)) || FAILURES+=("no worker was stalled: the jobs were done first (raise --jobs)")
    ((stalled >= STALLS)) || REMARKS+=("$stalled of $STALLS stalls happened before the jobs were done")
    ((stalled == 0 || stale >= 1)) ||
        FAILURES+=("no stalled attempt was rescued ($held held, all completed by the stalled worker): fencing was not exercised (raise --stall-sleep-ms or --stalls)")
    ((refused == stale)) ||
        FAILURES+=("$((stale - refused)) of $stale stale attempts did not log a refused completion or lost lease: see $LOGDIR/held-outcome.txt")
    finish_run "stalls=$stalled held=$held stale=$stale fenced=$refused fence_log_lines=$lines"
}

# --- run 4: payout -------------------------------------------------------------------------
# Loads the platform's demo data set (jobsctl seed) and runs last week's settlement
# payout with `jobsctl payouts run`, worked by PAYOUT_WORKERS queue-worker processes
# (queue payouts, 4 jobs at once each, lease PAYOUT_LEASE). At a random moment every
# 1-2 s something is SIGKILLed: a random worker (a new one is started at once) or,
# one time in three, the jobsctl process; the first kill hits jobsctl 30-330 ms after
# it started, while it creates the run and enqueues the jobs. Whenever jobsctl is gone
# before the run is complete it is run again, as finance would. The kills stop once
# payout_runs says completed; the jobsctl running then writes the report and exits 0.
LINEBUF=""
command -v stdbuf >/dev/null && LINEBUF="stdbuf -oL"
JOBSCTL_PID="" JOBSCTL_N=0 JOBSCTL_LOG="" JOBSCTL_STARTED=0 PERIOD=""

start_jobsctl() {
    JOBSCTL_N=$((JOBSCTL_N + 1))
    JOBSCTL_LOG="$LOGDIR/jobsctl-$JOBSCTL_N.log"
    # Line-buffered, so that its log shows how far it got when it is killed.
    $LINEBUF "$BIN/jobsctl" payouts run --period "$PERIOD" --report "$LOGDIR/report-$JOBSCTL_N.csv" --wait "$TIMEOUT" \
        >"$JOBSCTL_LOG" 2>&1 9<&- &
    JOBSCTL_PID=$!
    JOBSCTL_STARTED=$(now_ms)
    ALL_PIDS+=($!)
    echo $! >>"$CHAOS_DIR/pids"
}

run_completed() { [[ "$(sql "SELECT status FROM platform.payout_runs WHERE period = '$PERIOD'")" == completed ]]; }

# The payout lines the seeded data calls for, one per cleaner with completed orders,
# 5-star reviews with a comment or upheld complaints in the week, computed here from
# the orders, reviews, complaints and rules tables (nothing the run wrote; no
# receivables exist before the first run, so nothing is carried in).
expected_payout_lines() {
    sql "DROP TABLE IF EXISTS chaos_payout_expected;
         CREATE TABLE chaos_payout_expected AS
         WITH done AS (
             SELECT o.cleaner_id, o.paid_fen - o.refunded_fen AS paid, r.rate_bp
             FROM platform.orders AS o JOIN platform.cleaners AS c ON c.id = o.cleaner_id
             JOIN platform.commission_rates AS r ON r.level = c.level
             WHERE o.status = '已完成' AND o.completed_at >= to_timestamp($1) AND o.completed_at < to_timestamp($2)
         ), earned AS (
             SELECT cleaner_id, count(*) AS orders, sum(paid) AS gross,
                    sum((paid * rate_bp + 5000) / 10000) AS commission   -- half up, per order
             FROM done GROUP BY cleaner_id
         ), bonuses AS (
             SELECT o.cleaner_id, count(*) * (SELECT amount_fen FROM platform.payout_rules
                                             WHERE code = 'five_star_review') AS bonus
             FROM platform.reviews AS v JOIN platform.orders AS o ON o.id = v.order_id
             WHERE v.rating = 5 AND NOT queue.is_blank(v.comment) AND o.cleaner_id IS NOT NULL
               AND v.created_at >= to_timestamp($1) AND v.created_at < to_timestamp($2)
             GROUP BY o.cleaner_id
         ), penalties AS (
             SELECT o.cleaner_id, -count(*) * (SELECT amount_fen FROM platform.payout_rules
                                              WHERE code = 'upheld_complaint') AS penalty
             FROM platform.complaints AS k JOIN platform.orders AS o ON o.id = k.order_id
             WHERE k.status = 'upheld' AND o.cleaner_id IS NOT NULL
               AND k.resolved_at >= to_timestamp($1) AND k.resolved_at < to_timestamp($2)
             GROUP BY o.cleaner_id
         ), cleaners AS (
             SELECT cleaner_id FROM earned UNION SELECT cleaner_id FROM bonuses UNION SELECT cleaner_id FROM penalties
         )
         SELECT x.cleaner_id, COALESCE(e.orders, 0)::int8 AS orders, COALESCE(e.gross, 0)::int8 AS gross,
                COALESCE(e.commission, 0)::int8 AS commission, COALESCE(b.bonus, 0)::int8 AS bonus,
                COALESCE(p.penalty, 0)::int8 AS penalty,
                (COALESCE(e.gross, 0) - COALESCE(e.commission, 0) + COALESCE(b.bonus, 0) - COALESCE(p.penalty, 0))::int8 AS net
         FROM cleaners AS x LEFT JOIN earned AS e USING (cleaner_id) LEFT JOIN bonuses AS b USING (cleaner_id)
         LEFT JOIN penalties AS p USING (cleaner_id);
         SELECT count(*), COALESCE(sum(orders), 0), count(*) FILTER (WHERE net <= 0) FROM chaos_payout_expected"
}

# The run's items with their ledger transactions: how many settlement and payout
# transactions reference each, and what the payouts took from platform:cash.
PAYOUT_ITEMS_SQL="
    SELECT i.*,
           (SELECT count(*) FROM platform.ledger_transactions AS t WHERE t.reference = 'settlement:' || i.id) AS n_settle,
           (SELECT count(*) FROM platform.ledger_transactions AS t WHERE t.reference = 'payout:' || i.id) AS n_pay,
           (SELECT COALESCE(sum(e.amount_fen), 0) FROM platform.ledger_transactions AS t
                JOIN platform.ledger_entries AS e ON e.transaction_id = t.id
                JOIN platform.ledger_accounts AS a ON a.id = e.account_id
            WHERE t.reference = 'payout:' || i.id AND a.code = 'platform:cash') AS cash
    FROM platform.payout_items AS i JOIN platform.payout_runs AS r ON r.id = i.run_id"

run_payout() {
    RUN=payout RUN_PREFIX=po- RUN_LEASE="$PAYOUT_LEASE"
    LOGDIR="$CHAOS_DIR/logs/$RUN"
    mkdir -p "$LOGDIR"
    STARTED=0 DEATHS=0 KILLED=0 FAILURES=() REMARKS=() LIVE=()
    local zone="${BUSINESS_TIME_ZONE:-Asia/Shanghai}"
    PERIOD="$(TZ="$zone" date -d '7 days ago' +%G-W%V)"
    echo "$RUN: seeding $PAYOUT_CUSTOMERS customers, $PAYOUT_CLEANERS cleaners, $PAYOUT_ORDERS orders (seed $SEED)"
    if ! "$BIN/jobsctl" seed --customers "$PAYOUT_CUSTOMERS" --cleaners "$PAYOUT_CLEANERS" \
        --orders "$PAYOUT_ORDERS" --seed "$SEED" >"$LOGDIR/seed.log" 2>&1 9<&-; then
        FAILURES+=("jobsctl seed failed: $(tail -n 1 "$LOGDIR/seed.log")")
    fi
    say "$(tail -n 1 "$LOGDIR/seed.log")"
    # The week's bounds from its name: Monday 00:00 to Monday 00:00 in the business zone.
    local bounds start_s end_s expected cleaners=0 orders=0 unpayable=0
    bounds="$(sql "SELECT extract(epoch FROM w)::int8, extract(epoch FROM w + interval '7 days')::int8
                   FROM (SELECT to_date('$PERIOD', 'IYYY-\"W\"IW')::timestamp AT TIME ZONE '$zone' AS w) AS x")"
    read -r start_s end_s <<<"$bounds"
    expected="$(expected_payout_lines "$start_s" "$end_s" | tail -n 1)"
    [[ -n "$expected" ]] && read -r cleaners orders unpayable <<<"$expected"
    echo "$RUN: period $PERIOD: $cleaners cleaners with orders, bonuses or penalties ($unpayable with nothing to pay)," \
        "$orders completed orders; $PAYOUT_WORKERS workers, lease ${RUN_LEASE}s"
    ((cleaners > 0 && orders > 0)) || FAILURES+=("the seeded data has nothing to settle in $PERIOD (raise --payout-orders)")

    local i
    for ((i = 0; i < PAYOUT_WORKERS; i++)); do start_worker; done
    RUN_START=$(now_ms)
    start_jobsctl
    local next=$((RUN_START + 30 + RANDOM % 301)) jobsctl_kills=0 reruns=0 orphaned=0 leader_kills=0
    local now status session progress state="none" paid=0 queued=0 leader="" completed=0
    while :; do
        reap_deaths
        # Progress: the run's status, lines paid, settlement jobs queued, the leader.
        progress="$(sql "SELECT COALESCE((SELECT status FROM platform.payout_runs WHERE period = '$PERIOD'), 'none'),
                                (SELECT count(*) FROM platform.payout_items AS i JOIN platform.payout_runs AS r
                                 ON r.id = i.run_id WHERE r.period = '$PERIOD' AND i.status = 'paid'),
                                (SELECT count(*) FROM queue.jobs WHERE queue = 'payouts' AND kind = 'payout.settle_cleaner'),
                                COALESCE((SELECT holder FROM queue.leaders
                                          WHERE name = 'maintenance' AND expires_at > now()), '-')")"
        [[ -n "$progress" ]] && read -r state paid queued leader <<<"$progress"
        [[ "$state" == completed ]] && completed=1
        if ! alive "$JOBSCTL_PID"; then
            status=0
            wait "$JOBSCTL_PID" 2>/dev/null || status=$?
            if ((status == 0)) && run_completed; then
                break
            elif ((status == 0)); then
                FAILURES+=("jobsctl run $JOBSCTL_N exited 0 although the payout run is not completed; see $JOBSCTL_LOG")
            else
                FAILURES+=("jobsctl run $JOBSCTL_N exited with status $status unasked; see $JOBSCTL_LOG")
                say "JOBSCTL FAILED: run $JOBSCTL_N of the command, exit status $status; its last lines:"
                tail -n 4 "$JOBSCTL_LOG" | cut -c1-400 | sed 's/^/      /'
            fi
            start_jobsctl
            reruns=$((reruns + 1))
            say "re-ran jobsctl payouts run (run $JOBSCTL_N of the command)"
        fi
        now=$(now_ms)
        if ((now - RUN_START > TIMEOUT * 1000)); then
            FAILURES+=("timed out after ${TIMEOUT}s: the payout run is '$state' with $paid of $cleaners lines paid")
            kill -KILL "$JOBSCTL_PID" 2>/dev/null
            wait "$JOBSCTL_PID" 2>/dev/null
            break
        fi
        # A kill every 1-2 s; the first worker kill as soon as a quarter of the lines
        # are paid, if that comes sooner, so that one lands mid-run even when it is short.
        if ((completed == 0)) && ((PAYOUT_KILLS == 0 || KILLED + jobsctl_kills < PAYOUT_KILLS)) &&
            ((now >= next || (KILLED == 0 && jobsctl_kills > 0 && paid * 4 >= cleaners))); then
            if run_completed; then
                completed=1
            elif ((jobsctl_kills == 0 || (KILLED > 0 && RANDOM % 3 == 0))) && alive "$JOBSCTL_PID"; then
                # What its database session was doing just before (active or idle in
                # transaction: inside the transaction that creates the run and its jobs).
                session="$(sql "SELECT COALESCE(string_agg(state, ','), 'not connected') FROM pg_stat_activity
                                WHERE application_name = 'jobsctl' AND pid <> pg_backend_pid()")"
                kill -KILL "$JOBSCTL_PID" 2>/dev/null
                wait "$JOBSCTL_PID" 2>/dev/null
                jobsctl_kills=$((jobsctl_kills + 1))
                say "SIGKILL jobsctl (run $JOBSCTL_N of the command, pid $JOBSCTL_PID, $((now - JOBSCTL_STARTED)) ms" \
                    "after its start; session ${session:-?}) with the run '$state', $queued settlement jobs queued," \
                    "$paid of $cleaners lines paid"
                start_jobsctl
                reruns=$((reruns + 1))
                say "re-ran jobsctl payouts run (run $JOBSCTL_N of the command)"
            else
                kill_random_worker
                orphaned=$((orphaned + ${KILLED_HELD:-0}))
                local role=""
                [[ "$KILLED_NAME" == "$leader" ]] && role=" (the leader)" && leader_kills=$((leader_kills + 1))
                start_worker
                say "SIGKILL $KILLED_NAME$role (pid $KILLED_PID) with ${KILLED_HELD:-?} payout jobs running, $paid of $cleaners lines paid;" \
                    "started $LAST_STARTED"
            fi
            next=$((now + 1000 + RANDOM % 1001))
        fi
        sleep 0.2
    done
    local elapsed=$((($(now_ms) - RUN_START + 500) / 1000))
    local last=$JOBSCTL_N
    say "jobsctl run $last: $(grep -m 1 '^period' "$JOBSCTL_LOG")"
    reap_deaths
    stop_workers
    check_payout "$start_s" "$end_s" "$cleaners" "$orders" "$last" "$elapsed" "$jobsctl_kills" "$reruns" "$orphaned" \
        "$leader_kills"
}

check_payout() {
    local start_s="$1" end_s="$2" cleaners="$3" orders="$4" last="$5" elapsed="$6" jobsctl_kills="$7" reruns="$8"
    local orphaned="$9" leader_kills="${10}"
    local figures
    figures="$(sql "
        WITH r AS (SELECT * FROM platform.payout_runs WHERE period = '$PERIOD'),
        i AS ($PAYOUT_ITEMS_SQL WHERE r.period = '$PERIOD'),
        o AS (SELECT o.id, o.cleaner_id, s.payout_item_id,
                     o.status = '已完成' AND o.completed_at >= to_timestamp($start_s) AND o.completed_at < to_timestamp($end_s) AS due
              FROM platform.orders AS o LEFT JOIN platform.order_settlements AS s ON s.order_id = o.id),
        x AS (SELECT * FROM chaos_payout_expected)
        SELECT (SELECT count(*) FROM r),
               COALESCE((SELECT status FROM r), 'missing'),
               COALESCE((SELECT period_start = to_timestamp($start_s) AND period_end = to_timestamp($end_s) FROM r), false),
               (SELECT count(*) FROM i),
               (SELECT count(*) FROM x WHERE NOT EXISTS (SELECT 1 FROM i WHERE i.cleaner_id = x.cleaner_id)),
               (SELECT count(*) FROM i WHERE NOT EXISTS (SELECT 1 FROM x WHERE x.cleaner_id = i.cleaner_id)),
               (SELECT count(*) FROM i JOIN x USING (cleaner_id)
                WHERE (i.orders::int8, i.gross_fen, i.commission_fen, i.bonus_fen, i.penalty_fen, i.carried_in_fen,
                       i.net_fen, i.payable_fen, i.carry_out_fen)
                      IS DISTINCT FROM (x.orders, x.gross, x.commission, x.bonus, x.penalty, 0::int8,
                       x.net, GREATEST(x.net, 0), GREATEST(-x.net, 0))),
               (SELECT count(*) FROM i WHERE n_settle = 1),
               (SELECT count(*) FROM i WHERE status = 'paid'
                  AND ((payable_fen > 0 AND n_pay = 1 AND cash = -payable_fen) OR (payable_fen = 0 AND n_pay = 0))),
               (SELECT COALESCE(sum(GREATEST(n_pay - (payable_fen > 0)::int, 0)), 0) FROM i),
               (SELECT count(*) FROM i WHERE n_pay >= 1 AND cash <> -payable_fen),
               (SELECT count(*) FROM i WHERE status <> 'paid'),
               (SELECT count(*) FROM o WHERE due),
               (SELECT count(*) FROM o JOIN i ON i.id = o.payout_item_id
                WHERE o.due AND i.cleaner_id = o.cleaner_id AND i.n_settle = 1),
               (SELECT count(*) FROM o WHERE due AND (payout_item_id IS NULL
                    OR payout_item_id NOT IN (SELECT id FROM i))),
               (SELECT count(*) FROM o JOIN i ON i.id = o.payout_item_id WHERE NOT o.due OR i.cleaner_id <> o.cleaner_id),
               (SELECT COALESCE(sum(orders), 0) FROM i) - (SELECT count(*) FROM o JOIN i ON i.id = o.payout_item_id),
               (SELECT count(*) FROM (SELECT transaction_id FROM platform.ledger_entries
                                      GROUP BY transaction_id HAVING sum(amount_fen) <> 0) AS u),
               (SELECT count(*) FROM platform.ledger_transactions AS t WHERE t.kind IN ('settlement', 'payout')
                  AND NOT EXISTS (SELECT 1 FROM i WHERE t.reference IN ('settlement:' || i.id, 'payout:' || i.id))),
               (SELECT -COALESCE(sum(cash), 0) FROM i)")"
    local runs=0 status=missing bounds_ok=f items=0 skipped=0 extra=0 wrong_lines=0 settled_items=0 paid_once=0
    local double_paid=0 wrong_amount=0 unpaid=0 due=0 settled_once=0 unsettled=0 stray=0 miscounted=0
    local unbalanced=0 stray_tx=0 paid_ledger=0
    if [[ -n "$figures" ]]; then
        read -r runs status bounds_ok items skipped extra wrong_lines settled_items paid_once double_paid wrong_amount \
            unpaid due settled_once unsettled stray miscounted unbalanced stray_tx paid_ledger <<<"$figures"
    else
        FAILURES+=("could not read the end state from the database")
    fi
    ((runs == 1)) || FAILURES+=("$runs payout runs for $PERIOD")
    [[ "$status" == completed ]] || FAILURES+=("the payout run's status is '$status'")
    [[ "$bounds_ok" == t ]] || FAILURES+=("the run's period_start/period_end are not Monday to Monday of $PERIOD in ${BUSINESS_TIME_ZONE:-Asia/Shanghai}")
    ((items == cleaners && skipped == 0 && extra == 0)) ||
        FAILURES+=("$items lines for $cleaners cleaners with something to settle: $skipped skipped, $extra unexpected")
    ((due == orders)) || FAILURES+=("$due completed orders in the week now, $orders before the run")
    ((wrong_lines == 0)) || FAILURES+=("$wrong_lines lines differ from the figures computed from the orders, reviews and complaints")
    ((settled_items == items)) || FAILURES+=("$((items - settled_items)) lines without exactly one settlement:<item> transaction")
    ((paid_once == items)) || FAILURES+=("$((items - paid_once)) lines not paid exactly once (paid status, one payout:<item> transaction of payable_fen when payable_fen > 0, none otherwise)")
    ((double_paid == 0)) || FAILURES+=("$double_paid payout transactions beyond one per line with something to pay")
    ((wrong_amount == 0)) || FAILURES+=("$wrong_amount payout transactions whose platform:cash entry is not -payable_fen")
    ((unpaid == 0)) || FAILURES+=("$unpaid lines not marked paid")
    ((settled_once == due && unsettled == 0)) ||
        FAILURES+=("$settled_once of $due completed orders of the week settled by a line of this run; $unsettled not")
    ((stray == 0)) || FAILURES+=("$stray orders settled by this run are not completed orders of the week of the line's cleaner")
    ((miscounted == 0)) || FAILURES+=("the lines' order counts differ from the orders they settled by $miscounted")
    ((unbalanced == 0)) || FAILURES+=("$unbalanced ledger transactions do not sum to zero")
    ((stray_tx == 0)) || FAILURES+=("$stray_tx settlement or payout transactions reference no line of this run")

    local jobs settle_jobs=0 unfinished=0 retried=0 rescued=0
    jobs="$(sql "SELECT count(*) FILTER (WHERE kind = 'payout.settle_cleaner'), count(*) FILTER (WHERE state <> 'completed'),
                        count(*) FILTER (WHERE attempt > 1), count(*) FILTER (WHERE errors::text LIKE '%lease expired%')
                 FROM queue.jobs WHERE queue = 'payouts'")"
    [[ -n "$jobs" ]] && read -r settle_jobs unfinished retried rescued <<<"$jobs"
    ((settle_jobs == items)) || FAILURES+=("$settle_jobs settlement jobs for $items lines")
    ((unfinished == 0)) || FAILURES+=("$unfinished jobs on queue payouts are not completed: jobsctl jobs list --queue payouts")

    # The provider: every line with something to pay was sent under its key
    # "payout-<item>"; a key sent more than once is a retry after a kill between the
    # transfer and its commit (the provider refuses the second by the key).
    local sent calls=0 keys=0 unsent=0 unknown=0
    grep -h 'payout sent (console)' "$LOGDIR"/po-*.log 2>/dev/null |
        sed -n 's/.*idempotency_key=\([^ ]*\).*/\1/p' | tr -d '"' | sort >"$LOGDIR/provider-keys.txt"
    calls=$(wc -l <"$LOGDIR/provider-keys.txt")
    keys=$(uniq <"$LOGDIR/provider-keys.txt" | wc -l)
    sql "SELECT 'payout-' || id FROM ($PAYOUT_ITEMS_SQL WHERE r.period = '$PERIOD') AS i WHERE payable_fen > 0" |
        sort >"$LOGDIR/payable-keys.txt"
    unsent=$(comm -13 <(uniq "$LOGDIR/provider-keys.txt") "$LOGDIR/payable-keys.txt" | wc -l)
    unknown=$(comm -23 <(uniq "$LOGDIR/provider-keys.txt") "$LOGDIR/payable-keys.txt" | wc -l)
    ((unsent == 0)) || FAILURES+=("$unsent lines with something to pay were never sent to the provider: see $LOGDIR/payable-keys.txt")
    ((unknown == 0)) || FAILURES+=("$unknown provider keys belong to no line with something to pay: see $LOGDIR/provider-keys.txt")

    # The report of the last jobsctl: one row per line plus TOTAL (last), every row
    # equal to its line, and a paid total equal to what the payouts took from cash.
    local report="$LOGDIR/report-$last.csv" checked rows=0 totals=0 distinct=0 matching=0 total_paid=-1
    local rows_paid=0 adds_up=f as_expected=f differing=0
    if [[ -s "$report" ]]; then
        [[ "$(tail -n 1 "$report" | cut -d, -f1)" == TOTAL ]] || FAILURES+=("the report's last row is not TOTAL: $report")
        sql "DROP TABLE IF EXISTS chaos_payout_report;
             CREATE TABLE chaos_payout_report (cleaner_id text, cleaner_name text, level text, orders int8,
                 gross_fen int8, commission_fen int8, bonus_fen int8, penalty_fen int8, carried_in_fen int8,
                 net_fen int8, paid_fen int8, carry_out_fen int8)" >/dev/null
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" \
            -c "\\copy chaos_payout_report FROM '$report' WITH (FORMAT csv, HEADER true)" >"$LOGDIR/report-load.log" 2>&1 ||
            FAILURES+=("the report does not load as CSV: $(tail -n 1 "$LOGDIR/report-load.log")")
        checked="$(sql "
            WITH rep AS (SELECT * FROM chaos_payout_report WHERE cleaner_id <> 'TOTAL'),
            tot AS (SELECT * FROM chaos_payout_report WHERE cleaner_id = 'TOTAL'),
            i AS ($PAYOUT_ITEMS_SQL WHERE r.period = '$PERIOD'),
            s AS (SELECT sum(orders) AS orders, sum(gross_fen) AS gross, sum(commission_fen) AS commission,
                         sum(bonus_fen) AS bonus, sum(penalty_fen) AS penalty, sum(carried_in_fen) AS carried_in,
                         sum(net_fen) AS net, sum(paid_fen) AS paid, sum(carry_out_fen) AS carry_out FROM rep),
            x AS (SELECT sum(orders) AS orders, sum(gross) AS gross, sum(commission) AS commission, sum(bonus) AS bonus,
                         sum(penalty) AS penalty, sum(GREATEST(net, 0)) AS paid FROM chaos_payout_expected)
            SELECT (SELECT count(*) FROM rep), (SELECT count(*) FROM tot), (SELECT count(DISTINCT cleaner_id) FROM rep),
                   (SELECT count(*) FROM rep JOIN i ON i.cleaner_id::text = rep.cleaner_id
                    WHERE (rep.orders, rep.gross_fen, rep.commission_fen, rep.bonus_fen, rep.penalty_fen,
                           rep.carried_in_fen, rep.net_fen, rep.paid_fen, rep.carry_out_fen)
                        = (i.orders::int8, i.gross_fen, i.commission_fen, i.bonus_fen, i.penalty_fen,
                           i.carried_in_fen, i.net_fen, i.payable_fen, i.carry_out_fen)),
                   COALESCE((SELECT paid_fen FROM tot LIMIT 1), -1), COALESCE((SELECT paid FROM s), 0),
                   COALESCE((SELECT (t.orders, t.gross_fen, t.commission_fen, t.bonus_fen, t.penalty_fen,
                                     t.carried_in_fen, t.net_fen, t.paid_fen, t.carry_out_fen)
                                  = (s.orders, s.gross, s.commission, s.bonus, s.penalty, s.carried_in, s.net, s.paid,
                                     s.carry_out) FROM tot AS t, s LIMIT 1), false),
                   COALESCE((SELECT (t.orders, t.gross_fen, t.commission_fen, t.bonus_fen, t.penalty_fen, t.paid_fen)
                                  = (x.orders, x.gross, x.commission, x.bonus, x.penalty, x.paid)
                             FROM tot AS t, x LIMIT 1), false)")"
        [[ -n "$checked" ]] && read -r rows totals distinct matching total_paid rows_paid adds_up as_expected <<<"$checked"
        ((rows == items && distinct == rows && matching == rows)) ||
            FAILURES+=("the report has $rows rows ($distinct cleaners, $matching equal to their line) for $items lines")
        ((totals == 1)) || FAILURES+=("the report has $totals TOTAL rows")
        ((total_paid == paid_ledger)) ||
            FAILURES+=("the report's paid total is $total_paid fen; the payouts took $paid_ledger fen from platform:cash")
        [[ "$adds_up" == t ]] || FAILURES+=("the report's TOTAL row is not the sum of its rows")
        [[ "$as_expected" == t ]] ||
            FAILURES+=("the report's totals differ from gross, commission, bonuses, penalties and paid computed from the seeded data")
        # Every report an earlier jobsctl wrote (one killed between writing and exiting) is the same.
        local other
        for other in "$LOGDIR"/report-*.csv; do
            [[ "$other" == "$report" ]] || cmp -s "$other" "$report" || differing=$((differing + 1))
        done
        ((differing == 0)) || FAILURES+=("$differing reports of earlier jobsctl runs differ from the last one")
    else
        FAILURES+=("the last jobsctl (run $last of the command) wrote no report at $report")
    fi

    ((KILLED >= 1 || PAYOUT_KILLS == 1)) ||
        FAILURES+=("no worker was killed: the run was complete first (raise --payout-cleaners)")
    ((jobsctl_kills >= 1)) || REMARKS+=("jobsctl was never killed")
    local result=PASS
    if ((DEATHS != 0)) || [[ ${#FAILURES[@]} -gt 0 ]]; then
        result=FAIL
        FAILED=1
    fi
    local line="$RUN: period=$PERIOD cleaners=$cleaners orders=$orders kills=$((KILLED + jobsctl_kills))"
    line+=" jobsctl_kills=$jobsctl_kills leader_kills=$leader_kills reruns=$reruns deaths=$DEATHS items=$items paid_once=$paid_once"
    line+=" settled_once=$settled_once unbalanced=$unbalanced double_paid=$double_paid skipped=$((skipped + unsettled))"
    line+=" retried=$retried rescued=$rescued orphaned=$orphaned provider_repeats=$((calls - keys)) report_rows=$rows"
    line+=" paid_fen=$paid_ledger elapsed=${elapsed}s $result"
    echo "$line"
    local note
    for note in "${FAILURES[@]}"; do echo "  failure: $note"; done
    for note in "${REMARKS[@]}"; do echo "  note: $note"; done
    VERDICTS+=("$line")
}

for run in "${RUNS[@]}"; do
    case "$run" in
        kill-workers) run_kill_workers ;;
        restart-db) run_restart_db ;;
        stall) run_stall ;;
        payout) run_payout ;;
    esac
done

echo
echo "chaos: verdicts (worker logs in $CHAOS_DIR/logs)"
for line in "${VERDICTS[@]}"; do echo "$line"; done
exit "$FAILED"
