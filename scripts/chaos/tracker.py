"""Every process a chaos session starts, recorded in DIR/pids so that a session
killed with SIGKILL has its processes removed by the next one."""

import os
import signal
import subprocess

# Command lines of processes this package starts (checked before killing a
# recorded pid, which may have been reused).
OWN_COMMANDS = ("queue-testbed work --queues chaos_", "queue-worker --queues payouts=", "jobsctl payouts run --period ")


class ProcessTracker:
    def __init__(self, folder):
        self.path = os.path.join(folder, "pids")
        self.processes = []

    def remove_leftovers(self):
        try:
            with open(self.path) as file:
                pids = [int(line) for line in file if line.strip().isdigit()]
        except OSError:
            return
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as file:
                    command = file.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(own in command for own in OWN_COMMANDS):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        os.remove(self.path)

    def spawn(self, argv, log_path, environment=None):
        """Starts `argv` with its output in `log_path`; `environment`: variables to add."""
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=dict(os.environ, **environment) if environment else None)
        self.processes.append(process)
        with open(self.path, "a") as file:
            file.write(f"{process.pid}\n")
        return process

    def kill_all(self):
        for process in self.processes:
            if process.poll() is None:
                try:
                    process.send_signal(signal.SIGCONT)
                    process.kill()
                except ProcessLookupError:
                    pass
        for process in self.processes:
            process.wait()
        if os.path.exists(self.path):
            os.remove(self.path)
