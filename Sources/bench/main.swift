import CommandLineInterface

await CommandRunner.main(Bench.self)
