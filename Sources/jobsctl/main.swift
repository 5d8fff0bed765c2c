import CommandLineInterface

await CommandRunner.main(Jobsctl.self)
