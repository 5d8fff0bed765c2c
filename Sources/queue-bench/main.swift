import CommandLineInterface

await CommandRunner.main(QueueBench.self)
