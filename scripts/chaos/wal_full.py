"""wal-full: the filesystem holding pg_wal runs out of space while workers run.

PostgreSQL cannot go on without writing WAL: it PANICs, and crash recovery cannot
finish either until there is room for the next WAL segment. The run gives a cluster
of its own a pg_wal on a small tmpfs (mounting needs root), fills the tmpfs once a
third of the jobs are done and switches WAL segments until the server is down;
then it frees the space and starts the server. Every job enqueued before must be
completed exactly once: nothing acknowledged lost, nothing run twice."""

import errno
import os
import shutil
import subprocess
import time

from .cluster import Cluster
from .runs import EffectRun, Session, now_ms, say

# Without recycling, every new WAL segment is a new 16 MB file that must fit on the
# filesystem; small sizes keep checkpoints (and the segments kept) within it.
WAL_SETTINGS = "wal_recycle = off\nmin_wal_size = 32MB\nmax_wal_size = 48MB"
FILLER = "filler"


def folder_of(session_folder):
    return os.path.join(session_folder, "wal-full")


def mount_point(session_folder):
    return os.path.join(folder_of(session_folder), "pg_wal_fs")


def remove(root, session_folder):
    """Stops and deletes the run's cluster and unmounts its tmpfs (also what a killed
    session left behind)."""
    folder = folder_of(session_folder)
    if not os.path.isdir(folder):
        return
    Cluster(root, folder).destroy()
    if os.path.ismount(mount_point(session_folder)):
        subprocess.run(["umount", mount_point(session_folder)], check=False)


def keep_server_log(session_folder):
    """The server's log (its PANIC, the recovery) into the run's logs, for people
    to read; the verdict does not."""
    database = os.path.join(folder_of(session_folder), "db")
    data = os.path.join(database, "data")
    if os.path.exists(os.path.join(database, "datadir")):
        with open(os.path.join(database, "datadir")) as file:
            data = file.read().strip()
    log = os.path.join(os.path.dirname(data), "server.log")
    if os.path.exists(log):
        shutil.copy(log, os.path.join(session_folder, "logs", "wal-full", "server.log"))


def fill(path):
    """Writes `path` until the filesystem is full; the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as file:
        for size in (1 << 20, 4096):  # megabytes, then the pages left
            chunk = b"\0" * size
            while True:
                try:
                    written += file.write(chunk)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    return written


def wal_full(session):
    options = session.options
    if os.geteuid() != 0:
        line = "wal-full: SKIPPED: mounting a tmpfs for pg_wal needs root (run scripts/chaos.sh wal-full as root)"
        print(line)
        session.verdicts.append(line)
        return
    root = os.path.dirname(os.path.dirname(session.cluster.devdb))
    remove(root, session.folder)
    mount = mount_point(session.folder)
    os.makedirs(mount, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={options.wal_mb}M", "chaos-wal", mount],
                             stderr=subprocess.PIPE, text=True, check=False)
    if mounted.returncode != 0:
        line = f"wal-full: FAIL: cannot mount a tmpfs at {mount}: {mounted.stderr.strip()}"
        print(line)
        session.verdicts.append(line)
        session.failed = True
        return
    subprocess.run(["chown", "postgres", mount], check=False)
    cluster = Cluster(root, folder_of(session.folder),
                      {"DEVDB_WALDIR": os.path.join(mount, "wal"), "DEVDB_CONF": WAL_SETTINGS})
    main_url = os.environ["DATABASE_URL"]
    try:
        print(f"wal-full: a cluster with pg_wal on a {options.wal_mb} MB tmpfs at {mount}", flush=True)
        url = cluster.start()
        if not url:
            raise RuntimeError("the cluster with pg_wal on the tmpfs did not start")
        os.environ["DATABASE_URL"] = url
        own = Session(options, session.bin, session.folder, cluster, session.tracker)
        status, output = own.run_tool([own.tool("jobsctl"), "migrate", "--migrations", os.path.join(root, "sql")])
        if status != 0:
            raise RuntimeError(f"migrations failed: {output.strip().splitlines()[-1:]}")
        cluster.rows("CREATE TABLE IF NOT EXISTS testbed_effects (job_id bigint NOT NULL, attempt integer NOT NULL,"
                     " worker text NOT NULL, at timestamptz NOT NULL DEFAULT now())")
        cluster.rows("CHECKPOINT")
        run_against(own, cluster, mount)
        session.verdicts.extend(own.verdicts)
        session.failed = session.failed or own.failed
    except RuntimeError as error:
        line = f"wal-full: FAIL: {error}"
        print(line)
        session.verdicts.append(line)
        session.failed = True
    finally:
        os.environ["DATABASE_URL"] = main_url
        keep_server_log(session.folder)
        remove(root, session.folder)


def run_against(session, cluster, mount):
    options = session.options
    run = EffectRun(session, "wal-full", "wf-", options.lease, options.sleep_ms)
    filler = os.path.join(mount, FILLER)
    filled = switches = 0
    down_ms = None
    while run.poll():
        if not filled and run.completed * 3 >= run.jobs:
            filled = fill(filler)
            say(f"filled the WAL filesystem: {filled // 1048576} MB more; switching WAL segments until the server stops")
            went_down = now_ms()
            while now_ms() - went_down < 60000 and cluster.rows("SELECT pg_switch_wal()") is not None:
                switches += 1
                time.sleep(0.5)
            stopped = now_ms()
            # Down: the PANIC ended every session; crash recovery cannot finish either
            # until there is room for the next segment.
            while now_ms() - stopped < 3000 and cluster.rows("SELECT 1") is None:
                time.sleep(0.5)
            if cluster.rows("SELECT 1") is not None:
                run.report.failures.append("the server kept running with its WAL filesystem full")
            say(f"PostgreSQL is down with pg_wal full (after {switches} WAL switches); "
                f"server running: {'yes' if cluster.running() else 'no'}; freeing the space and starting it")
            os.remove(filler)
            if not cluster.start():
                run.report.failures.append("the server did not start after the WAL space was freed")
            down_ms = now_ms() - went_down
            say(f"PostgreSQL accepts connections again, {down_ms} ms after the filesystem filled")
        time.sleep(0.2)
    if not filled:
        run.report.failures.append("the jobs were done before a third of them was (raise --jobs)")
    run.finish(f"wal_mb={options.wal_mb} filled_mb={filled // 1048576} switches={switches} "
               f"down_ms={'-' if down_ms is None else down_ms}")
