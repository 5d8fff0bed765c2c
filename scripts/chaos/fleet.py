"""The worker processes of one run: started, killed, stopped, replaced, counted."""

import os
import random
import signal
import socket
import subprocess
import time
import urllib.request


def alive(process):
    """Running or stopped, not exited (a zombie counts as exited)."""
    if process.poll() is not None:
        return False
    try:
        with open(f"/proc/{process.pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def application_name(worker):
    """What a chaos worker's connections show in pg_stat_activity.application_name."""
    return f"chaos-{worker}"


def free_port():
    """A loopback port nothing listens on now (for a worker's --metrics-port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Fleet:
    """`command(name, port)` gives a worker's argv; workers get names prefix0, prefix1, ...
    and the application name `application_name(name)` (PGAPPNAME) on their database
    connections, by which a run finds their server processes in pg_stat_activity."""

    def __init__(self, command, prefix, log_dir, tracker, say, with_metrics):
        self.command, self.prefix, self.log_dir = command, prefix, log_dir
        self.tracker, self.say, self.with_metrics = tracker, say, with_metrics
        self.live = {}  # name -> Popen
        self.ports = {}  # name -> metrics port
        self.started = self.deaths = self.killed = 0
        self.failures = []

    def start(self):
        name = f"{self.prefix}{self.started}"
        port = free_port() if self.with_metrics else None
        if port:
            self.ports[name] = port
        self.live[name] = self.tracker.spawn(
            self.command(name, port), os.path.join(self.log_dir, f"{name}.log"), {"PGAPPNAME": application_name(name)})
        self.started += 1
        return name

    def random_name(self):
        return random.choice(sorted(self.live))

    def kill(self, name):
        """SIGKILL (not replaced here); counted in `killed`."""
        process = self.live.pop(name)
        process.kill()
        process.wait()
        self.killed += 1
        return process.pid

    def reap_deaths(self):
        """Workers that exited without being told to are deaths, an engine failure:
        each is reported and replaced so that the run can finish."""
        for name, process in list(self.live.items()):
            if alive(process):
                continue
            status = process.wait()
            del self.live[name]
            self.deaths += 1
            log = os.path.join(self.log_dir, f"{name}.log")
            self.failures.append(f"worker {name} died (exit status {status}); see {log}")
            self.say(f"WORKER DIED: {name} (pid {process.pid}), exit status {status}; its last log lines:")
            for line in _tail(log, 8):
                print("      " + line[:400])
            self.say(f"started {self.start()} in its place")

    def stop(self):
        """SIGTERM every worker; each must exit 0 within 40 s."""
        for process in self.live.values():
            _signal(process, signal.SIGCONT)
            _signal(process, signal.SIGTERM)
        deadline = time.monotonic() + 40
        for name, process in self.live.items():
            try:
                status = process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                status = process.wait()
                self.failures.append(f"worker {name} did not exit within 40 s of SIGTERM")
                continue
            if status != 0:
                self.failures.append(f"worker {name} exited with status {status} on SIGTERM")
        self.live = {}

    def scrape(self, name):
        """Worker `name`'s /metrics text, or None when it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=10) as response:
                return response.read().decode()
        except (OSError, KeyError):
            return None

    def save_metrics(self, name, path):
        """Worker `name`'s /metrics (Prometheus text) into `path`, for the verdict."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=10) as response:
                with open(path, "wb") as file:
                    file.write(response.read())
            return True
        except (OSError, KeyError):
            self.failures.append(f"could not read the /metrics of {name} (port {self.ports.get(name)})")
            return False


def _signal(process, number):
    try:
        process.send_signal(number)
    except ProcessLookupError:
        pass


def _tail(path, count):
    try:
        with open(path, errors="replace") as file:
            return file.read().splitlines()[-count:]
    except OSError:
        return []
