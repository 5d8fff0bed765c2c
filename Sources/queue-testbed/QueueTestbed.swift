import CommandLineInterface

/// `queue-testbed`: a worker with synthetic job kinds, and a bulk enqueuer, for the
/// engine's process-level tests, benchmarks and fault-injection runs.
struct QueueTestbed: CommandGroup {
    static let name = "queue-testbed"
    static let summary = "synthetic jobs for tests, benchmarks and fault injection"
    static let help = """
        queue-testbed — runs the queue engine with synthetic job kinds

        Kinds: testbed.noop, testbed.effect (records an effect row, exactly once),
        testbed.sleep {"ms": N}, testbed.fail {"times": N},
        testbed.limited {"key": K, "limit": N, "windowMs": N} (under a shared rate limit),
        testbed.interval {"holdMs": N} (records when it ran, in testbed_intervals).

        Usage: queue-testbed COMMAND [OPTIONS]
        """
    static let subcommands: [any CommandDescription.Type] = [
        TestbedWorkCommand.self, TestbedEnqueueCommand.self, TestbedVerdictCommand.self, TestbedProgressCommand.self,
        TestbedHeldCommand.self, TestbedProduceCommand.self,
    ]
}
