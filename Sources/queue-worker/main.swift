import CommandLineInterface

await CommandRunner.main(QueueWorkerCommand.self)
