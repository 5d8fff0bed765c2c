"""The four runs. Each injects its fault while real workers process real jobs, then
prints one verdict line judged by a program that reads the database."""

import datetime
import os
import random
import shutil
import signal
import subprocess
import time
import zoneinfo

from .fleet import Fleet, alive
from .report import RunReport, figure, program_figures


def say(text):
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", flush=True)


def now_ms():
    return int(time.monotonic() * 1000)


class Session:
    """What every run shares: options, binaries, cluster, processes, verdicts."""

    def __init__(self, options, bin_dir, folder, cluster, tracker):
        self.options, self.bin, self.folder = options, bin_dir, folder
        self.cluster, self.tracker = cluster, tracker
        self.verdicts = []
        self.failed = False

    def tool(self, name):
        return os.path.join(self.bin, name)

    def run_tool(self, argv, log_path=None, errors=True):
        """Runs one of our programs to its end; (exit status, output, with its
        standard error unless `errors` is False)."""
        result = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if errors else subprocess.DEVNULL, text=True, check=False)
        if log_path:
            with open(log_path, "w") as log:
                log.write(result.stdout)
        return result.returncode, result.stdout

    def progress(self, queue, kind=None):
        """`queue-testbed progress` figures of a queue as a dict of text values, or
        None when it could not answer (e.g. while the server restarts)."""
        argv = [self.tool("queue-testbed"), "progress", "--queue", queue] + (["--kind", kind] if kind else [])
        status, output = self.run_tool(argv, errors=False)
        if status != 0 or not output.strip():
            return None
        return dict(word.partition("=")[::2] for word in output.split())

    def held(self, queue, worker):
        """The "WORKER JOB_ID ATTEMPT" lines of the attempts `worker` holds now."""
        status, output = self.run_tool(
            [self.tool("queue-testbed"), "held", "--queue", queue, "--worker", worker], errors=False)
        return output.splitlines() if status == 0 else []

    def record(self, report, line, program_lines, passed):
        report.print(line, program_lines)
        self.verdicts.append(line)
        self.failed = self.failed or not passed


class EffectRun:
    """The runs of testbed.effect jobs on queue chaos_<run>: `jobs` of them (default
    --jobs) enqueued at the start, or none when a producer enqueues them during the
    run (which then sets `jobs` to the acknowledged count before `finish`)."""

    def __init__(self, session, name, prefix, lease, sleep_ms, jobs=None):
        self.session, self.name, self.lease = session, name, lease
        options = session.options
        self.jobs = options.jobs if jobs is None else jobs
        self.queue = "chaos_" + name.replace("-", "_")
        self.log_dir = os.path.join(session.folder, "logs", name)
        os.makedirs(self.log_dir, exist_ok=True)
        self.report = RunReport(name)
        self.restarted = 0
        self.completed = 0
        self.done = False
        self.fleet = Fleet(self.worker_command, prefix, self.log_dir, session.tracker, say, with_metrics=True)
        # The session's cluster is new, so the run's queue is empty; its effects start empty.
        session.cluster.rows("TRUNCATE testbed_effects")
        if self.jobs:
            print(f"{name}: enqueueing {self.jobs} testbed.effect jobs {{\"sleepMs\": {sleep_ms}}} on queue "
                  f"{self.queue}; {options.workers} workers, lease {lease:g}s", flush=True)
            status, output = session.run_tool(
                [session.tool("queue-testbed"), "enqueue", "--kind", "testbed.effect", "--count", str(self.jobs),
                 "--queue", self.queue, "--args", f'{{"sleepMs": {sleep_ms}}}'],
                os.path.join(self.log_dir, "enqueue.log"))
            if status != 0:
                lines = output.strip().splitlines()
                self.report.failures.append(f"enqueue failed: {lines[-1] if lines else status}")
        for _ in range(options.workers):
            self.fleet.start()
        self.started_at = now_ms()

    def worker_command(self, name, port):
        options = self.session.options
        return [self.session.tool("queue-testbed"), "work", "--queues", self.queue,
                "--concurrency", str(options.concurrency), "--lease", f"{self.lease:g}", "--poll-interval", "0.5",
                "--grace", "10", "--worker-id", name, "--metrics-port", str(port)]


    def poll(self):
        """Deaths, progress, timeout; False once the run is over."""
        self.fleet.reap_deaths()
        figures = self.session.progress(self.queue)
        if figures:  # none while the server restarts
            self.completed = int(figures["completed"])
            self.done = self.done or int(figures["active"]) == 0
        if now_ms() - self.started_at > self.session.options.timeout * 1000:
            self.report.failures.append(
                f"timed out after {self.session.options.timeout}s with {self.completed} of {self.jobs} jobs completed")
            self.done = True
        return not self.done

    def kill_random(self):
        name = self.fleet.random_name()
        pid = self.fleet.kill(name)
        return name, pid, len(self.session.held(self.queue, name))

    def finish(self, extra, verdict_arguments=()):
        options = self.session.options
        elapsed = round((now_ms() - self.started_at) / 1000)
        self.fleet.reap_deaths()
        self.fleet.stop()
        status, output = self.session.run_tool(
            [self.session.tool("queue-testbed"), "verdict", "--queue", self.queue, "--jobs", str(self.jobs),
             *verdict_arguments])
        figures, rest = program_figures(output)
        self.report.failures[:0] = self.fleet.failures
        passed = status == 0 and self.fleet.deaths == 0 and not self.report.failures
        line = self.report.line(
            [f"jobs={self.jobs}", f"workers={options.workers}", f"kills={self.fleet.killed}",
             f"restarts={self.restarted}", f"deaths={self.fleet.deaths}", figures, extra, f"elapsed={elapsed}s"],
            passed)
        self.session.record(self.report, line, rest, passed)


def kill_workers(session):
    """SIGKILL a random worker every --kill-every seconds (the first once a quarter
    of the jobs are done, if that comes sooner) and start a new one at once."""
    options = session.options
    run = EffectRun(session, "kill-workers", "kw-", options.lease, options.sleep_ms)
    every_ms, last, orphaned = int(options.kill_every * 1000), run.started_at, 0
    while run.poll():
        fleet = run.fleet
        if (options.kills == 0 or fleet.killed < options.kills) and (
                now_ms() - last >= every_ms or (fleet.killed == 0 and run.completed * 4 >= options.jobs)):
            name, pid, held = run.kill_random()
            orphaned += held
            say(f"SIGKILL {name} (pid {pid}) with {held} jobs running; started {fleet.start()}")
            last = now_ms()
        time.sleep(0.25)
    if run.fleet.killed < 1:
        run.report.failures.append("no worker was killed: the jobs were done first (raise --jobs)")
    run.finish(f"orphaned={orphaned}")


def restart_db(session):
    """Restart i of R once i/(R+1) of the jobs are completed."""
    options = session.options
    run = EffectRun(session, "restart-db", "rd-", options.lease, options.sleep_ms)
    down = 0
    while run.poll():
        if run.restarted < options.restarts and \
                run.completed * (options.restarts + 1) >= options.jobs * (run.restarted + 1):
            say(f"restarting PostgreSQL (fast shutdown + start) at {run.completed} of {options.jobs} jobs completed")
            started = now_ms()
            log = os.path.join(run.log_dir, f"restart-{run.restarted}.log")
            if not session.cluster.restart(log):
                run.report.failures.append(f"devdb.sh restart failed; see {log}")
            took = now_ms() - started
            down += took
            run.restarted += 1
            say(f"PostgreSQL accepts connections again after {took} ms")
        time.sleep(0.2)
    if run.restarted != options.restarts:
        run.report.failures.append(
            f"{run.restarted} of {options.restarts} restarts happened before the jobs were done (raise --jobs)")
    run.finish(f"down_ms={down}")


def stall(session):
    """SIGSTOP a random worker for --stall-seconds (longer than its lease), then
    SIGCONT it; the first stall after 2 s or a fifth of the jobs, the next 3 s
    after each SIGCONT. The verdict judges the attempts it held by the effect rows
    and the fenced outcomes the stalled workers counted."""
    options = session.options
    run = EffectRun(session, "stall", "st-", options.stall_lease, options.stall_sleep_ms)
    held_path = os.path.join(run.log_dir, "held.txt")
    open(held_path, "w").close()
    stalled, victim, process, stopped_at, victims = 0, None, None, 0, set()
    stall_ms = int(options.stall_seconds * 1000)
    next_at = now_ms() + 2000
    while run.poll():
        if victim:
            if now_ms() - stopped_at >= stall_ms:
                process.send_signal(signal.SIGCONT)
                say(f"SIGCONT {victim} after {now_ms() - stopped_at} ms")
                victim, next_at = None, now_ms() + 3000
        elif stalled < options.stalls and (now_ms() >= next_at or (stalled == 0 and run.completed * 5 >= options.jobs)):
            victim = run.fleet.random_name()
            process = run.fleet.live[victim]
            process.send_signal(signal.SIGSTOP)
            stopped_at = now_ms()
            held = session.held(run.queue, victim)
            with open(held_path, "a") as file:
                for line in held:
                    file.write(line + "\n")
            stalled += 1
            victims.add(victim)
            say(f"SIGSTOP {victim} (pid {process.pid}) holding {len(held)} running jobs, for "
                f"{options.stall_seconds:g}s (lease {options.stall_lease:g}s)")
        time.sleep(0.2)
    if victim:
        # The others finished the jobs while it was stopped: wake it so that it meets
        # its fenced leases before it is stopped.
        while now_ms() - stopped_at < stall_ms:
            time.sleep(0.2)
        process.send_signal(signal.SIGCONT)
        say(f"SIGCONT {victim} after {now_ms() - stopped_at} ms (the jobs were done meanwhile)")
        time.sleep(2)
    if stalled < 1:
        run.report.failures.append("no worker was stalled: the jobs were done first (raise --jobs)")
    elif stalled < options.stalls:
        run.report.remarks.append(f"{stalled} of {options.stalls} stalls happened before the jobs were done")
    arguments = []
    if stalled:
        arguments += ["--held", held_path]
        for name in sorted(victims):
            path = os.path.join(run.log_dir, f"{name}.metrics")
            if run.fleet.save_metrics(name, path):
                arguments += ["--metrics", path]
    run.finish(f"stalls={stalled}", arguments)


def restart_node(session):
    """(Citus) Once half the jobs are completed, restart the worker node that holds the
    run queue's shard: claims, heartbeats and completions fail while it is down, the
    workers retry, and the jobs resume on it once it is back. How long the queue's work
    waited comes from the effect rows, on the coordinator's clock (`resume_figures`)."""
    options = session.options
    run = EffectRun(session, "restart-node", "rn-", options.lease, options.sleep_ms)
    node = session.cluster.worker_of_queue(run.queue)
    if node is None:
        run.report.failures.append(f"cannot tell which worker node holds the shard of {run.queue}")
    down, down_at, back_at = 0, None, None
    while run.poll():
        if node is not None and run.restarted == 0 and run.completed * 2 >= options.jobs:
            say(f"restarting worker node {node} (holds {run.queue}) at {run.completed} of {options.jobs} jobs completed")
            started = now_ms()
            down_at = coordinator_clock(session.cluster)
            log = os.path.join(run.log_dir, "restart-node.log")
            if not session.cluster.restart_worker(node, log):
                run.report.failures.append(f"citus.sh restart-worker {node} failed; see {log}")
            back_at = coordinator_clock(session.cluster)
            down = now_ms() - started
            run.restarted = 1
            say(f"worker node {node} accepts connections again after {down} ms")
        time.sleep(0.2)
    if run.restarted == 0:
        run.report.failures.append("the node was not restarted before the jobs were done (raise --jobs)")
    figures = None
    if run.restarted and not (down_at and back_at):
        run.report.failures.append("the coordinator did not tell its time around the node's restart")
    elif run.restarted:
        figures = resume_figures(session.cluster, down_at, back_at)
        if figures is None:
            run.report.failures.append("no effect was recorded before the restart and after it: raise --jobs")
    waited, resumed = figures or ("?", "?")
    run.finish(f"node={node} down_ms={down} waited_ms={waited} resume_ms={resumed}")


def coordinator_clock(cluster):
    """The coordinator's clock_timestamp() as text, or None if it did not answer."""
    rows = cluster.rows("SELECT clock_timestamp()")
    return rows[0][0] if rows else None


# waited_ms: from the last effect recorded before the node went down to the first one
# after it came back (how long the queue's work stood still); resume_ms: from the moment
# the node accepted connections again to that first effect. An effect row is written in
# the transaction that completes its job, stamped with that transaction's start.
RESUME_FIGURES = """
SELECT round(extract(epoch FROM after.at - before.at) * 1000)::bigint,
       round(extract(epoch FROM after.at - :'back'::timestamptz) * 1000)::bigint
FROM (SELECT max(at) AS at FROM testbed_effects WHERE at < :'down'::timestamptz) AS before,
     (SELECT min(at) AS at FROM testbed_effects WHERE at > :'back'::timestamptz) AS after
WHERE after.at IS NOT NULL AND before.at IS NOT NULL
"""


def resume_figures(cluster, down_at, back_at):
    """(waited_ms, resume_ms) of a node restart from the effect rows, or None when no
    effect follows the restart."""
    rows = cluster.rows(RESUME_FIGURES, down=down_at, back=back_at)
    return (rows[0][0], rows[0][1]) if rows else None


PAYOUT_QUEUE = "payouts"
SETTLE_KIND = "payout.settle_cleaner"


def last_week(zone_name):
    """Last week as an ISO week (`2026-W48`) in the business time zone."""
    day = datetime.datetime.now(zoneinfo.ZoneInfo(zone_name)).date() - datetime.timedelta(days=7)
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class JobsctlPayout:
    """`jobsctl payouts run` for one period, started again whenever it is gone, as
    finance would; line-buffered so that its log shows how far it got when killed."""

    def __init__(self, session, period, log_dir):
        self.session, self.period, self.log_dir = session, period, log_dir
        self.runs = 0
        self.process = None
        self.started_at = 0
        self.line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []

    @property
    def log(self):
        return os.path.join(self.log_dir, f"jobsctl-{self.runs}.log")

    def start(self):
        self.runs += 1
        self.process = self.session.tracker.spawn(
            self.line_buffered + [
                self.session.tool("jobsctl"), "payouts", "run", "--period", self.period,
                "--report", os.path.join(self.log_dir, f"report-{self.runs}.csv"),
                "--wait", str(self.session.options.timeout)],
            self.log)
        self.started_at = now_ms()


def payout(session):
    """Loads the demo data set (jobsctl seed) and runs last week's settlement payout,
    worked by --payout-workers queue-worker processes (queue payouts, 4 jobs at once
    each). Every 1-2 s something is SIGKILLed: a random worker (a new one is started
    at once) or, one time in three, the jobsctl process; the first kill hits jobsctl
    30-330 ms after it started, while it creates the run and enqueues the jobs. The
    kills stop once the run is completed; the jobsctl running then writes the report
    and exits 0. `jobsctl payouts audit` judges the end state."""
    options, cluster = session.options, session.cluster
    report = RunReport("payout")
    log_dir = os.path.join(session.folder, "logs", "payout")
    os.makedirs(log_dir, exist_ok=True)
    period = last_week(os.environ.get("BUSINESS_TIME_ZONE") or "Asia/Shanghai")
    print(f"payout: seeding {options.payout_customers} customers, {options.payout_cleaners} cleaners, "
          f"{options.payout_orders} orders (seed {options.seed})", flush=True)
    status, output = session.run_tool(
        [session.tool("jobsctl"), "seed", "--customers", str(options.payout_customers),
         "--cleaners", str(options.payout_cleaners), "--orders", str(options.payout_orders),
         "--seed", str(options.seed)], os.path.join(log_dir, "seed.log"))
    seed_lines = output.strip().splitlines()
    if status != 0:
        report.failures.append(f"jobsctl seed failed: {seed_lines[-1] if seed_lines else status}")
    say(seed_lines[-1] if seed_lines else "(jobsctl seed printed nothing)")
    # What the week calls for, from the audit before there is a run (it fails then).
    _, before = session.run_tool([session.tool("jobsctl"), "payouts", "audit", "--period", period], errors=False)
    first = before.splitlines()[0] if before else ""
    cleaners, orders = int(figure("expected", first) or 0), int(figure("due_orders", first) or 0)
    print(f"payout: period {period}: {cleaners} cleaners with orders, bonuses or penalties, {orders} completed "
          f"orders; {options.payout_workers} workers, lease {options.payout_lease:g}s", flush=True)
    if cleaners <= 0 or orders <= 0:
        report.failures.append(f"the seeded data has nothing to settle in {period} (raise --payout-orders)")

    def worker_command(name, _port):
        return [session.tool("queue-worker"), "--queues", "payouts=4", "--lease", f"{options.payout_lease:g}",
                "--poll-interval", "0.5", "--grace", "10", "--worker-id", name]

    fleet = Fleet(worker_command, "po-", log_dir, session.tracker, say, with_metrics=False)
    for _ in range(options.payout_workers):
        fleet.start()
    started_at = now_ms()
    jobsctl = JobsctlPayout(session, period, log_dir)
    jobsctl.start()
    next_at = started_at + 30 + random.randrange(301)
    jobsctl_kills = reruns = orphaned = leader_kills = 0
    state, paid, queued, leader, completed = "none", 0, 0, "-", False

    def run_completed():
        rows = cluster.rows("SELECT status FROM platform.payout_runs WHERE period = :'period'", period=period)
        return bool(rows) and rows[0][0] == "completed"

    while True:
        fleet.reap_deaths()
        rows = cluster.rows(
            "SELECT COALESCE((SELECT status FROM platform.payout_runs WHERE period = :'period'), 'none'),"
            " (SELECT count(*) FROM platform.payout_items AS i JOIN platform.payout_runs AS r ON r.id = i.run_id"
            "  WHERE r.period = :'period' AND i.status = 'paid')", period=period)
        if rows:
            state, paid = rows[0][0], int(rows[0][1])
        settlement = session.progress(PAYOUT_QUEUE, SETTLE_KIND)
        if settlement:
            queued, leader = int(settlement["jobs"]), settlement["leader"]
        completed = completed or state == "completed"
        if not alive(jobsctl.process):
            status = jobsctl.process.wait()
            if status == 0 and run_completed():
                break
            if status == 0:
                report.failures.append(
                    f"jobsctl run {jobsctl.runs} exited 0 although the payout run is not completed; see {jobsctl.log}")
            else:
                report.failures.append(f"jobsctl run {jobsctl.runs} exited with status {status} unasked; see {jobsctl.log}")
                say(f"JOBSCTL FAILED: run {jobsctl.runs} of the command, exit status {status}")
            jobsctl.start()
            reruns += 1
            say(f"re-ran jobsctl payouts run (run {jobsctl.runs} of the command)")
        now = now_ms()
        if now - started_at > options.timeout * 1000:
            report.failures.append(
                f"timed out after {options.timeout}s: the payout run is '{state}' with {paid} of {cleaners} lines paid")
            jobsctl.process.kill()
            jobsctl.process.wait()
            break
        # A kill every 1-2 s; the first worker kill as soon as a quarter of the lines
        # are paid, if that comes sooner, so that one lands mid-run even when it is short.
        kills = fleet.killed + jobsctl_kills
        if not completed and (options.payout_kills == 0 or kills < options.payout_kills) and (
                now >= next_at or (fleet.killed == 0 and jobsctl_kills > 0 and paid * 4 >= cleaners)):
            if run_completed():
                completed = True
            elif (jobsctl_kills == 0 or (fleet.killed > 0 and random.randrange(3) == 0)) and alive(jobsctl.process):
                # What its session was doing just before (active, or idle in the
                # transaction that creates the run and its jobs).
                sessions = cluster.rows(
                    "SELECT COALESCE(string_agg(state, ','), 'not connected') FROM pg_stat_activity"
                    " WHERE application_name = 'jobsctl' AND pid <> pg_backend_pid()")
                jobsctl.process.kill()
                jobsctl.process.wait()
                jobsctl_kills += 1
                say(f"SIGKILL jobsctl (run {jobsctl.runs} of the command, pid {jobsctl.process.pid}, "
                    f"{now - jobsctl.started_at} ms after its start; session {sessions[0][0] if sessions else '?'}) "
                    f"with the run '{state}', {queued} settlement jobs queued, {paid} of {cleaners} lines paid")
                jobsctl.start()
                reruns += 1
                say(f"re-ran jobsctl payouts run (run {jobsctl.runs} of the command)")
            else:
                name = fleet.random_name()
                pid = fleet.kill(name)
                held = len(session.held(PAYOUT_QUEUE, name))
                orphaned += held
                role = ""
                if name == leader:
                    role, leader_kills = " (the leader)", leader_kills + 1
                say(f"SIGKILL {name}{role} (pid {pid}) with {held} payout jobs running, {paid} of {cleaners} lines "
                    f"paid; started {fleet.start()}")
            next_at = now + 1000 + random.randrange(1001)
        time.sleep(0.2)
    elapsed = round((now_ms() - started_at) / 1000)
    fleet.reap_deaths()
    fleet.stop()

    # The verdict: the audit checks the run against lines it recomputes from the
    # seeded data, the ledger and every report a jobsctl wrote; the jobs on queue
    # payouts must all be completed, one per line.
    last_report = os.path.join(log_dir, f"report-{jobsctl.runs}.csv")
    if not os.path.exists(last_report) or os.path.getsize(last_report) == 0:
        report.failures.append(f"the last jobsctl (run {jobsctl.runs} of the command) wrote no report at {last_report}")
    reports = sorted(path for path in (os.path.join(log_dir, f"report-{n}.csv") for n in range(1, jobsctl.runs + 1))
                     if os.path.exists(path))
    status, output = session.run_tool(
        [session.tool("jobsctl"), "payouts", "audit", "--period", period]
        + [word for path in reports for word in ("--report", path)])
    figures, rest = program_figures(output, drop_prefix="period")
    if status != 0:
        report.failures.append(f"jobsctl payouts audit: FAIL (exit status {status})")
    settlement = session.progress(PAYOUT_QUEUE, SETTLE_KIND) or {}
    every = session.progress(PAYOUT_QUEUE) or {}
    settle_jobs = int(settlement.get("jobs", 0))
    unfinished, retried, with_errors = (int(every.get(name, 0)) for name in ("unfinished", "retried", "with_errors"))
    if not settlement or not every:
        report.failures.append("queue-testbed progress could not read queue payouts")
    items = figure("items", figures)
    if str(settle_jobs) != (items or ""):
        report.failures.append(f"{settle_jobs} settlement jobs for {items or '?'} lines")
    if unfinished:
        report.failures.append(f"{unfinished} jobs on queue payouts are not completed: jobsctl jobs list --queue payouts")
    if fleet.killed < 1 and options.payout_kills != 1:
        report.failures.append("no worker was killed: the run was complete first (raise --payout-cleaners)")
    if jobsctl_kills < 1:
        report.remarks.append("jobsctl was never killed")
    report.failures[:0] = fleet.failures
    passed = fleet.deaths == 0 and not report.failures
    line = report.line(
        [f"period={period}", f"cleaners={cleaners}", f"orders={orders}", f"kills={fleet.killed + jobsctl_kills}",
         f"jobsctl_kills={jobsctl_kills}", f"leader_kills={leader_kills}", f"reruns={reruns}",
         f"deaths={fleet.deaths}", figures, f"retried={retried}", f"with_errors={with_errors}",
         f"orphaned={orphaned}", f"reports={len(reports)}", f"elapsed={elapsed}s"], passed)
    session.record(report, line, rest, passed)
