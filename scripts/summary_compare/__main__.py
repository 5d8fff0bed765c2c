"""python3 -m summary_compare SINGLE_SUMMARY CITUS_SUMMARY [--reports SINGLE_CSV CITUS_CSV]

Exits 0 when the two demo summaries (jobsctl summary --json) agree on every figure the
seed decides, and the two payout reports, when given, are equal; 1 when they differ,
2 on bad usage or an unreadable file."""

import argparse
import csv
import json
import sys

from .comparison import MOMENT_FIELDS, MOMENT_JOB_KINDS, TARGET_JOB_KINDS, differences, report_differences


def main(argv=None):
    parser = argparse.ArgumentParser(prog="summary_compare", description=__doc__.splitlines()[0])
    parser.add_argument("single", help="summary JSON of the single-server run")
    parser.add_argument("citus", help="summary JSON of the Citus run")
    parser.add_argument("--reports", nargs=2, metavar=("SINGLE_CSV", "CITUS_CSV"),
                        help="the two runs' payout reports (jobsctl payouts run --report), compared line by line")
    arguments = parser.parse_args(argv)
    try:
        with open(arguments.single, encoding="utf-8") as handle:
            single = json.load(handle)
        with open(arguments.citus, encoding="utf-8") as handle:
            citus = json.load(handle)
        problems = differences(single, citus)
        if arguments.reports:
            reports = []
            for path in arguments.reports:
                with open(path, encoding="utf-8", newline="") as handle:
                    reports.append(list(csv.reader(handle)))
            problems += report_differences(*reports)
    except (OSError, ValueError) as error:
        print(f"summary_compare: error: {error}", file=sys.stderr)
        return 2
    for name, why in {**MOMENT_FIELDS, **{f"jobs {kind} completed": why for kind, why in MOMENT_JOB_KINDS.items()}}.items():
        print(f"  not compared: {name} (depends on the run's moment: {why})")
    for kind, why in TARGET_JOB_KINDS.items():
        print(f"  not compared: jobs {kind} completed (one target only: {why})")
    if problems:
        print("summary_compare: the Citus run's summary differs from the single server's:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print("summary_compare: the Citus run's summary equals the single server's on every figure the seed decides")
    return 0


sys.exit(main())
