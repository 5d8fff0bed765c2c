"""Fault-injection runs ("proven under failure") of the queue and the payout run.

scripts/chaos.sh starts this package; `python3 -m chaos --help` tells the runs and
options. It orchestrates: a private cluster, worker processes, faults. Verdicts come
from the programs that read the database (`queue-testbed verdict`,
`jobsctl payouts audit`), never from log wording.
"""
