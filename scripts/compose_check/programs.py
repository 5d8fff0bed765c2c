"""What the programs and the package say about themselves: each executable's
`--describe-json` (commands, options, served queues) and the executable products of
`swift package dump-package`. Loaded from a build, or from files in tests."""

import json
import os
import subprocess

DEPLOYED_PROGRAMS = ("jobsctl", "queue-worker")


class FactsError(Exception):
    """The facts cannot be read; the message says what to do."""


class ProgramFacts:
    def __init__(self, descriptions, executable_products, links_libpq, source):
        self.descriptions = descriptions  # program -> its --describe-json document
        self.executable_products = set(executable_products)
        self.links_libpq = links_libpq
        self.source = source  # where they came from, for the report

    @classmethod
    def from_package_dump(cls, descriptions, package, source):
        products = {product["name"] for product in package.get("products", [])
                    if "executable" in (product.get("type") or {})}
        links_libpq = any(target.get("pkgConfig") == "libpq" for target in package.get("targets", []))
        return cls(descriptions, products, links_libpq, source)

    @classmethod
    def from_build(cls, root, bin_dir, swift="swift"):
        descriptions = {}
        for program in DEPLOYED_PROGRAMS:
            path = os.path.join(bin_dir, program)
            if not os.access(path, os.X_OK):
                raise FactsError(f"{path} is missing; build first (swift build -c release) or pass --bin DIR")
            descriptions[program] = _run_json([path, "--describe-json"], f"{program} --describe-json")
        package = _run_json([swift, "package", "--package-path", root, "dump-package"], "swift package dump-package")
        return cls.from_package_dump(descriptions, package, f"--describe-json of the programs in {bin_dir}")

    @classmethod
    def from_files(cls, folder):
        """A folder with PROGRAM.json descriptions and package.json (tests)."""
        descriptions = {}
        for program in DEPLOYED_PROGRAMS:
            with open(os.path.join(folder, f"{program}.json"), encoding="utf-8") as handle:
                descriptions[program] = json.load(handle)
        with open(os.path.join(folder, "package.json"), encoding="utf-8") as handle:
            package = json.load(handle)
        return cls.from_package_dump(descriptions, package, f"descriptions in {folder}")

    def command(self, program, path):
        """The description of `program path...`, or None when there is no such command."""
        node = self.descriptions.get(program)
        for word in path:
            if node is None:
                return None
            node = next((child for child in node.get("commands", []) if child["name"] == word), None)
        return node

    @staticmethod
    def subcommands(node):
        return [child["name"] for child in node.get("commands", [])]

    @staticmethod
    def options(node):
        """--option -> takes a value; --help is always accepted."""
        found = {"--help": False}
        found.update({option["name"]: option["takes_value"] for option in node.get("options", [])})
        return found

    def default_queues(self, program):
        """Queue -> concurrency a worker program works without --queues, or None."""
        work = (self.descriptions.get(program) or {}).get("work")
        return dict(work["default_queues"]) if work else None


def _run_json(argv, what):
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FactsError(f"{what} did not run: {error}") from error
    if run.returncode != 0:
        detail = (run.stderr or run.stdout).strip().splitlines()
        raise FactsError(f"{what} failed (exit {run.returncode}): {detail[-1] if detail else 'no output'}")
    try:
        return json.loads(run.stdout)
    except ValueError as error:
        raise FactsError(f"{what} printed no JSON: {error}") from error
