"""The comparison finds a difference in any seed-decided figure and ignores the
figures that depend on the run's moment, and the payout run's batch callback, which
exists on one server only."""

import copy
import unittest

from summary_compare.comparison import differences, report_differences

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

    def test_the_payout_runs_batch_callback_is_not_compared_but_its_payments_are(self):
        single = copy.deepcopy(SUMMARY)
        single["jobs"].append({"kind": "payout.finish_run", "completed": 1, "failed": 0})
        self.assertEqual(differences(single, SUMMARY), [], "no callback on Citus: the last payment completes the run")
        other = copy.deepcopy(SUMMARY)
        other["jobs"][1]["completed"] = 31
        self.assertEqual(len(differences(single, other)), 1, "a payment more is a difference")
        failed = copy.deepcopy(single)
        failed["jobs"][-1]["failed"] = 1
        self.assertEqual(len(differences(failed, SUMMARY)), 1, "a failed callback is a difference")

    def test_payout_reports_must_be_equal_line_by_line(self):
        report = [["cleaner_id", "gross_fen"], ["7", "1000"], ["", "1000"]]
        self.assertEqual(report_differences(report, copy.deepcopy(report)), [])
        other = copy.deepcopy(report)
        other[1][1] = "999"
        self.assertEqual(len(report_differences(report, other)), 1)
        self.assertEqual(len(report_differences(report, report[:2])), 1, "a missing line is a difference")

if __name__ == "__main__":
    unittest.main()
