"""python3 -m compose_check --root DIR (--bin DIR | --facts DIR) [COMPOSE_FILE]

Exits 0 when the deployment files pass, 1 when there is a problem, 2 on bad usage
or when the programs' descriptions cannot be read."""

import argparse
import os
import sys

from .checker import ComposeChecker
from .compose_yaml import ComposeFileError
from .programs import FactsError, ProgramFacts


def main(argv=None):
    parser = argparse.ArgumentParser(prog="check-compose", description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="the repository (Package.swift, .dockerignore)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bin", help="build folder with jobsctl and queue-worker (their --describe-json is read)")
    source.add_argument("--facts", help="folder with jobsctl.json, queue-worker.json and package.json instead")
    parser.add_argument("compose", nargs="?", help="compose file (default: ROOT/docker-compose.yml)")
    arguments = parser.parse_args(argv)
    compose = arguments.compose or os.path.join(arguments.root, "docker-compose.yml")
    if not os.path.isfile(compose):
        print(f"check-compose: error: {compose} does not exist", file=sys.stderr)
        return 2
    try:
        facts = (ProgramFacts.from_files(arguments.facts) if arguments.facts
                 else ProgramFacts.from_build(arguments.root, arguments.bin))
    except (FactsError, OSError, ValueError) as error:
        print(f"check-compose: error: {error}", file=sys.stderr)
        return 2
    checker = ComposeChecker(arguments.root, compose, facts)
    try:
        report = checker.run()
    except ComposeFileError as error:
        print(f"check-compose: error: {error}")
        return 1
    for line in report.lines():
        print(line)
    where = checker.relative(checker.compose_path)
    if report.problems:
        print(f"check-compose: FAILED: {len(report.problems)} problem(s) in {where}, .env.example, Dockerfile")
        return 1
    print(f"check-compose: OK: {len(checker.services)} services, {report.checks} checks, {checker.variables} "
          "variables documented in .env.example, every image pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
