"""Compares the demo's closing summaries of two runs of the same seed (one server and
a Citus cluster): scripts/check-run.sh --citus."""
