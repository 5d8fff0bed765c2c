"""The Dockerfile and .dockerignore: pinned bases, no secrets baked in, the copied
binaries are executable products, a non-root final stage with its libraries and
migrations; returns what the final image holds and runs."""

import fnmatch
import json
import os
import re
import shlex

from .secret_rules import URL_WITH_PASSWORD, is_secret_name

# An exact tag names a full version (15.19, 6.3.1-bookworm, 12.15-slim), a dated
# build (bookworm-20260824-slim) or a commit (208702e); bookworm-slim, alpine or 15 move.
_EXACT_TAG = re.compile(r"\d+\.\d+|\d{8}")
_COMMIT_TAG = re.compile(r"(?=.*\d)[0-9a-f]{7,40}")


def image_reference_problem(reference):
    """None when the reference is pinned (a tag other than latest, or a digest)."""
    if not reference:
        return "no image"
    if "$" in reference:
        return f"unresolved variable in {reference!r}"
    if "@sha256:" in reference:
        return None
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"{reference!r} has no tag (that means :latest)"
    tag = last.split(":", 1)[1]
    if not tag:
        return f"{reference!r} has an empty tag"
    if tag == "latest" or tag.endswith("-latest") or tag in ("stable", "edge", "nightly"):
        return f"{reference!r} uses a moving tag ({tag})"
    if not _EXACT_TAG.search(tag) and not _COMMIT_TAG.fullmatch(tag):
        return f"{reference!r} uses a moving tag ({tag}); pin an exact version such as 15.19 or a digest"
    return None


def dockerignore_patterns(context):
    path = os.path.join(context, ".dockerignore")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.strip().startswith("#")]


def ignored(relative, patterns):
    """True when .dockerignore's patterns exclude the path (last match wins; ! re-includes)."""
    parts = relative.strip("/").removeprefix("./").split("/")
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase("/".join(parts[:depth]), pattern) for depth in range(1, len(parts) + 1)):
            result = not negate
    return result


def instructions(path):
    """(line number, KEYWORD, arguments) per instruction, continuation lines joined."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    found, buffer, start = [], "", 0
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("#") or (not buffer and not stripped):
            continue
        if line.rstrip().endswith("\\"):
            buffer += line.rstrip()[:-1] + " "
            start = start or number
            continue
        buffer += line
        keyword, _, arguments = buffer.strip().partition(" ")
        found.append((start or number, keyword.upper(), arguments.strip()))
        buffer, start = "", 0
    return found


class DockerfileChecker:
    """Checks each Dockerfile once; `check` returns {binaries, entrypoint, cmd} or None."""

    def __init__(self, report, executable_products, links_libpq, relative):
        self.report = report
        self.products = executable_products
        self.links_libpq = links_libpq
        self.relative = relative
        self.done = {}

    def check(self, context, dockerfile):
        key = os.path.abspath(dockerfile)
        if key not in self.done:
            self.done[key] = self._check(context, dockerfile)
        return self.done[key]

    def _stages(self, name, dockerfile):
        arguments, stages = {}, []
        for number, keyword, rest in instructions(dockerfile):
            if keyword == "ARG" and not stages:
                argument, _, default = rest.partition("=")
                arguments[argument.strip()] = default.strip().strip('"')
            elif keyword == "FROM":
                tokens = [token for token in rest.split() if not token.startswith("--")]
                image = re.sub(r"\$\{?(\w+)\}?", lambda m: arguments.get(m.group(1), m.group(0)), tokens[0])
                alias = tokens[2] if len(tokens) >= 3 and tokens[1].upper() == "AS" else None
                stages.append({"name": alias, "image": image, "line": number, "instructions": []})
            elif not stages:
                self.report.problem(f"{name}:{number}: {keyword} before the first FROM")
            else:
                stages[-1]["instructions"].append((number, keyword, rest))
        return stages

    def _check(self, context, dockerfile):
        report, name = self.report, self.relative(dockerfile)
        stages = self._stages(name, dockerfile)
        if not stages:
            report.problem(f"{name}: no FROM")
            return None
        stage_names = set()
        for stage in stages:
            report.check()
            if stage["image"] not in stage_names and stage["image"] != "scratch":
                issue = image_reference_problem(stage["image"])
                if issue:
                    report.problem(f"{name}:{stage['line']}: base image not pinned: {issue}")
            if stage["name"]:
                stage_names.add(stage["name"])

        patterns = dockerignore_patterns(context)
        built, installed, copied_context = set(), {}, {}
        for stage in stages:
            final = stage is stages[-1]
            for number, keyword, rest in stage["instructions"]:
                if keyword in ("ENV", "ARG"):
                    self._no_secrets(name, number, keyword, rest)
                elif keyword == "RUN":
                    for product in re.findall(r"--product[= ]\s*([\w.-]+)", rest):
                        built.add(product)
                        if product not in self.products:
                            report.problem(f"{name}:{number}: swift build --product {product}: not an executable "
                                           f"product of Package.swift ({', '.join(sorted(self.products))})")
                elif keyword in ("COPY", "ADD"):
                    self._copy(name, number, keyword, rest, context, patterns, final, installed, copied_context)

        final_instructions = stages[-1]["instructions"]
        binaries = {binary for binary, (_, in_final) in installed.items() if in_final}
        report.check()
        for binary in sorted(binaries):
            if binary not in self.products:
                report.problem(f"{name}:{installed[binary][0]}: copies {binary}, which is not an executable product "
                               "of Package.swift")
            elif built and binary not in built:
                report.problem(f"{name}: copies {binary} but no stage builds it (swift build --product {binary})")
        self._final_stage(name, final_instructions, copied_context)
        return {
            "binaries": binaries,
            "entrypoint": self._exec_form(name, final_instructions, "ENTRYPOINT") or [],
            "cmd": self._exec_form(name, final_instructions, "CMD") or [],
        }

    def _no_secrets(self, name, number, keyword, rest):
        for variable in re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)", rest):
            if is_secret_name(variable):
                self.report.problem(f"{name}:{number}: {keyword} {variable}: no secrets in the image; "
                                    "pass them at run time")
        if URL_WITH_PASSWORD.search(rest) or re.search(r"\bDATABASE_URL=", rest):
            self.report.problem(f"{name}:{number}: {keyword} bakes a database URL into the image")

    def _copy(self, name, number, keyword, rest, context, patterns, final, installed, copied_context):
        tokens = shlex.split(rest)
        flags = [token for token in tokens if token.startswith("--")]
        paths = [token for token in tokens if not token.startswith("--")]
        if len(paths) < 2:
            self.report.problem(f"{name}:{number}: {keyword} needs a source and a destination")
            return
        sources, destination = paths[:-1], paths[-1]
        from_stage = any(flag.startswith("--from=") for flag in flags)
        for source in sources:
            if from_stage:
                installed[os.path.basename(source.rstrip("/"))] = (number, final)
                continue
            if not os.path.exists(os.path.join(context, source)):
                self.report.problem(f"{name}:{number}: {keyword} {source}: not in the build context "
                                    f"{self.relative(context)}")
            elif ignored(source, patterns):
                self.report.problem(f"{name}:{number}: {keyword} {source}: excluded by .dockerignore")
            if final:
                copied_context[source.rstrip("/")] = destination.rstrip("/")

    def _final_stage(self, name, final_instructions, copied_context):
        report = self.report
        users = [rest for _, keyword, rest in final_instructions if keyword == "USER"]
        report.check()
        if not users:
            report.problem(f"{name}: the final stage runs as root (no USER)")
        elif users[-1].split(":")[0] in ("root", "0"):
            report.problem(f"{name}: the final stage's USER is root")
        environment = {}
        for _, keyword, rest in final_instructions:
            if keyword == "ENV":
                for variable, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\S*)", rest):
                    environment[variable] = value.strip('"')
        migrations = environment.get("MIGRATIONS_DIR")
        report.check()
        if migrations is None:
            report.problem(f"{name}: the final stage sets no MIGRATIONS_DIR")
        elif copied_context.get("sql") != migrations:
            report.problem(f"{name}: MIGRATIONS_DIR={migrations} but sql/ is not copied there "
                           f"(COPY sql {copied_context.get('sql', '…')})")
        packages = set()
        for _, keyword, rest in final_instructions:
            if keyword == "RUN":
                for install in re.findall(r"apt-get\s+(?:-\S+\s+)*install\s+([^&;|]*)", rest):
                    packages.update(token for token in install.split() if not token.startswith("-"))
        report.check()
        if self.links_libpq and "libpq5" not in packages:
            report.problem(f"{name}: the final stage does not install libpq5, which the binaries link")
        if "libcurl4" not in packages:
            report.problem(f"{name}: the final stage does not install libcurl4 (FoundationNetworking links it; "
                           "the binaries do not start without it)")

    def _exec_form(self, name, final_instructions, keyword):
        values = [rest for _, word, rest in final_instructions if word == keyword]
        if not values:
            return None
        value = values[-1]
        if not value.startswith("["):
            return ["/bin/sh", "-c", value]
        try:
            return [str(token) for token in json.loads(value)]
        except ValueError:
            self.report.problem(f"{name}: {keyword} {value} is not a JSON array")
            return None


def check_dockerignore(root, report):
    report.check()
    patterns = dockerignore_patterns(root)
    if not patterns:
        report.problem(".dockerignore is missing or empty: build folders and clusters would be sent as build context")
        return
    for required in (".git", ".build", ".build-deploy", ".devdb", ".testdb"):
        if not ignored(required, patterns):
            report.problem(f".dockerignore does not exclude {required}")
