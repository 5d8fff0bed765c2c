"""What two demo runs of the same seed must agree on.

A summary (`jobsctl summary --json`) mixes figures the seed decides (exams graded, tier
changes, payouts, quality decisions …) with figures that depend on the moment and
length of the run: which reminders came due while it ran, how the simulated cleaners'
answers raced their offers' expiry, which coupons ended between its start and its end.
The first must be equal; the second differ between any two runs, on one server too,
so they are not compared here — scripts/check-run.sh checks them in each run against
figures computed from that run's own data.
"""

# Job kinds whose count depends on the run's moment, with why.
MOMENT_JOB_KINDS = {
    "order.reminder": "reminders that came due while the run lasted",
    "notification.dispatch": "messages of those reminders and of the dispatch simulation",
    "notification.dispatch_batch": "how those messages fell into batches",
    "order.dispatch": "offering rounds, raced by the simulated cleaners' answers",
    "order.dispatch_offer_expiry": "offers that expired before a simulated answer",
    "campaign.send_batch": "campaign batches wait for marketing hours (08:00–21:00 Shanghai)",
}
# Top-level summary fields that depend on the run's moment, with why.
MOMENT_FIELDS = {
    "notifications": "the messages counted under notification.dispatch",
    "dispatch": "the simulated cleaners answer in real time",
    "couponsExpired": "coupons whose end fell between the seed's moment and the expiry job's",
    "couponRemindersQueued": "coupons ending within the reminder window at the job's moment",
    "campaigns": "sent and waiting depend on marketing hours and the outbox's progress at the moment "
                 "(check-run checks each run's targeting against its data)",
}


# Job kinds that exist on one target only, with why: not a figure of the seed, a
# difference of mechanism, whose outcome is compared through the other figures.
TARGET_JOB_KINDS = {
    "payout.finish_run": "the payout run's batch callback, which runs where batches do (one server); on Citus, "
                         "which refuses batches, the last payment completes the run (payout.settle_cleaner and "
                         "the payout report are compared)",
}


def differences(expected, actual):
    """The seed-decided figures on which two summaries differ, as readable lines."""
    problems = []
    fields = (set(expected) | set(actual)) - set(MOMENT_FIELDS) - {"jobs"}
    for field in sorted(fields):
        if expected.get(field) != actual.get(field):
            problems.append(f"{field}: {expected.get(field)!r} on one server, {actual.get(field)!r} on Citus")
    expected_jobs = {job["kind"]: job for job in expected.get("jobs", [])}
    actual_jobs = {job["kind"]: job for job in actual.get("jobs", [])}
    for kind in sorted(set(expected_jobs) | set(actual_jobs)):
        one, other = expected_jobs.get(kind, {}), actual_jobs.get(kind, {})
        compared = ["failed"] if kind in MOMENT_JOB_KINDS or kind in TARGET_JOB_KINDS else ["completed", "failed"]
        for count in compared:
            if one.get(count, 0) != other.get(count, 0):
                problems.append(
                    f"jobs {kind} {count}: {one.get(count, 0)} on one server, {other.get(count, 0)} on Citus")
    return problems


def report_differences(expected_rows, actual_rows):
    """The lines on which two payout reports (CSV rows, header first) differ: the run
    pays what the seed decides, so every line must be equal."""
    if expected_rows == actual_rows:
        return []
    if len(expected_rows) != len(actual_rows):
        return [f"payout report: {len(expected_rows) - 1} rows on one server, {len(actual_rows) - 1} on Citus"]
    return [f"payout report row {index}: {one} on one server, {other} on Citus"
            for index, (one, other) in enumerate(zip(expected_rows, actual_rows)) if one != other]
