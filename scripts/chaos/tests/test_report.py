import datetime
import unittest
from unittest import mock

from chaos import runs
from chaos.report import RunReport, figure, program_figures


class ReportTests(unittest.TestCase):
    def test_figures_are_read_by_name_not_position(self):
        line = "period=2026-W48 status=completed items=100 expected=100 due_orders=491 PASS"
        self.assertEqual(figure("items", line), "100")
        self.assertEqual(figure("due_orders", line), "491")
        self.assertIsNone(figure("orders", line), "a name is matched whole")
        self.assertIsNone(figure("items", ""))

    def test_a_programs_verdict_word_and_leading_period_are_dropped(self):
        figures, rest = program_figures(
            "period=2026-W48 items=3 unbalanced=0 FAIL\n  line 7: paid twice\n", drop_prefix="period")
        self.assertEqual(figures, "items=3 unbalanced=0")
        self.assertEqual(rest, ["  line 7: paid twice"])
        self.assertEqual(program_figures("")[0], "")

    def test_a_run_line_carries_its_figures_and_the_verdict(self):
        report = RunReport("stall")
        self.assertEqual(report.line(["jobs=3", "", "held=1"], True), "stall: jobs=3 held=1 PASS")
        self.assertEqual(report.line(["jobs=3"], False), "stall: jobs=3 FAIL")

    def test_last_week_is_the_iso_week_seven_days_ago_in_the_business_zone(self):
        # 2026-12-07 00:30 in Shanghai is still Sunday 6 December in UTC.
        moment = datetime.datetime(2026, 12, 6, 16, 30, tzinfo=datetime.timezone.utc)
        with mock.patch.object(runs, "datetime", wraps=datetime) as patched:
            patched.datetime = mock.Mock(wraps=datetime.datetime)
            patched.datetime.now = lambda zone: moment.astimezone(zone)
            self.assertEqual(runs.last_week("Asia/Shanghai"), "2026-W49")
            self.assertEqual(runs.last_week("UTC"), "2026-W48")


if __name__ == "__main__":
    unittest.main()
