"""The private PostgreSQL cluster of a chaos session (scripts/devdb.sh) and psql."""

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


def _version(path):
    try:
        return int(path.split("/")[4])
    except (IndexError, ValueError):
        return 0
