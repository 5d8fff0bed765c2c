import CommandLineInterface

await CommandRunner.main(BatchBenchCommand.self)
