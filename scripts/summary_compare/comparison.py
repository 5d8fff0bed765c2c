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


# Job kinds of the payout run, which the demo does not run on Citus: its payments are a
# batch with a completion callback, and the distributed install refuses batches.
PAYOUT_KIND_PREFIX = "payout."


def differences(expected, actual, without_payouts=False):
    """The seed-decided figures on which two summaries differ, as readable lines.
    `without_payouts`: the second run did not run the payout run, so its job kinds
    are not compared."""
    problems = []
    fields = (set(expected) | set(actual)) - set(MOMENT_FIELDS) - {"jobs"}
    for field in sorted(fields):
        if expected.get(field) != actual.get(field):
            problems.append(f"{field}: {expected.get(field)!r} on one server, {actual.get(field)!r} on Citus")
    expected_jobs = {job["kind"]: job for job in expected.get("jobs", [])}
    actual_jobs = {job["kind"]: job for job in actual.get("jobs", [])}
    for kind in sorted(set(expected_jobs) | set(actual_jobs)):
        if without_payouts and kind.startswith(PAYOUT_KIND_PREFIX):
            continue
        one, other = expected_jobs.get(kind, {}), actual_jobs.get(kind, {})
        compared = ["failed"] if kind in MOMENT_JOB_KINDS else ["completed", "failed"]
        for count in compared:
            if one.get(count, 0) != other.get(count, 0):
                problems.append(
                    f"jobs {kind} {count}: {one.get(count, 0)} on one server, {other.get(count, 0)} on Citus")
    return problems
