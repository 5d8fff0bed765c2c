"""idle-in-transaction and snapshot-reader: a session holds back the xmin horizon
(what VACUUM may remove) while a producer and the workers keep the queue busy.
They measure what it costs — claim round trips, dead tuples, table size — before,
during and after the hold."""

import os
import time

from . import pgwire
from .runs import EffectRun, now_ms, say
from .scrape import claim_totals

# The job table's figures: dead and live row versions (the statistics, which lag by
# up to a second), heap and index size, and the oldest snapshot any session holds.
TABLE_FIGURES = """
SELECT n_dead_tup, n_live_tup, pg_table_size('queue.jobs'), pg_indexes_size('queue.jobs'),
       (SELECT COALESCE(max(age(backend_xmin)), 0) FROM pg_stat_activity)
FROM pg_stat_user_tables WHERE relid = 'queue.jobs'::regclass
"""

IDLE_TIMEOUT_SQLSTATE = "25P03"


class IdleTransaction:
    """A session that opened a transaction, took a transaction id and went idle."""
    name = "idle-in-transaction"

    def __init__(self, url):
        self.connection = pgwire.Connection.open(url, "chaos-idle-holder")
        self.connection.query("BEGIN; SELECT txid_current()")

    def touch(self):
        """Idle: it does nothing while it holds."""

    def end(self):
        self.connection.query("ROLLBACK")
        self.connection.close()


class SnapshotReader:
    """A long report: a REPEATABLE READ transaction that reads the job table again
    and again on its first snapshot (its count never changes)."""
    name = "snapshot-reader"

    def __init__(self, url):
        self.connection = pgwire.Connection.open(url, "chaos-snapshot-reader")
        self.first = self.connection.query(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM queue.jobs")[0][0]
        self.reads = 1

    def touch(self):
        seen = self.connection.query("SELECT count(*) FROM queue.jobs")[0][0]
        self.reads += 1
        if seen != self.first:
            raise AssertionError(f"the reader's snapshot moved: {self.first} rows, then {seen}")

    def end(self):
        self.connection.query("COMMIT")
        self.connection.close()


def idle_timeout_ends_session(url):
    """True when a session idle in transaction under idle_in_transaction_session_timeout
    (1 s) is ended by the server (FATAL 25P03) — the advice in docs/reliability.md."""
    connection = pgwire.Connection.open(url, "chaos-idle-timeout")
    connection.query("SET idle_in_transaction_session_timeout = '1s'; BEGIN; SELECT txid_current()")
    time.sleep(2.5)
    try:
        connection.query("SELECT 1")
    except pgwire.ServerError as error:
        return error.sqlstate == IDLE_TIMEOUT_SQLSTATE
    except (pgwire.ConnectionClosed, OSError):
        return True
    finally:
        connection.sock.close()
    return False


class Sampler:
    """Every few seconds: the workers' claim round trips since the last sample (from
    their /metrics) and the job table's figures; one line each, kept per phase."""

    def __init__(self, run, path):
        self.run, self.path = run, path
        self.last = {}  # worker -> (seconds, claims)
        self.samples = []  # dicts
        with open(path, "w") as file:
            file.write("t_s phase claims claim_ms dead live table_mb index_mb xmin_age active\n")

    def take(self, phase, active):
        seconds = claims = 0.0
        for name in sorted(self.run.fleet.live):
            text = self.run.fleet.scrape(name)
            if text is None:
                continue
            total = claim_totals(text)
            before = self.last.get(name, (0.0, 0))
            seconds, claims = seconds + total[0] - before[0], claims + total[1] - before[1]
            self.last[name] = total
        rows = self.run.session.cluster.rows(TABLE_FIGURES)
        dead, live, table, index, xmin_age = (int(value) for value in rows[0]) if rows else (0, 0, 0, 0, 0)
        figures = {
            "t_s": round((now_ms() - self.run.started_at) / 1000), "phase": phase, "claims": int(claims),
            "claim_ms": round(seconds * 1000 / claims, 2) if claims else 0.0, "dead": dead, "live": live,
            "table_mb": round(table / 1048576, 1), "index_mb": round(index / 1048576, 1), "xmin_age": xmin_age,
            "active": active,
        }
        self.samples.append(figures)
        line = " ".join(str(figures[key]) for key in
                        ("t_s", "phase", "claims", "claim_ms", "dead", "live", "table_mb", "index_mb", "xmin_age", "active"))
        with open(self.path, "a") as file:
            file.write(line + "\n")
        say(f"{phase}: {int(claims)} claims, {figures['claim_ms']} ms each; dead={dead} live={live} "
            f"table={figures['table_mb']}MB indexes={figures['index_mb']}MB xmin_age={xmin_age} active={active}")


def summary(samples):
    """The verdict line's figures from the samples: claim time before (mean of the
    phase), at the start and the end of the hold (first and last sample), after
    (mean, without the first sample, taken right after VACUUM); dead tuples and sizes
    at the end of the phases, and dead tuples right after VACUUM."""
    def phase(name):
        return [entry for entry in samples if entry["phase"] == name]

    def mean_claim(entries):
        claims = sum(entry["claims"] for entry in entries)
        total = sum(entry["claims"] * entry["claim_ms"] for entry in entries)
        return round(total / claims, 2) if claims else 0.0

    before, hold, after = phase("before"), phase("hold"), phase("after")
    last = {name: (entries[-1] if entries else {}) for name, entries in
            (("before", before), ("hold", hold), ("after", after))}
    return [
        f"claim_ms_before={mean_claim(before)}", f"claim_ms_hold_start={mean_claim(hold[:1])}",
        f"claim_ms_hold_end={mean_claim(hold[-1:])}", f"claim_ms_after={mean_claim(after[1:] or after)}",
        f"dead_before={last['before'].get('dead', '-')}", f"dead_hold_end={last['hold'].get('dead', '-')}",
        f"dead_after_vacuum={after[0]['dead'] if after else '-'}",
        f"table_mb_before={last['before'].get('table_mb', '-')}", f"table_mb_hold_end={last['hold'].get('table_mb', '-')}",
        f"table_mb_after={last['after'].get('table_mb', '-')}",
        f"index_mb_hold_end={last['hold'].get('index_mb', '-')}", f"xmin_age_hold_end={last['hold'].get('xmin_age', '-')}",
        f"backlog_max={max((entry['active'] for entry in samples), default=0)}",
    ]


class Producer:
    """--rate jobs enqueued every second in one bulk enqueue (`queue-testbed enqueue`),
    counting the acknowledged ones: what the verdict expects."""

    def __init__(self, run):
        self.run, self.acknowledged, self.failed, self.next_at = run, 0, 0, now_ms()

    def tick(self):
        if now_ms() < self.next_at:
            return
        self.next_at += 1000
        session, rate = self.run.session, self.run.session.options.rate
        status, output = session.run_tool(
            [session.tool("queue-testbed"), "enqueue", "--kind", "testbed.effect", "--count", str(rate),
             "--queue", self.run.queue], os.path.join(self.run.log_dir, "enqueue.log"))
        if status == 0:
            self.acknowledged += rate
        else:
            self.failed += 1
            self.run.report.failures.append(f"an enqueue of {rate} jobs failed: {output.strip().splitlines()[-1:]}")


def horizon_run(session, holder_type, prefix):
    options, cluster = session.options, session.cluster
    run = EffectRun(session, holder_type.name, prefix, options.lease, 0, jobs=0)
    total_seconds = 2 * options.calm_seconds + options.hold_seconds
    print(f"{holder_type.name}: {options.rate} testbed.effect jobs enqueued every second on {run.queue} "
          f"({options.calm_seconds:g}s calm, {options.hold_seconds:g}s hold, {options.calm_seconds:g}s calm); "
          f"{options.workers} workers", flush=True)
    producer = Producer(run)
    sampler = Sampler(run, os.path.join(run.log_dir, "samples.txt"))
    every = max(1.0, min(5.0, options.hold_seconds / 6))
    holder, held_ok, phase, active = None, False, "before", 0
    hold_at = run.started_at + int(options.calm_seconds * 1000)
    release_at = hold_at + int(options.hold_seconds * 1000)
    end_at = release_at + int(options.calm_seconds * 1000)
    next_sample = now_ms() + int(every * 1000)
    if holder_type is IdleTransaction and not idle_timeout_ends_session(cluster.url):
        run.report.failures.append("idle_in_transaction_session_timeout did not end the idle session")
    while True:
        run.fleet.reap_deaths()
        figures = session.progress(run.queue)
        if figures:
            run.completed, active = int(figures["completed"]), int(figures["active"])
        now = now_ms()
        if phase == "before" and now >= hold_at:
            sampler.take(phase, active)
            holder, phase = holder_type(cluster.url), "hold"
            say(f"{holder_type.name}: session opened; it holds back vacuum for {options.hold_seconds:g}s")
            next_sample = now + int(every * 1000)
        elif phase == "hold" and now >= release_at:
            sampler.take(phase, active)
            try:
                holder.end()
                held_ok = True
            except (pgwire.ServerError, pgwire.ConnectionClosed, OSError) as error:
                run.report.failures.append(f"the holding session did not last the hold: {error}")
            started = now_ms()
            cluster.rows("VACUUM queue.jobs")
            phase = "after"
            say(f"{holder_type.name}: session ended; VACUUM queue.jobs took {now_ms() - started} ms")
            sampler.take(phase, active)
            next_sample = now_ms() + int(every * 1000)
        elif now >= next_sample:
            if phase == "hold":
                try:
                    holder.touch()
                except (pgwire.ServerError, pgwire.ConnectionClosed, OSError, AssertionError) as error:
                    run.report.failures.append(f"the holding session failed: {error}")
            sampler.take(phase, active)
            next_sample = now + int(every * 1000)
        if now < end_at:
            producer.tick()
        elif active == 0:
            break
        if now - run.started_at > (options.timeout + total_seconds) * 1000:
            run.report.failures.append(f"timed out with {active} jobs active")
            break
        time.sleep(0.2)
    sampler.take(phase, active)
    run.jobs = producer.acknowledged
    if not held_ok:
        run.report.failures.append("the hold did not complete")
    extra = summary(sampler.samples)
    if holder_type is SnapshotReader and holder:
        extra.append(f"reads={holder.reads}")
    run.finish(" ".join(extra))


def idle_in_transaction(session):
    horizon_run(session, IdleTransaction, "it-")


def snapshot_reader(session):
    horizon_run(session, SnapshotReader, "sr-")
