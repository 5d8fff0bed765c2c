import CommandLineInterface

await CommandRunner.main(QueueTestbed.self)
