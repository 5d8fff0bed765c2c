#!/usr/bin/env bash
# The queue benchmark against one server and against a Citus cluster in the same run
# (issue 22, point 6): `bench queue adapter` (bulk enqueue, then one worker process
# draining the jobs with concurrency C) on a private single server and on a private
# Citus cluster (scripts/citus.sh: a coordinator and two worker nodes on this machine,
# the schema distributed), alternating the two targets REPEAT times, each run on an
# emptied queue.jobs. Prints each run's JSON line, then per target the median processing
# rate, the time per job, the Citus overhead per job, and the CPU time each server
# (one server; coordinator and worker nodes) spent per job. The model these figures feed:
# docs/scaling.md, "Citus".
#
#   scripts/bench-citus.sh [--jobs N] [--concurrency C] [--repeat R] [--bin DIR]
#
# Defaults: 10000 jobs, concurrency 16, 3 repetitions, the release binaries of
# `swift build -c release`. Needs Citus installed (../shared/citus/build.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
JOBS=10000 CONCURRENCY=16 REPEAT=3 BIN=""
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
number() { [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "bench-citus: $1 needs a positive whole number" >&2; exit 64; }; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --jobs) number "$1" "${2:-}"; JOBS="$2"; shift 2 ;;
        --concurrency) number "$1" "${2:-}"; CONCURRENCY="$2"; shift 2 ;;
        --repeat) number "$1" "${2:-}"; REPEAT="$2"; shift 2 ;;
        --bin) BIN="${2:?--bin needs a folder}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-citus: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
done
[[ -n "$BIN" ]] || BIN="$(swift build -c release --show-bin-path)"
for tool in bench jobsctl; do
    [[ -x "$BIN/$tool" ]] || { echo "bench-citus: $BIN/$tool not built; run swift build -c release" >&2; exit 1; }
done
scripts/citus.sh installed ||
    { echo "bench-citus: Citus is not installed; run ../shared/citus/build.sh as root" >&2; exit 1; }

# Both under git-ignored .devdb-*/ folders, removed on exit.
export CITUS_DIR="$ROOT/.devdb-bench-citus"
SINGLE_DIR="$ROOT/.devdb-bench-single"
cleanup() {
    scripts/citus.sh stop >/dev/null 2>&1 || true
    DEVDB_DIR="$SINGLE_DIR" scripts/devdb.sh destroy >/dev/null 2>&1 || true
}
cleanup
trap cleanup EXIT
SINGLE_URL="$(DEVDB_DIR="$SINGLE_DIR" scripts/devdb.sh start)"
CITUS_URL="$(scripts/citus.sh start)"
for url in "$SINGLE_URL" "$CITUS_URL"; do
    "$BIN/jobsctl" migrate --database-url "$url" --migrations "$ROOT/sql" >/dev/null
done
scripts/citus.sh distribute
# The benchmark's jobs are on queue 'default': one shard, on one worker node.
shard_port="$(psql -XAtq -v ON_ERROR_STOP=1 "$CITUS_URL" -c "SELECT nodeport FROM pg_dist_shard_placement
    WHERE shardid = get_shard_id_for_distribution_column('queue.jobs', 'default')")"
for name in worker1 worker2; do
    if [[ "$(DEVDB_DIR="$CITUS_DIR/$name" scripts/devdb.sh url)" == *":$shard_port/"* ]]; then
        echo "bench-citus: the benchmark's queue 'default' is on $name"
    fi
done

# CPU time (clock ticks) a node's server has used: its postmaster, the children it has
# reaped (backends that ended) and the children alive now. The node's data folder is
# DIR/data, or where DIR/datadir says (scripts/devdb.sh run as root).
server_ticks() {
    local data="$1/data"
    [[ -f "$1/datadir" ]] && data="$(cat "$1/datadir")"
    python3 - "$(head -1 "$data/postmaster.pid")" <<'EOF'
import os, sys
postmaster = sys.argv[1]
def fields(pid):  # /proc/PID/stat after the command name: state, ppid, …, utime at [11]
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()
total = sum(int(value) for value in fields(postmaster)[11:15])
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        child = fields(pid)
    except OSError:
        continue
    if child[1] == postmaster:
        total += int(child[11]) + int(child[12])
print(total)
EOF
}
nodes_ticks() {
    local dir
    for dir in "$@"; do server_ticks "$dir"; done | paste -sd' '
}

RESULTS="$(mktemp)" CPU="$(mktemp)"
trap 'rm -f "$RESULTS" "$CPU"; cleanup' EXIT
export MIGRATIONS_DIR="$ROOT/sql" N="$JOBS" CONCURRENCY LAT_SAMPLES=0
echo "bench-citus: $JOBS jobs, concurrency $CONCURRENCY, $REPEAT repetitions; load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((run = 1; run <= REPEAT; run++)); do
    for target in single citus; do
        url="$SINGLE_URL" nodes=("$SINGLE_DIR")
        [[ "$target" == citus ]] && url="$CITUS_URL" nodes=("$CITUS_DIR"/{coordinator,worker1,worker2})
        psql -XAtq -v ON_ERROR_STOP=1 "$url" -c "TRUNCATE queue.jobs" >/dev/null
        before="$(nodes_ticks "${nodes[@]}")"
        line="$(PGURL="$url" "$BIN/bench" queue adapter 2>/dev/null)"
        after="$(nodes_ticks "${nodes[@]}")"
        echo "$target $run $line"
        echo "$target $line" >>"$RESULTS"
        echo "$target $before $after" >>"$CPU"
    done
done
echo "bench-citus: load after the runs $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RESULTS" "$CPU" "$JOBS" <<'EOF'
import json, os, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    target, _, payload = line.partition(" ")
    result = json.loads(payload)
    if not result.get("verified"):
        sys.exit(f"bench-citus: a {target} run did not process every job exactly once: {payload.strip()}")
    runs.setdefault(target, []).append(result)
rates = {t: statistics.median(r["process_jobs_per_s"] for r in rs) for t, rs in runs.items()}
enqueue = {t: statistics.median(r["enqueue_jobs_per_s"] for r in rs) for t, rs in runs.items()}
print(f"{'target':8} {'processing jobs/s':>18} {'ms per job':>11} {'enqueue jobs/s':>15}")
for target in ("single", "citus"):
    print(f"{target:8} {rates[target]:18.0f} {1000 / rates[target]:11.3f} {enqueue[target]:15.0f}")
print(f"Citus overhead per processed job: {1000 / rates['citus'] - 1000 / rates['single']:.3f} ms "
      f"(processing at {rates['citus'] / rates['single']:.0%} of one server)")
# CPU per job of each server over a whole run (enqueue and processing), median of the runs.
tick_ms, jobs = 1000 / os.sysconf("SC_CLK_TCK"), int(sys.argv[3])
names = {"single": ["server"], "citus": ["coordinator", "worker1", "worker2"]}
spent = {}
for line in open(sys.argv[2]):
    target, *ticks = line.split()
    half = len(ticks) // 2
    for name, before, after in zip(names[target], ticks[:half], ticks[half:]):
        spent.setdefault((target, name), []).append((int(after) - int(before)) * tick_ms / jobs)
print("server CPU per job (enqueue + processing), ms: " + ", ".join(
    f"{target} {name} {statistics.median(values):.3f}" for (target, name), values in spent.items()))
citus_total = sum(statistics.median(spent["citus", name]) for name in names["citus"])
print(f"  Citus nodes together {citus_total:.3f} ms against one server's "
      f"{statistics.median(spent['single', 'server']):.3f} ms")
EOF
