import CommandLineInterface

// platform-bench: the platform's two batch paths at production sizes against one
// server — coupon expiry (one job, set-based batches) and notification dispatch
// (one job per message) — run through real JobWorkers. See PlatformBenchCommand.help.

await CommandRunner.main(PlatformBenchCommand.self)
