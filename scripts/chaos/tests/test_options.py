import unittest

from chaos.options import RUNS, UsageError, parse


class OptionsTests(unittest.TestCase):
    def test_defaults_run_everything_at_full_size(self):
        options = parse([], {})
        self.assertEqual(options.runs, list(RUNS))
        self.assertEqual((options.jobs, options.workers, options.restarts, options.timeout), (50000, 4, 2, 900))
        self.assertEqual(options.lease, 5.0)

    def test_small_sets_ci_sizes_but_explicit_options_and_variables_win(self):
        small = parse(["--small"], {})
        self.assertEqual((small.jobs, small.kills, small.restarts, small.payout_cleaners), (3000, 1, 1, 100))
        self.assertEqual(parse(["--jobs", "500", "--small"], {}).jobs, 500, "an option after or before --small wins")
        self.assertEqual(parse(["--small"], {"CHAOS_JOBS": "700"}).jobs, 700)
        self.assertEqual(parse(["--jobs", "900"], {"CHAOS_JOBS": "700"}).jobs, 900, "argv wins over the variable")

    def test_small_holds_briefly_and_without_connections_for_seconds(self):
        small = parse(["--small"], {})
        self.assertEqual((small.hold_seconds, small.calm_seconds, small.rate, small.exhaust_seconds), (15.0, 8.0, 150, 5.0))
        full = parse(["idle-in-transaction"], {})
        self.assertEqual((full.hold_seconds, full.rate), (180.0, 300), "minutes idle at full size")

    def test_runs_are_chosen_in_order_once_each(self):
        self.assertEqual(parse(["stall", "kill-workers", "stall"], {}).runs, ["stall", "kill-workers"])

    def test_citus_runs_its_own_runs_and_refuses_the_others(self):
        self.assertFalse(parse([], {}).citus)
        self.assertEqual(parse(["--citus"], {}).runs, ["kill-workers", "stall", "restart-node", "payout"])
        self.assertTrue(parse([], {"CHAOS_CITUS": "1"}).citus)
        self.assertEqual(parse(["--citus", "--small", "stall"], {}).runs, ["stall"])
        with self.assertRaises(UsageError) as raised:
            parse(["--citus", "restart-db"], {})
        self.assertIn("the run 'restart-db' does not run on a Citus cluster", str(raised.exception))
        with self.assertRaises(UsageError) as raised:
            parse(["restart-node"], {})
        self.assertIn("the run 'restart-node' does not run without --citus", str(raised.exception))

    def test_help_is_asked_for(self):
        self.assertIsNone(parse(["--jobs", "5", "--help"], {}))
        self.assertIsNone(parse(["-h"], {}))

    def test_bad_input_names_what_to_fix(self):
        cases = [
            (["--jobs", "ten"], "--jobs must be a whole number, got 'ten'"),
            (["--lease", "-1"], "--lease must be a number of seconds, got '-1'"),
            (["--jobs"], "--jobs needs a value"),
            (["--jobs", ""], "--jobs needs a value"),
            (["--workers", "1"], "--workers must be at least 2"),
            (["--jobs", "0"], "--jobs must be at least 1"),
            (["--payout-workers", "1"], "--payout-workers must be at least 2"),
            (["--wal-mb", "32"], "--wal-mb must be at least 64"),
            (["--rate", "0"], "--rate must be at least 1"),
            (["explode"], "unknown argument 'explode'"),
        ]
        for argv, message in cases:
            with self.subTest(argv=argv):
                with self.assertRaises(UsageError) as raised:
                    parse(argv, {})
                self.assertIn(message, str(raised.exception))
        with self.assertRaises(UsageError) as raised:
            parse([], {"CHAOS_KILL_EVERY": "soon"})
        self.assertIn("--kill-every must be a number of seconds, got 'soon'", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
