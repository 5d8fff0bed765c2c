"""Every run by its name on the command line (options.RUNS), in one place."""

from .connection_runs import max_connections, terminate_backends
from .horizon_runs import idle_in_transaction, snapshot_reader
from .runs import kill_workers, payout, restart_db, stall
from .wal_full import wal_full

RUNNERS = {
    "kill-workers": kill_workers, "restart-db": restart_db, "stall": stall, "payout": payout,
    "terminate-backends": terminate_backends, "max-connections": max_connections,
    "idle-in-transaction": idle_in_transaction, "snapshot-reader": snapshot_reader, "wal-full": wal_full,
}
