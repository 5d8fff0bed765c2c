"""terminate-backends and max-connections: the server ends the workers' sessions,
and in max-connections will not give them new ones for a while."""

import time

from .fleet import application_name
from .hog import ConnectionHog
from .runs import EffectRun, now_ms, say
from .scrape import sample

# A worker's LISTEN session: the worker names it after itself plus this suffix
# (JobWorker.listenSessionNameSuffix), whatever statement it ran last.
LISTEN_SUFFIX = " listener"
LISTEN_SESSION = f"(application_name LIKE '%{LISTEN_SUFFIX}')"

# Server processes of the workers whose application name matches `pattern` (their
# LISTEN sessions too), each with probability `fraction`, terminated; how many of
# them were LISTEN sessions and how many pool sessions. Materialized first, so that
# pg_terminate_backend runs only on the rows chosen.
TERMINATE = f"""
WITH victims AS MATERIALIZED (
    SELECT pid, {LISTEN_SESSION} AS listens FROM pg_stat_activity
    WHERE (application_name LIKE :'pattern' OR application_name LIKE :'pattern' || '{LISTEN_SUFFIX}')
      AND pid <> pg_backend_pid() AND random() < :'fraction'::float8
)
SELECT count(*) FILTER (WHERE listens), count(*) FILTER (WHERE NOT listens) FROM victims WHERE pg_terminate_backend(pid)
"""

# Workers (by application name) holding a LISTEN session now.
LISTENING = f"""
SELECT count(DISTINCT application_name) FROM pg_stat_activity
WHERE application_name LIKE :'pattern' AND {LISTEN_SESSION}
"""

# max-connections: every session of the run's workers (the hog's admin session runs
# it; psql cannot connect then). The pattern is the run's fixed worker prefix.
TERMINATE_MAX_CONNECTIONS_WORKERS = """
WITH victims AS MATERIALIZED (
    SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'chaos-mc-%'
)
SELECT count(*) FROM victims WHERE pg_terminate_backend(pid)
"""


def wait_until(condition, timeout, every=0.25):
    """Polls `condition` until it holds or `timeout` seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def terminate_backends(session):
    """Every --terminate-every seconds pg_terminate_backend on the workers' server
    processes: first every session of one worker (its LISTEN connection included),
    then each session of every worker with probability 1/2. At the end every worker
    must be LISTENing again, none may have died, and the verdict must pass."""
    options, cluster = session.options, session.cluster
    run = EffectRun(session, "terminate-backends", "tb-", options.lease, options.sleep_ms)
    every_ms, last = int(options.terminate_every * 1000), run.started_at
    rounds = listen = pool = 0
    everyone = application_name(run.fleet.prefix) + "%"
    while run.poll():
        if now_ms() - last >= every_ms:
            if rounds == 0:
                target = run.fleet.random_name()
                pattern, fraction, what = application_name(target), 1.0, f"every session of {target}"
            else:
                pattern, fraction, what = everyone, 0.5, "each worker session with probability 1/2"
            rows = cluster.rows(TERMINATE, pattern=pattern, fraction=fraction)
            if rows:
                listened, pooled = int(rows[0][0]), int(rows[0][1])
                listen, pool, rounds = listen + listened, pool + pooled, rounds + 1
                say(f"pg_terminate_backend on {what}: {listened} LISTEN and {pooled} pool sessions")
            last = now_ms()
        time.sleep(0.25)

    def listening():
        rows = cluster.rows(LISTENING, pattern=everyone)
        return bool(rows) and int(rows[0][0]) == len(run.fleet.live)

    if not wait_until(listening, 15):
        run.report.failures.append("not every worker LISTENs again 15 s after the last round (see pg_stat_activity)")
    if listen < 1 or pool < 1:
        run.report.failures.append(
            f"the rounds ended {listen} LISTEN and {pool} pool sessions; both must be hit (raise --jobs)")
    run.finish(f"rounds={rounds} terminated_listen={listen} terminated_pool={pool}")


def max_connections(session):
    """Once a quarter of the jobs are done another client takes every connection
    the server has, and the workers' own sessions are terminated: for
    --exhaust-seconds they are refused (SQLSTATE 53300, too many clients). Then the
    client lets go. Each worker must count one database outage
    (queue_worker_database_outages_total: the engine logs one line when it begins
    and one when it ends) and the jobs must all finish, each once."""
    options = session.options
    run = EffectRun(session, "max-connections", "mc-", options.lease, options.sleep_ms)
    hog, held, terminated = None, 0, 0
    while run.poll():
        if hog is None and run.completed * 4 >= run.jobs:
            hog = ConnectionHog(session.cluster.url)
            if not hog.start() or hog.admin is None:
                run.report.failures.append(f"the other client could not fill the server: {hog.errors[-1:] or '?'}")
                break
            terminated = int(hog.admin.query(TERMINATE_MAX_CONNECTIONS_WORKERS)[0][0])
            say(f"another client holds {len(hog.held)} connections, the server refuses more; "
                f"terminated the workers' {terminated} sessions, for {options.exhaust_seconds:g}s")
            time.sleep(options.exhaust_seconds)
            held = hog.release()
            say(f"the other client let go of its {held} connections ({hog.refusals} of its own attempts refused)")
        time.sleep(0.2)
    if hog is None:
        run.report.failures.append("the jobs were done before a quarter of them was (raise --jobs)")
    elif hog.refusals < 1:
        run.report.failures.append("the server never refused the other client: max_connections was not reached")
    outages = []
    for name in sorted(run.fleet.live):
        text = run.fleet.scrape(name)
        count = sample(text or "", "queue_worker_database_outages_total")
        outages.append(f"{name}:{'?' if count is None else int(count)}")
        if count is None:
            run.report.failures.append(f"could not read {name}'s /metrics")
        elif count < 1:
            run.report.failures.append(f"{name} counted no database outage although its sessions were terminated")
        elif count > 1:
            run.report.failures.append(f"{name} counted {int(count)} outages (a log line each) in one episode")
    run.finish(f"held={held} refused={hog.refusals if hog else 0} terminated={terminated} outages={','.join(outages)}")
