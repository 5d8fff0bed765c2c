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
# workers while the fault is injected, and `queue-testbed verdict` judges the end
# state from the database: every job completed, each effect exactly once, no job
# left running; in stall, every stale attempt counted as fenced in the stalled
# workers' /metrics (queue_worker_fenced_outcomes_total). The payout run is judged
# by `jobsctl payouts audit`: the run against lines recomputed from the seeded
# orders, reviews and complaints, the ledger (balanced, one settlement per line, one
# payout per line with something to pay), every completed order of the week settled
# once, and every report a jobsctl wrote equal to the run's. This script only
# orchestrates: cluster, processes, faults; each run prints a one-line verdict.
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
declare -A LIVE=()  # worker name -> pid, for the workers of the current run
declare -A PORTS=() # testbed worker name -> its metrics port

# A loopback port nothing listens on (for a worker's --metrics-port).
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

# Saves worker $1's /metrics (Prometheus text) to file $2, for the verdict program.
save_metrics() {
    (exec 3<>"/dev/tcp/127.0.0.1/${PORTS[$1]}" && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && timeout 10 cat <&3) \
        >"$2" 2>/dev/null || FAILURES+=("could not read the /metrics of $1 (port ${PORTS[$1]})")
}
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
        PORTS[$name]="$(free_port)"
        "$BIN/queue-testbed" work --queues "$QUEUE" --concurrency "$CONCURRENCY" --lease "$RUN_LEASE" \
            --poll-interval 0.5 --grace 10 --worker-id "$name" --metrics-port "${PORTS[$name]}" \
            >"$LOGDIR/$name.log" 2>&1 9<&- &
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

VERDICTS=()
FAILED=0

# Stops the workers and prints the verdict line: the run's own figures (argument
# 1), then `queue-testbed verdict`'s, judged from the database (and the stalled
# workers' metrics: the remaining arguments are passed on to it).
finish_run() {
    local extra="$1"
    shift
    local elapsed=$((($(now_ms) - RUN_START + 500) / 1000))
    reap_deaths
    stop_workers
    local output status=0 figures result=PASS
    output="$("$BIN/queue-testbed" verdict --queue "$QUEUE" --jobs "$JOBS" "$@" 2>&1)" || status=$?
    figures="$(head -n 1 <<<"$output")"
    figures="${figures% PASS}"
    figures="${figures% FAIL}"
    if ((status != 0 || DEATHS != 0)) || [[ ${#FAILURES[@]} -gt 0 ]]; then
        result=FAIL
        FAILED=1
    fi
    local line="$RUN: jobs=$JOBS workers=$WORKERS kills=$KILLED restarts=$RESTARTED deaths=$DEATHS"
    line+=" $figures${extra:+ $extra} elapsed=${elapsed}s $result"
    echo "$line"
    tail -n +2 <<<"$output"
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
    finish_run "down_ms=$down"
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
    ((stalled >= 1)) || FAILURES+=("no worker was stalled: the jobs were done first (raise --jobs)")
    ((stalled >= STALLS)) || REMARKS+=("$stalled of $STALLS stalls happened before the jobs were done")
    # The verdict judges the attempts they held by the effect rows and the fenced
    # outcomes the stalled workers counted.
    local verdict_args=() name
    if ((stalled >= 1)); then
        verdict_args+=(--held "$LOGDIR/held.txt")
        for name in "${!victims[@]}"; do
            save_metrics "$name" "$LOGDIR/$name.metrics"
            verdict_args+=(--metrics "$LOGDIR/$name.metrics")
        done
    fi
    finish_run "stalls=$stalled" "${verdict_args[@]}"
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

# A figure NAME=VALUE of a verdict program's first output line ($2).
figure() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2" | head -n 1; }

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
    # What the week calls for, from the audit before there is a run (it fails then).
    local before cleaners orders
    before="$("$BIN/jobsctl" payouts audit --period "$PERIOD" 2>/dev/null 9<&- | head -n 1)"
    cleaners="$(figure expected "$before")" orders="$(figure due_orders "$before")"
    echo "$RUN: period $PERIOD: ${cleaners:-?} cleaners with orders, bonuses or penalties," \
        "${orders:-?} completed orders; $PAYOUT_WORKERS workers, lease ${RUN_LEASE}s"
    ((${cleaners:-0} > 0 && ${orders:-0} > 0)) ||
        FAILURES+=("the seeded data has nothing to settle in $PERIOD (raise --payout-orders)")
    cleaners="${cleaners:-0}"

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
    check_payout "$last" "$elapsed" "$jobsctl_kills" "$reruns" "$orphaned" "$leader_kills"
}

# The verdict: `jobsctl payouts audit` checks the run against lines it recomputes
# from the seeded data, the ledger and every report a jobsctl wrote; the jobs on
# queue payouts must all be completed, one per line.
check_payout() {
    local last="$1" elapsed="$2" jobsctl_kills="$3" reruns="$4" orphaned="$5" leader_kills="$6"
    local reports=() report output status=0 figures
    [[ -s "$LOGDIR/report-$last.csv" ]] ||
        FAILURES+=("the last jobsctl (run $last of the command) wrote no report at $LOGDIR/report-$last.csv")
    for report in "$LOGDIR"/report-*.csv; do [[ -e "$report" ]] && reports+=(--report "$report"); done
    output="$("$BIN/jobsctl" payouts audit --period "$PERIOD" "${reports[@]}" 2>&1 9<&-)" || status=$?
    figures="$(head -n 1 <<<"$output")"
    figures="${figures#period=* }"
    figures="${figures% PASS}"
    figures="${figures% FAIL}"
    ((status == 0)) || FAILURES+=("jobsctl payouts audit: FAIL (exit status $status)")

    local jobs items settle_jobs=0 unfinished=0 retried=0 with_errors=0
    items="$(figure items "$figures")"
    jobs="$(sql "SELECT count(*) FILTER (WHERE kind = 'payout.settle_cleaner'), count(*) FILTER (WHERE state <> 'completed'),
                        count(*) FILTER (WHERE attempt > 1), count(*) FILTER (WHERE jsonb_array_length(errors) > 0)
                 FROM queue.jobs WHERE queue = 'payouts'")"
    [[ -n "$jobs" ]] && read -r settle_jobs unfinished retried with_errors <<<"$jobs"
    ((settle_jobs == ${items:--1})) || FAILURES+=("$settle_jobs settlement jobs for ${items:-?} lines")
    ((unfinished == 0)) || FAILURES+=("$unfinished jobs on queue payouts are not completed: jobsctl jobs list --queue payouts")
    ((KILLED >= 1 || PAYOUT_KILLS == 1)) ||
        FAILURES+=("no worker was killed: the run was complete first (raise --payout-cleaners)")
    ((jobsctl_kills >= 1)) || REMARKS+=("jobsctl was never killed")
    local result=PASS
    if ((DEATHS != 0)) || [[ ${#FAILURES[@]} -gt 0 ]]; then
        result=FAIL
        FAILED=1
    fi
    local line="$RUN: period=$PERIOD cleaners=$cleaners orders=$orders kills=$((KILLED + jobsctl_kills))"
    line+=" jobsctl_kills=$jobsctl_kills leader_kills=$leader_kills reruns=$reruns deaths=$DEATHS $figures"
    line+=" retried=$retried with_errors=$with_errors orphaned=$orphaned reports=$((${#reports[@]} / 2))"
    line+=" elapsed=${elapsed}s $result"
    echo "$line"
    tail -n +2 <<<"$output"
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
