"""The command line of the chaos runs: sizes, faults, folders."""

import dataclasses
import re

RUNS = ("kill-workers", "restart-db", "stall", "payout", "terminate-backends", "max-connections",
        "idle-in-transaction", "snapshot-reader", "wal-full")
# With --citus: the runs that hold on a Citus cluster, and its default; restart-node only
# there (restart-db would restart the coordinator; the second series is about one
# server's sessions and WAL).
CITUS_RUNS = ("kill-workers", "stall", "restart-node", "payout")

HELP = """\
Usage: scripts/chaos.sh [OPTIONS] [RUN ...]      (default: every run; with --citus:
                                                 kill-workers stall restart-node payout)

Fault-injection runs: real worker processes (queue-testbed; queue-worker and jobsctl
in payout) against a private PostgreSQL cluster under .chaos/ (with --citus: a Citus
cluster, a coordinator and two worker nodes, the schema distributed), while faults
are injected.

Runs:
  kill-workers  SIGKILL a random worker every few seconds and start a new one
  restart-db    restart the PostgreSQL server (fast shutdown + start) during the run;
                workers must reconnect by themselves, and none may die
  stall         SIGSTOP a worker for longer than its lease, then SIGCONT it; the
                others rescue its jobs and its stale completions must be fenced out
  payout        a settlement payout run (`jobsctl payouts run`) on seeded platform
                data, worked by `queue-worker --queues payouts=4` processes; every
                1-2 s SIGKILL a random worker (and sometimes the jobsctl process),
                start a new one, and re-run jobsctl whenever it is gone before the
                run is complete, as finance would
  restart-node  (--citus only) restart the worker node holding the run queue's shard
                (fast shutdown + start) once half the jobs are done: work on its shard
                waits while it is down and resumes, nothing lost or run twice

Second series (the database side):
  terminate-backends   pg_terminate_backend on random server processes of the
                workers (pool and LISTEN connections) every few seconds; workers
                reconnect by themselves, none may die, each LISTENs again at the end
  max-connections      another client takes every connection the server has
                (max_connections) and the workers' own are terminated; for
                --exhaust-seconds the server refuses new connections as they free
                up, then the client lets go: each worker must count one outage
                (queue_worker_database_outages_total: one log line as it begins, one
                as it ends) and finish the jobs
  idle-in-transaction  --rate jobs enqueued every second; after --calm-seconds a session
                goes idle in transaction for --hold-seconds, holding back vacuum:
                claim time and dead tuples are sampled before, during and after
                (then VACUUM); the session under idle_in_transaction_session_timeout
                is checked to be ended by the server
  snapshot-reader      the same with a REPEATABLE READ transaction that keeps reading
                (a long report) instead of the idle session
  wal-full      a cluster of its own whose pg_wal lies on a small tmpfs (needs root
                to mount it); the tmpfs is filled during the run until PostgreSQL
                PANICs, then space is freed and the server started again

The effect runs (all but payout) work testbed.effect jobs (each records one row in
testbed_effects in the transaction that completes it) and `queue-testbed verdict`
judges the end state from the database: every job completed, each effect exactly
once, no job left running; in stall, every stale attempt counted as fenced in the
stalled workers' /metrics (queue_worker_fenced_outcomes_total). The payout run is
judged by `jobsctl payouts audit` (lines recomputed from the seeded data, the ledger
balanced, one settlement and one payout per line, every report equal to the run's).

Options (environment variable in brackets):
  --citus              run against a Citus cluster (scripts/citus.sh; needs Citus
                       installed: ../shared/citus/build.sh); runs kill-workers, stall,
                       restart-node and payout                         [CHAOS_CITUS=1]
  --small              CI sizes: 3000 jobs, 1 kill, 1 restart, 1 stall; payout with
                       100 cleaners; 5 s without connections; holds of 15 s at 150
                       jobs/s (about three minutes in all)
  --jobs N             jobs per run (default 50000)                    [CHAOS_JOBS]
  --workers N          worker processes (default 4)                    [CHAOS_WORKERS]
  --concurrency N      jobs at once per worker (default 10)            [CHAOS_CONCURRENCY]
  --sleep-ms N         each job's sleep, so faults land mid-job (default 5) [CHAOS_SLEEP_MS]
  --lease S            lease of kill-workers and restart-db (default 5)     [CHAOS_LEASE]
  --kill-every S       seconds between kills (default 3)               [CHAOS_KILL_EVERY]
  --kills N            most kills (default 0: until the jobs are done) [CHAOS_KILLS]
  --restarts N         database restarts (default 2)                   [CHAOS_RESTARTS]
  --stalls N           SIGSTOP/SIGCONT cycles (default 3)              [CHAOS_STALLS]
  --stall-lease S      lease in the stall run (default 2)              [CHAOS_STALL_LEASE]
  --stall-seconds S    how long the worker stays stopped (default 6)   [CHAOS_STALL_SECONDS]
  --stall-sleep-ms N   each job's sleep in the stall run, so that the stopped worker
                       holds a full set of jobs (default 50)          [CHAOS_STALL_SLEEP_MS]
  --payout-cleaners N  cleaners in the payout run's data set (default 3000) [CHAOS_PAYOUT_CLEANERS]
  --payout-orders N    orders, spread over 97 days: about 6.5% of them are completed
                       orders of last week (default 100000)          [CHAOS_PAYOUT_ORDERS]
  --payout-customers N customers (default 10000)                       [CHAOS_PAYOUT_CUSTOMERS]
  --payout-workers N   queue-worker processes at a time (default 3)    [CHAOS_PAYOUT_WORKERS]
  --payout-lease S     their lease (default 2)                         [CHAOS_PAYOUT_LEASE]
  --payout-kills N     most SIGKILLs, the first one of jobsctl (default 0: until the
                       run is complete)                               [CHAOS_PAYOUT_KILLS]
  --seed N             the data set's seed (default 20261123)          [CHAOS_SEED]
  --terminate-every S  seconds between pg_terminate_backend rounds (default 2) [CHAOS_TERMINATE_EVERY]
  --exhaust-seconds S  how long the other client holds every connection (default 15)
                                                                      [CHAOS_EXHAUST_SECONDS]
  --rate N             producer's jobs per second in idle-in-transaction and
                       snapshot-reader (default 300)                   [CHAOS_RATE]
  --calm-seconds S     load before the hold and after its end (default 30) [CHAOS_CALM_SECONDS]
  --hold-seconds S     how long the transaction holds back vacuum (default 180)
                                                                      [CHAOS_HOLD_SECONDS]
  --wal-mb N           size of the tmpfs holding pg_wal in wal-full (default 160) [CHAOS_WAL_MB]
  --timeout S          give up on a run after S seconds (default 900)  [CHAOS_TIMEOUT]
  --bin DIR            use the binaries in DIR instead of building     [CHAOS_BIN]
  --scratch-path DIR   build folder for `swift build -c release`       [CHAOS_SCRATCH_PATH]
  --dir DIR            work folder: cluster and logs (default .chaos)  [CHAOS_DIR]
  -h, --help           this text

Exits 0 when every run passed, 1 when one failed (loss, duplicate, stuck job, worker
death, fault not injected, timeout; in payout also an unbalanced transaction, a line
paid twice or not at all, an order or cleaner skipped, a report that disagrees, jobsctl
failing unasked), 2 on bad usage, 130 when interrupted. Worker and jobsctl logs stay
in DIR/logs/RUN/; the cluster and every process are removed on exit.
"""


class UsageError(Exception):
    """Bad command line; the message says what to fix."""


# option name -> (field, kind, default); kind: "int", "seconds" or "path".
_OPTIONS = {
    "--jobs": ("jobs", "int", 50000),
    "--workers": ("workers", "int", 4),
    "--concurrency": ("concurrency", "int", 10),
    "--sleep-ms": ("sleep_ms", "int", 5),
    "--lease": ("lease", "seconds", 5.0),
    "--kill-every": ("kill_every", "seconds", 3.0),
    "--kills": ("kills", "int", 0),
    "--restarts": ("restarts", "int", 2),
    "--stalls": ("stalls", "int", 3),
    "--stall-lease": ("stall_lease", "seconds", 2.0),
    "--stall-seconds": ("stall_seconds", "seconds", 6.0),
    "--stall-sleep-ms": ("stall_sleep_ms", "int", 50),
    "--payout-cleaners": ("payout_cleaners", "int", 3000),
    "--payout-orders": ("payout_orders", "int", 100000),
    "--payout-customers": ("payout_customers", "int", 10000),
    "--payout-workers": ("payout_workers", "int", 3),
    "--payout-lease": ("payout_lease", "seconds", 2.0),
    "--payout-kills": ("payout_kills", "int", 0),
    "--seed": ("seed", "int", 20261123),
    "--terminate-every": ("terminate_every", "seconds", 2.0),
    "--exhaust-seconds": ("exhaust_seconds", "seconds", 15.0),
    "--rate": ("rate", "int", 300),
    "--calm-seconds": ("calm_seconds", "seconds", 30.0),
    "--hold-seconds": ("hold_seconds", "seconds", 180.0),
    "--wal-mb": ("wal_mb", "int", 160),
    "--timeout": ("timeout", "int", 900),
    "--bin": ("bin", "path", ""),
    "--scratch-path": ("scratch_path", "path", ""),
    "--dir": ("dir", "path", ""),
}

# What --small sets; explicit options and variables win over it.
SMALL = {
    "jobs": 3000, "kills": 1, "kill_every": 2.0, "restarts": 1, "stalls": 1, "lease": 3.0, "timeout": 180,
    "payout_cleaners": 100, "payout_orders": 8000, "payout_customers": 1000,
    "terminate_every": 1.0, "exhaust_seconds": 5.0, "rate": 150, "calm_seconds": 8.0, "hold_seconds": 15.0,
}


@dataclasses.dataclass
class Options:
    runs: list
    jobs: int
    workers: int
    concurrency: int
    sleep_ms: int
    lease: float
    kill_every: float
    kills: int
    restarts: int
    stalls: int
    stall_lease: float
    stall_seconds: float
    stall_sleep_ms: int
    payout_cleaners: int
    payout_orders: int
    payout_customers: int
    payout_workers: int
    payout_lease: float
    payout_kills: int
    seed: int
    terminate_every: float
    exhaust_seconds: float
    rate: int
    calm_seconds: float
    hold_seconds: float
    wal_mb: int
    timeout: int
    bin: str
    scratch_path: str
    dir: str
    citus: bool = False


def _environment_name(option):
    return "CHAOS_" + option[2:].upper().replace("-", "_")


def _convert(option, kind, text):
    if kind == "int":
        if not re.fullmatch(r"[0-9]+", text):
            raise UsageError(f"{option} must be a whole number, got '{text}'")
        return int(text)
    if kind == "seconds":
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
            raise UsageError(f"{option} must be a number of seconds, got '{text}'")
        return float(text)
    return text


def parse(argv, environment):
    """Options from argv over CHAOS_* variables over --small over the defaults.

    Returns None when help was asked for."""
    values = {field: default for field, _, default in _OPTIONS.values()}
    if "--small" in argv:
        values.update(SMALL)
    for option, (field, kind, _) in _OPTIONS.items():
        text = environment.get(_environment_name(option))
        if text:
            values[field] = _convert(option, kind, text)
    runs = []
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in ("-h", "--help"):
            return None
        if word in ("--small", "--citus"):
            index += 1
        elif word in _OPTIONS:
            if index + 1 >= len(argv) or not argv[index + 1]:
                raise UsageError(f"{word} needs a value (see --help)")
            field, kind, _ = _OPTIONS[word]
            values[field] = _convert(word, kind, argv[index + 1])
            index += 2
        elif word in RUNS or word in CITUS_RUNS:
            if word not in runs:  # each run once: they share the database
                runs.append(word)
            index += 1
        else:
            raise UsageError(f"unknown argument '{word}' (see --help)")
    citus = "--citus" in argv or environment.get("CHAOS_CITUS") == "1"
    available = CITUS_RUNS if citus else RUNS
    for run in runs:
        if run not in available:
            place = "on a Citus cluster" if citus else "without --citus"
            raise UsageError(f"the run '{run}' does not run {place}; runs: {' '.join(available)}")
    options = Options(runs=runs or list(CITUS_RUNS if citus else RUNS), citus=citus, **values)
    if options.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if options.workers < 2:
        raise UsageError("--workers must be at least 2 (faults need a survivor)")
    if options.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if options.payout_cleaners < 1 or options.payout_customers < 1:
        raise UsageError("--payout-cleaners and --payout-customers must be at least 1")
    if options.rate < 1:
        raise UsageError("--rate must be at least 1")
    if options.wal_mb < 64:
        raise UsageError("--wal-mb must be at least 64 (four WAL segments)")
    if options.payout_workers < 2:
        raise UsageError("--payout-workers must be at least 2 (faults need a survivor)")
    return options
