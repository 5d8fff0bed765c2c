import unittest

from chaos.horizon_runs import summary
from chaos.scrape import claim_totals, sample

SCRAPE = """\
# HELP queue_worker_fenced_outcomes_total Attempts fenced.
# TYPE queue_worker_fenced_outcomes_total counter
queue_worker_fenced_outcomes_total{at="run"} 2
queue_worker_fenced_outcomes_total{at="write"} 0
queue_worker_database_outages_total 1
queue_worker_claim_seconds_bucket{le="+Inf"} 40
queue_worker_claim_seconds_sum 0.125
queue_worker_claim_seconds_count 40
"""


class ScrapeTests(unittest.TestCase):
    def test_samples_are_found_by_name_and_labels(self):
        self.assertEqual(sample(SCRAPE, "queue_worker_database_outages_total"), 1.0)
        self.assertEqual(sample(SCRAPE, "queue_worker_fenced_outcomes_total", {"at": "run"}), 2.0)
        self.assertIsNone(sample(SCRAPE, "queue_worker_fenced_outcomes_total"), "a labelled sample needs its labels")
        self.assertIsNone(sample(SCRAPE, "queue_worker_claim_seconds"), "a name is matched whole")

    def test_claim_totals_are_the_histograms_sum_and_count(self):
        self.assertEqual(claim_totals(SCRAPE), (0.125, 40))
        self.assertEqual(claim_totals(""), (0.0, 0))


class SummaryTests(unittest.TestCase):
    def entry(self, phase, claims, claim_ms, dead, active=0):
        return {"phase": phase, "claims": claims, "claim_ms": claim_ms, "dead": dead, "table_mb": dead / 1000,
                "index_mb": 1.0, "xmin_age": 5, "active": active}

    def test_claim_time_is_weighted_by_claims_and_the_hold_shows_its_first_and_last_sample(self):
        samples = [
            self.entry("before", 100, 1.0, 10), self.entry("before", 300, 2.0, 20),
            self.entry("hold", 100, 3.0, 500), self.entry("hold", 100, 9.0, 900, active=40),
            self.entry("after", 100, 8.0, 12), self.entry("after", 100, 1.5, 300),
        ]
        figures = dict(word.split("=") for word in summary(samples))
        self.assertEqual(figures["claim_ms_before"], "1.75")
        self.assertEqual(figures["claim_ms_hold_start"], "3.0")
        self.assertEqual(figures["claim_ms_hold_end"], "9.0")
        self.assertEqual(figures["claim_ms_after"], "1.5", "the sample taken as the hold ended is left out")
        self.assertEqual((figures["dead_before"], figures["dead_hold_end"], figures["dead_after_vacuum"]), ("20", "900", "12"),
                         "dead tuples right after VACUUM: the first sample after the hold")
        self.assertEqual(figures["backlog_max"], "40")

    def test_missing_phases_show_a_dash(self):
        figures = dict(word.split("=") for word in summary([self.entry("before", 0, 0.0, 1)]))
        self.assertEqual(figures["claim_ms_before"], "0.0")
        self.assertEqual(figures["dead_hold_end"], "-")


if __name__ == "__main__":
    unittest.main()
