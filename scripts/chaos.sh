#!/usr/bin/env bash
# Fault-injection runs ("proven under failure"): kill-workers, restart-db, stall and
# payout; then the database side: terminate-backends, max-connections,
# idle-in-transaction, snapshot-reader and wal-full (root: it mounts a tmpfs). Against
# a private PostgreSQL cluster under .chaos/, each judged from the database by
# `queue-testbed verdict` / `jobsctl payouts audit`.
#
#   scripts/chaos.sh [OPTIONS] [RUN ...]     the runs (--help: runs, sizes, faults)
#   scripts/chaos.sh --small                 CI sizes (three to four minutes)
#   scripts/chaos.sh --test                  the orchestrator's own unit tests
#
# The orchestration is the Python package in scripts/chaos/ (standard library only).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"
if [[ "${1:-}" == --test ]]; then
    exec python3 -m unittest discover -s "$ROOT/scripts/chaos/tests" -t "$ROOT/scripts"
fi
exec python3 -m chaos "$@"
