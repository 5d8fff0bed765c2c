"""Another client that takes every connection the server has (max_connections)."""

import threading

from . import pgwire

TOO_MANY_CONNECTIONS = "53300"


class ConnectionHog:
    """Opens connections until the server refuses one with SQLSTATE 53300 (too many
    clients), then keeps taking each connection that frees up, every few
    milliseconds, until `release`. Its first connection is its `admin` session, for
    the statements a run needs while nobody else can connect."""

    def __init__(self, url, application_name="chaos-hog", takers=4):
        self.url, self.application_name = url, application_name
        self.held = []
        self.refusals = 0
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._full = threading.Event()
        # Several at once: slots that free up together (terminated sessions) are
        # taken before their old owners reconnect.
        self._threads = [threading.Thread(target=self._take, daemon=True) for _ in range(takers)]

    @property
    def admin(self):
        """The first connection taken, or None when not even that one was."""
        return self.held[0] if self.held else None

    def start(self, timeout=60):
        """Returns True once the server has refused a connection (every slot is
        taken), False if that did not happen within `timeout` seconds."""
        for thread in self._threads:
            thread.start()
        return self._full.wait(timeout)

    def _take(self):
        while not self._stop.is_set():
            try:
                connection = pgwire.Connection.open(self.url, self.application_name)
                with self._lock:
                    self.held.append(connection)
                continue
            except pgwire.ServerError as error:
                if error.sqlstate != TOO_MANY_CONNECTIONS:
                    self.errors.append(str(error))
                    self._stop.wait(0.5)
                    continue
                with self._lock:
                    self.refusals += 1
                self._full.set()
            except (OSError, pgwire.ConnectionClosed) as error:
                self.errors.append(str(error))
                self._stop.wait(0.5)
                continue
            # A slot that frees up goes to whoever asks first; asking every 10 ms
            # keeps the workers' (retried every 0.1 to 5 s) from getting one.
            self._stop.wait(0.01)

    def release(self):
        """Closes every connection; returns how many there were."""
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()
        count = len(self.held)
        for connection in self.held:
            connection.close()
        self.held = []
        return count

