"""The private PostgreSQL cluster of a chaos session (scripts/devdb.sh), or its Citus
cluster (scripts/citus.sh), and psql."""

import glob
import os
import shutil
import subprocess


class Cluster:
    """`settings`: more DEVDB_* variables for a new cluster (DEVDB_WALDIR, DEVDB_CONF)."""

    def __init__(self, root, folder, settings=None):
        self.devdb = os.path.join(root, "scripts", "devdb.sh")
        self.environment = dict(os.environ, DEVDB_DIR=os.path.join(folder, "db"))
        self.environment.pop("DEVDB_PORT", None)
        self.environment.update(settings or {})
        self.url = None
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), key=_version, reverse=True)
        self.psql = candidates[0] if candidates else shutil.which("psql")

    def _devdb(self, command, log=None):
        return subprocess.run(
            [self.devdb, command], env=self.environment, text=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL, check=False)

    def start(self):
        """Starts the cluster (a new one, or the one already there); returns its URL or None."""
        result = self._devdb("start")
        self.url = result.stdout.strip() if result.returncode == 0 else None
        return self.url

    def restart(self, log_path):
        """Fast shutdown and start; True when it came back by itself."""
        with open(log_path, "w") as log:
            if self._devdb("restart", log).returncode == 0:
                return True
        self._devdb("start")
        return False

    def running(self):
        return self._devdb("status").returncode == 0

    def destroy(self):
        return self._devdb("destroy").returncode == 0

    def rows(self, statement, **values):
        """The rows of one statement as lists of text fields; None when it failed
        (e.g. while the server restarts). Values travel as psql variables, quoted
        by psql where the statement says :'name', never spliced into the text."""
        if not self.psql or not self.url:
            return None
        command = [self.psql, "-X", "-q", "-t", "-A", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", self.url]
        for name, value in values.items():
            command += ["-v", f"{name}={value}"]
        result = subprocess.run(
            command + ["-f", "-"], input=statement + "\n", text=True, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, check=False)
        if result.returncode != 0:
            return None
        return [line.split("\t") for line in result.stdout.splitlines() if line]


class CitusCluster(Cluster):
    """A coordinator and two worker nodes (scripts/citus.sh) under FOLDER/citus; the URL
    is the coordinator's. `restart` restarts the coordinator, `restart_worker` a node."""

    def __init__(self, root, folder):
        super().__init__(root, folder)
        self.citus = os.path.join(root, "scripts", "citus.sh")
        self.environment = dict(os.environ, CITUS_DIR=os.path.join(folder, "citus"))
        self.environment.pop("DEVDB_DIR", None)
        self.environment.pop("DEVDB_PORT", None)

    def _script(self, *arguments, log=None):
        return subprocess.run(
            [self.citus, *arguments], env=self.environment, text=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL, check=False)

    def start(self):
        result = self._script("start")
        self.url = result.stdout.strip() if result.returncode == 0 else None
        return self.url

    def distribute(self, log_path):
        """The distributed install (sql/citus), after the migrations; True when done."""
        with open(log_path, "w") as log:
            return self._script("distribute", log=log).returncode == 0

    def worker_of_queue(self, queue):
        """1 or 2: the worker node holding `queue`'s shard of queue.jobs; None if unknown."""
        rows = self.rows(
            "SELECT nodeport FROM pg_dist_shard_placement "
            "WHERE shardid = get_shard_id_for_distribution_column('queue.jobs', :'queue')", queue=queue)
        if not rows:
            return None
        for number in (1, 2):
            url = subprocess.run(
                [self.devdb, "url"], text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False,
                env=dict(os.environ, DEVDB_DIR=os.path.join(self.environment["CITUS_DIR"], f"worker{number}"))).stdout
            if url.strip().rsplit(":", 1)[-1].split("/")[0] == rows[0][0]:
                return number
        return None

    def restart(self, log_path):
        """Restarts the coordinator; True when it came back by itself."""
        environment = dict(os.environ, DEVDB_DIR=os.path.join(self.environment["CITUS_DIR"], "coordinator"))
        with open(log_path, "w") as log:
            return subprocess.run([self.devdb, "restart"], env=environment, text=True, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=log, check=False).returncode == 0

    def restart_worker(self, number, log_path):
        """Fast shutdown and start of worker node `number`; True when it came back."""
        with open(log_path, "w") as log:
            return self._script("restart-worker", str(number), log=log).returncode == 0

    def destroy(self):
        return self._script("stop").returncode == 0


def _version(path):
    try:
        return int(path.split("/")[4])
    except (IndexError, ValueError):
        return 0
