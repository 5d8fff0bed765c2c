"""The comparison finds a difference in any seed-decided figure and ignores the
figures that depend on the run's moment."""

import copy
import unittest

from summary_compare.comparison import differences

SUMMARY = {
    "certificationsGranted": 12,
    "complaintEscalations": 36,
    "couponRemindersQueued": 5,
    "couponsExpired": 67,
    "dispatch": {"matched": 14, "started": 61, "medianSecondsToAssignment": 0.95},
    "jobs": [
        {"kind": "order.reminder", "completed": 34, "failed": 0},
        {"kind": "payout.settle_cleaner", "completed": 30, "failed": 0},
        {"kind": "tier.recalculate", "completed": 1, "failed": 0},
    ],
    "notifications": [{"count": 501, "reason": "", "status": "sent"}],
    "qualityDecisions": {"fine": 3, "reward": 8},
    "tierChanges": 235,
}


class Comparison(unittest.TestCase):
    def test_equal_summaries_have_no_differences(self):
        self.assertEqual(differences(SUMMARY, copy.deepcopy(SUMMARY)), [])

    def test_moment_dependent_figures_are_not_compared(self):
        other = copy.deepcopy(SUMMARY)
        other["couponsExpired"] = 68
        other["dispatch"]["matched"] = 15
        other["notifications"][0]["count"] = 499
        other["jobs"][0]["completed"] = 33
        self.assertEqual(differences(SUMMARY, other), [])

    def test_a_seed_decided_figure_that_differs_is_reported(self):
        other = copy.deepcopy(SUMMARY)
        other["tierChanges"] = 234
        other["qualityDecisions"]["fine"] = 2
        self.assertEqual(len(differences(SUMMARY, other)), 2)

    def test_a_job_count_that_differs_is_reported_and_failures_always_count(self):
        other = copy.deepcopy(SUMMARY)
        other["jobs"][1]["completed"] = 29
        other["jobs"][0]["failed"] = 1
        problems = differences(SUMMARY, other)
        self.assertEqual(len(problems), 2, problems)
        self.assertTrue(any("payout.settle_cleaner completed" in problem for problem in problems))
        self.assertTrue(any("order.reminder failed" in problem for problem in problems))

    def test_a_kind_that_ran_in_one_run_only_is_reported(self):
        other = copy.deepcopy(SUMMARY)
        del other["jobs"][2]
        self.assertEqual(len(differences(SUMMARY, other)), 1)

    def test_without_payouts_the_payout_kinds_are_not_compared_but_the_rest_is(self):
        other = copy.deepcopy(SUMMARY)
        del other["jobs"][1]
        self.assertEqual(len(differences(SUMMARY, other)), 1)
        self.assertEqual(differences(SUMMARY, other, without_payouts=True), [])
        other["tierChanges"] = 1
        self.assertEqual(len(differences(SUMMARY, other, without_payouts=True)), 1)

if __name__ == "__main__":
    unittest.main()
