"""Entry point: python3 -m chaos [OPTIONS] [RUN ...] (scripts/chaos.sh sets the path)."""

import fcntl
import os
import shutil
import signal
import subprocess
import sys

from .cluster import Cluster
from .options import HELP, UsageError, parse
from .registry import RUNNERS
from .runs import Session
from .tracker import ProcessTracker
from . import wal_full

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = ("queue-testbed", "queue-worker", "jobsctl")


def fail(message, status=2):
    print(f"chaos: {message}", file=sys.stderr)
    sys.exit(status)


def binaries(options):
    """The folder of the release binaries: --bin, or a release build now."""
    if options.bin:
        return options.bin
    build = ["swift", "build", "-c", "release", "-Xswiftc", "-warnings-as-errors"]
    if options.scratch_path:
        build += ["--scratch-path", options.scratch_path]
    print(f"chaos: building release binaries ({' '.join(build)})", flush=True)
    result = subprocess.run(build, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    for line in result.stdout.splitlines():
        if not (line.startswith("[") and "/" in line.split("]")[0]):
            print(line)
    if result.returncode != 0:
        fail("the release build failed", 1)
    shown = subprocess.run(build + ["--show-bin-path"], cwd=ROOT, text=True, stdout=subprocess.PIPE, check=False)
    if shown.returncode != 0:
        fail("cannot find the build folder")
    return shown.stdout.strip()


def main(argv):
    try:
        options = parse(argv, os.environ)
    except UsageError as error:
        fail(str(error))
    if options is None:
        print(HELP, end="")
        return 0
    if not shutil.which("swift") and os.path.isdir("/opt/swift/usr/bin"):
        os.environ["PATH"] = "/opt/swift/usr/bin:" + os.environ["PATH"]
    bin_dir = binaries(options)
    for tool in TOOLS:
        if not os.access(os.path.join(bin_dir, tool), os.X_OK):
            fail(f"{bin_dir}/{tool} is missing; build with: swift build -c release")

    folder = os.path.abspath(options.dir or os.path.join(ROOT, ".chaos"))
    os.makedirs(folder, exist_ok=True)
    lock = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fail(f"another chaos run is using {folder} (use --dir for a second one)")
    tracker = ProcessTracker(folder)
    tracker.remove_leftovers()
    wal_full.remove(ROOT, folder)
    cluster = Cluster(ROOT, folder)
    cluster.destroy()
    shutil.rmtree(os.path.join(folder, "logs"), ignore_errors=True)

    def cleanup():
        tracker.kill_all()
        wal_full.remove(ROOT, folder)
        if not cluster.destroy():
            print(f"chaos: could not remove the cluster in {folder}/db", file=sys.stderr)

    def interrupted(_number, _frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nchaos: interrupted; stopping workers and removing the cluster", file=sys.stderr)
        cleanup()
        os._exit(130)

    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, interrupted)
    try:
        return run_all(options, bin_dir, folder, cluster, tracker)
    finally:
        cleanup()


def run_all(options, bin_dir, folder, cluster, tracker):
    print(f"chaos: starting a private PostgreSQL cluster in {folder}/db", flush=True)
    url = cluster.start()
    if not url:
        fail("the cluster did not start", 1)
    os.environ["DATABASE_URL"] = url
    session = Session(options, bin_dir, folder, cluster, tracker)
    status, output = session.run_tool([session.tool("jobsctl"), "migrate", "--migrations", os.path.join(ROOT, "sql")])
    if status != 0:
        print(output, file=sys.stderr)
        fail("migrations failed", 1)
    if cluster.rows("CREATE TABLE IF NOT EXISTS testbed_effects (job_id bigint NOT NULL, attempt integer NOT NULL,"
                    " worker text NOT NULL, at timestamptz NOT NULL DEFAULT now())") is None:
        fail("cannot create testbed_effects", 1)
    print(f"chaos: database {url}; binaries {bin_dir}")
    print(f"chaos: jobs={options.jobs} workers={options.workers} concurrency={options.concurrency} "
          f"sleep_ms={options.sleep_ms} runs: {' '.join(options.runs)}")
    if "payout" in options.runs:
        print(f"chaos: payout: cleaners={options.payout_cleaners} orders={options.payout_orders} "
              f"customers={options.payout_customers} seed={options.seed} workers={options.payout_workers} "
              f"lease={options.payout_lease:g}s", flush=True)
    for name in options.runs:
        RUNNERS[name](session)
    print(f"\nchaos: verdicts (worker logs in {folder}/logs)")
    for line in session.verdicts:
        print(line)
    return 1 if session.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
