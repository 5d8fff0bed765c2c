#!/usr/bin/env bash
# Static checks of the deployment files, no Docker engine needed (CI runs it):
# docker-compose.yml, .env.example, Dockerfile and .dockerignore.
#
#   scripts/check-compose.sh [COMPOSE_FILE]     (default: docker-compose.yml)
#
# Relative paths in COMPOSE_FILE resolve against its folder, as with Compose, and
# .env.example is read from that folder. Prints one line per problem and exits 1
# when there is any. What is checked: see CHECKS below and docs/deployment.md.
#
# The programs' commands and options are checked against `jobsctl --help` and
# `queue-worker --help` of an up-to-date build (.build*/release or debug) when one
# exists, else against the help texts in Sources/. CHECK_COMPOSE_HELP=source or
# =binary forces one. YAML is parsed with PyYAML: the first python3 that has it,
# else Debian's python3-yaml is installed (as root, like .ci/run installs postgresql).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPOSE="${1:-$ROOT/docker-compose.yml}"
[[ -f "$COMPOSE" ]] || { echo "check-compose: error: $COMPOSE does not exist" >&2; exit 1; }

find_python() {
    local candidate
    for candidate in python3 /usr/bin/python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import yaml' >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if ! PYTHON="$(find_python)"; then
    echo "check-compose: no python3 with PyYAML; installing Debian's python3-yaml" >&2
    if [[ "$(id -u)" == 0 ]]; then SUDO=(); else SUDO=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q >/dev/null
    "${SUDO[@]}" apt-get install -y -q python3 python3-yaml >/dev/null
    PYTHON="$(find_python)" || { echo "check-compose: error: cannot import yaml after installing python3-yaml" >&2; exit 1; }
fi

exec "$PYTHON" - "$ROOT" "$COMPOSE" <<'PYTHON'
import fnmatch
import os
import re
import shlex
import subprocess
import sys

import yaml

ROOT, COMPOSE_PATH = sys.argv[1], os.path.abspath(sys.argv[2])
PROJECT_DIR = os.path.dirname(COMPOSE_PATH)
ENV_EXAMPLE_PATH = os.path.join(PROJECT_DIR, ".env.example")

problems = []
warnings = []
checks = 0


def problem(message):
    problems.append(message)


def warn(message):
    warnings.append(message)


def rel(path):
    return os.path.relpath(path, ROOT)


# Variables Compose itself reads; they may stand in .env.example without being used.
COMPOSE_BUILTINS = {"COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "COMPOSE_FILE", "DOCKER_BUILDKIT"}
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|PRIVATE_KEY", re.I)


def is_secret_name(name):
    """A variable that would hold a secret itself (not the path of a file holding one)."""
    return bool(SECRET_NAME.search(name)) and not name.endswith(("_FILE", "_DIR", "_PATH"))
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
RESTART_POLICIES = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}

# ---- YAML ------------------------------------------------------------------------------


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (Compose does; PyYAML keeps the last)."""


def construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark)
        seen[key] = True
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)

try:
    with open(COMPOSE_PATH, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=StrictLoader)
except yaml.YAMLError as error:
    detail = " ".join(str(error).split())
    print(f"check-compose: error: {rel(COMPOSE_PATH)} does not parse as YAML: {detail}")
    sys.exit(1)
checks += 1
if not isinstance(document, dict) or not isinstance(document.get("services"), dict) or not document["services"]:
    print(f"check-compose: error: {rel(COMPOSE_PATH)} has no services mapping")
    sys.exit(1)

# ---- .env.example ----------------------------------------------------------------------

env_example = {}
if not os.path.isfile(ENV_EXAMPLE_PATH):
    problem(f"{rel(ENV_EXAMPLE_PATH)} is missing: every variable of the compose file must be documented there")
else:
    with open(ENV_EXAMPLE_PATH, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            match = re.match(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
            if not match:
                problem(f".env.example:{number}: not a NAME=value line: {line!r}")
                continue
            name, value = match.group(1), match.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            if name in env_example:
                problem(f".env.example:{number}: {name} is listed twice")
            env_example[name] = value
            if is_secret_name(name) and value:
                problem(f".env.example:{number}: {name} has a value; secrets belong in secret files, not in .env")
            if URL_WITH_PASSWORD.search(value):
                problem(f".env.example:{number}: {name} holds a URL with a password")

# ---- interpolation (${VAR}, ${VAR:-default}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a}, $VAR, $$) -----

uses = {}  # name -> list of (operator, default text, where)


class InterpolationError(Exception):
    pass


def interpolate(text, where, record=True):
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$":
            out.append(char)
            i += 1
            continue
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("${", i):
            depth, j = 0, i + 1
            while j < len(text):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(text):
                raise InterpolationError(f'unclosed "${{" in {text!r}')
            body = text[i + 2:j]
            match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?|:\+|\+)(.*))?$", body, re.S)
            if not match:
                raise InterpolationError(f'invalid reference "${{{body}}}" in {text!r}')
            name, operator, argument = match.group(1), match.group(2), match.group(3)
            if record:
                uses.setdefault(name, []).append((operator, argument, where))
            value = env_example.get(name)
            if operator in (":-", "-"):
                unset = value is None or (operator == ":-" and value == "")
                out.append(interpolate(argument, where, record) if unset else value)
            elif operator in (":?", "?"):
                if value is None or (operator == ":?" and value == ""):
                    raise InterpolationError(f"{name} is required ({argument or 'no message'}) and has no value in .env.example")
                out.append(value)
            elif operator in (":+", "+"):
                is_set = value is not None and (operator == "+" or value != "")
                out.append(interpolate(argument, where, record) if is_set else "")
            else:
                out.append(value if value is not None else "")
            i = j + 1
            continue
        match = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", text[i:])
        if match:
            name = match.group(1)
            if record:
                uses.setdefault(name, []).append((None, None, where))
            out.append(env_example.get(name, ""))
            i += len(match.group(0))
            continue
        raise InterpolationError(f'a lone "$" in {text!r} (write $$ for a literal dollar)')
    return "".join(out)


def resolve(node, where):
    """The document as Compose would see it with .env.example's values (= the defaults)."""
    if isinstance(node, dict):
        return {key: resolve(value, f"{where}.{key}") for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, f"{where}[{index}]") for index, value in enumerate(node)]
    if isinstance(node, str):
        try:
            return interpolate(node, where)
        except InterpolationError as error:
            problem(f"{where}: {error}")
            return node
    return node


resolved = resolve(document, "compose")
services = resolved["services"]

checks += 1
for name, entries in sorted(uses.items()):
    defaults = {argument for operator, argument, _ in entries if operator in (":-", "-")}
    where = entries[0][2]
    if name not in env_example:
        has_default = bool(defaults)
        problem(f"${{{name}}} (at {where}) is not documented in .env.example"
                + ("" if has_default else " and has no default"))
        continue
    if len(defaults) > 1:
        problem(f"${{{name}}} has different defaults in the compose file: {sorted(defaults)}")
    for default in defaults:
        try:
            expanded = interpolate(default, where, record=False)
        except InterpolationError:
            expanded = default
        if expanded != env_example[name]:
            problem(f"${{{name}}}: compose default {expanded!r} differs from .env.example's {env_example[name]!r}")
for name in sorted(env_example):
    if name not in uses and name not in COMPOSE_BUILTINS:
        problem(f".env.example lists {name}, which the compose file does not use")

# ---- Package.swift and the programs' help ----------------------------------------------------

with open(os.path.join(ROOT, "Package.swift"), encoding="utf-8") as handle:
    package_text = handle.read()
executable_products = set(re.findall(r'\.executable\(\s*name:\s*"([^"]+)"', package_text))
checks += 1
if not executable_products:
    problem("Package.swift declares no executable products")

SOURCES = os.path.join(ROOT, "Sources")


def read_swift_sources(*targets):
    files = {}
    for target in targets:
        for folder, _, names in os.walk(os.path.join(SOURCES, target)):
            for filename in names:
                if filename.endswith(".swift"):
                    with open(os.path.join(folder, filename), encoding="utf-8") as handle:
                        files[os.path.join(folder, filename)] = handle.read()
    return files


# Each program's sources, with the shared help texts (WorkerOptions, DatabaseOptions, …).
PROGRAM_SOURCES = {program: read_swift_sources(program, "CommandLineInterface")
                   for program in ("jobsctl", "queue-worker")}


def swift_types(files):
    """type name -> {'name': command name, 'help': text, 'subcommands': [type names]}."""
    types = {}
    for text in files.values():
        starts = [match for match in re.finditer(r"^(?:public\s+)?(?:struct|enum)\s+(\w+)", text, re.M)]
        for index, match in enumerate(starts):
            end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
            body = text[match.start():end]
            entry = {}
            name = re.search(r'static let name = "([^"]+)"', body)
            if name:
                entry["name"] = name.group(1)
            help_text = re.search(r'static let help = """\n(.*?)"""', body, re.S)
            if help_text:
                entry["help"] = help_text.group(1)
            else:
                one_line = re.search(r'static let help = "((?:[^"\\]|\\.)*)"', body)
                if one_line:
                    entry["help"] = one_line.group(1)
            subcommands = re.search(r"static let subcommands:[^=]*=\s*\[(.*?)\]", body, re.S)
            if subcommands:
                entry["subcommands"] = re.findall(r"(\w+)\.self", subcommands.group(1))
            types[match.group(1)] = entry
    return types


def expand_help(text, types, depth=0):
    def replace(match):
        entry = types.get(match.group(1), {})
        return expand_help(entry.get("help", ""), types, depth + 1) if depth < 5 else ""
    return re.sub(r"\\\((\w+)\.help\)", replace, text)


class HelpSource:
    """Subcommands and options of jobsctl and queue-worker, from a build or from Sources/."""

    def __init__(self):
        self.description = ""
        self.cache = {}
        self.binaries = {}
        self.types = {program: swift_types(files) for program, files in PROGRAM_SOURCES.items()}
        mode = os.environ.get("CHECK_COMPOSE_HELP", "auto")
        if mode not in ("auto", "binary", "source"):
            problem(f"CHECK_COMPOSE_HELP={mode}: use auto, binary or source")
        if mode != "source":
            self.binaries = self.find_binaries()
        if mode == "binary" and len(self.binaries) < 2:
            problem("CHECK_COMPOSE_HELP=binary but no up-to-date build of jobsctl and queue-worker was found")
        if self.binaries:
            self.description = "help from the built binaries in " + ", ".join(
                sorted({rel(os.path.dirname(path)) for path in self.binaries.values()}))
        else:
            self.description = "help from Sources/ (no up-to-date build of jobsctl and queue-worker)"

    def find_binaries(self):
        """Both programs from one build folder, newer than every source file of their help texts."""
        newest_source = max((os.path.getmtime(path) for files in PROGRAM_SOURCES.values() for path in files), default=0)
        candidates = []
        for entry in sorted(os.listdir(ROOT)):
            if not entry.startswith(".build"):
                continue
            for configuration in ("release", "debug"):
                folder = os.path.join(ROOT, entry, configuration)
                paths = {program: os.path.join(folder, program) for program in ("jobsctl", "queue-worker")}
                if all(os.path.isfile(path) and os.access(path, os.X_OK) and os.path.getmtime(path) >= newest_source
                       for path in paths.values()):
                    candidates.append((min(os.path.getmtime(path) for path in paths.values()), paths))
        for _, paths in sorted(candidates, key=lambda candidate: candidate[0], reverse=True):
            try:
                runs = [subprocess.run([path, "--help"], capture_output=True, text=True, timeout=20)
                        for path in paths.values()]
            except (OSError, subprocess.TimeoutExpired):
                continue
            if all(run.returncode == 0 and run.stdout.strip() for run in runs):
                return paths
        return {}

    def help_text(self, program, path):
        key = (program,) + tuple(path)
        if key in self.cache:
            return self.cache[key]
        text = None
        if program in self.binaries:
            run = subprocess.run([self.binaries[program], *path, "--help"], capture_output=True, text=True, timeout=20)
            text = run.stdout if run.returncode == 0 else None
        else:
            types = self.types[program]
            entry = self.source_entry(types, program, path)
            if entry is not None:
                text = expand_help(entry.get("help", ""), types)
                if entry.get("subcommands"):
                    text += "\nCommands:\n" + "".join(
                        f"  {types.get(sub, {}).get('name', '?')}  \n" for sub in entry["subcommands"])
        self.cache[key] = text
        return text

    @staticmethod
    def source_entry(types, program, path):
        roots = [entry for entry in types.values() if entry.get("name") == program and "help" in entry]
        if not roots:
            return None
        entry = roots[0]
        for word in path:
            names = {types.get(sub, {}).get("name"): types.get(sub, {}) for sub in entry.get("subcommands", [])}
            if word not in names:
                return None
            entry = names[word]
        return entry

    @staticmethod
    def subcommands(text):
        section = re.search(r"^Commands:\n((?:[ \t]+\S.*\n?)+)", text, re.M)
        return [line.split()[0] for line in section.group(1).splitlines() if line.strip()] if section else []

    @staticmethod
    def options(text):
        """--option -> True when it takes a value (a metavariable follows it)."""
        found = {"--help": False}
        for match in re.finditer(r"(--[a-z][a-z0-9-]*)((?:[ =]\[?[A-Z][A-Z_]*\]?)?)", text):
            takes_value = bool(match.group(2).strip(" ="))
            found[match.group(1)] = found.get(match.group(1), False) or takes_value
        return found


helps = HelpSource()


def platform_queues():
    """Queue names of PlatformJobs.queues (the worker's default list), resolved from Sources/.

    Keys are expressions such as JobRequest.defaultQueue or PayoutRun.queue; each is
    looked up as `static let NAME = "..."` in the named type (or in PlatformJobs)."""
    path = os.path.join(SOURCES, "CleaningPlatform", "PlatformJobs.swift")
    if not os.path.isfile(path):
        return None, []
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    literal = re.search(r"static let queues:[^=]*=\s*\[(.*?)\]", text, re.S)
    if not literal:
        return None, ["PlatformJobs.queues not found"]
    constants = {}
    for folder, _, names in os.walk(SOURCES):
        for filename in names:
            if not filename.endswith(".swift"):
                continue
            with open(os.path.join(folder, filename), encoding="utf-8") as handle:
                source = handle.read()
            starts = list(re.finditer(r"^(?:public\s+)?(?:final\s+)?(?:struct|enum|class|extension)\s+(\w+)", source, re.M))
            for index, match in enumerate(starts):
                end = starts[index + 1].start() if index + 1 < len(starts) else len(source)
                for constant, value in re.findall(r'static let (\w+)(?::\s*String)?\s*=\s*"([^"]*)"', source[match.start():end]):
                    constants.setdefault((match.group(1), constant), value)
    queues, unresolved = set(), []
    for expression in re.findall(r"([\w.]+)\s*:\s*\d+", literal.group(1)):
        owner, _, constant = expression.rpartition(".")
        value = constants.get((owner or "PlatformJobs", constant))
        if value is None:
            unresolved.append(expression)
        else:
            queues.add(value)
    return queues, unresolved


worked_queues = set()
every_queue_worked = False  # a queue-worker without --queues works the platform's whole list


def parse_options(argv, options, where):
    """argv (after the command words) -> {option: value or True}; reports unknown ones."""
    values = {}
    positional = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token.startswith("--"):
            name, equals, value = token.partition("=")
            if name not in options:
                problem(f"{where}: unknown option {name} (not in its --help)")
            elif options[name] and not equals:
                if index + 1 >= len(argv):
                    problem(f"{where}: {name} needs a value")
                else:
                    value = argv[index + 1]
                    index += 1
            elif not options[name] and equals:
                problem(f"{where}: {name} takes no value")
            values[name] = value if options.get(name) else True
        else:
            positional.append(token)
        index += 1
    return values, positional


# ---- Dockerfile ------------------------------------------------------------------------------


def dockerfile_instructions(path):
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    instructions, buffer, start = [], "", 0
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
        instructions.append((start or number, keyword.upper(), arguments.strip()))
        buffer, start = "", 0
    return instructions


def image_reference_problem(reference):
    """None when the reference is pinned (a tag other than latest, or a digest)."""
    if not reference:
        return "no image"
    if "${" in reference or "$" in reference:
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
    # An exact tag names a full version (15.19, 6.3.1-bookworm, 12.15-slim), a dated
    # build (bookworm-20260824-slim) or a commit (208702e); bookworm-slim, alpine or 15 move.
    if not re.search(r"\d+\.\d+|\d{8}", tag) and not re.fullmatch(r"(?=.*\d)[0-9a-f]{7,40}", tag):
        return f"{reference!r} uses a moving tag ({tag}); pin an exact version such as 15.19 or a digest"
    return None


def dockerignore_patterns(context):
    path = os.path.join(context, ".dockerignore")
    patterns = []
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line and not line.startswith("#"):
                    patterns.append(line)
    return patterns


def ignored(relative, patterns):
    """True when .dockerignore's patterns exclude the path (last match wins; ! re-includes)."""
    relative = relative.strip("/").removeprefix("./")
    parts = relative.split("/")
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        for depth in range(1, len(parts) + 1):
            if fnmatch.fnmatchcase("/".join(parts[:depth]), pattern):
                result = not negate
                break
    return result


dockerfile_reports = {}


def check_dockerfile(context, dockerfile):
    """Checks a Dockerfile once; returns what the final image runs and holds."""
    global checks
    key = os.path.abspath(dockerfile)
    if key in dockerfile_reports:
        return dockerfile_reports[key]
    name = rel(dockerfile)
    instructions = dockerfile_instructions(dockerfile)
    arguments = {}
    stages = []  # dicts: name, image, instructions
    for number, keyword, rest in instructions:
        if keyword == "ARG" and not stages:
            argument, _, default = rest.partition("=")
            arguments[argument.strip()] = default.strip().strip('"')
            continue
        if keyword == "FROM":
            tokens = [token for token in rest.split() if not token.startswith("--")]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: arguments.get(m.group(1), m.group(0)), tokens[0])
            alias = tokens[2] if len(tokens) >= 3 and tokens[1].upper() == "AS" else None
            stages.append({"name": alias, "image": image, "line": number, "instructions": []})
            continue
        if not stages:
            problem(f"{name}:{number}: {keyword} before the first FROM")
            continue
        stages[-1]["instructions"].append((number, keyword, rest))
    if not stages:
        problem(f"{name}: no FROM")
        dockerfile_reports[key] = None
        return None

    stage_names = set()
    for stage in stages:
        checks += 1
        image = stage["image"]
        if image in stage_names or image == "scratch":
            pass
        else:
            issue = image_reference_problem(image)
            if issue:
                problem(f"{name}:{stage['line']}: base image not pinned: {issue}")
        if stage["name"]:
            stage_names.add(stage["name"])

    patterns = dockerignore_patterns(context)
    built_products, installed, copied_context = set(), {}, {}
    for stage in stages:
        for number, keyword, rest in stage["instructions"]:
            if keyword in ("ENV", "ARG"):
                for variable in re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)", rest):
                    if is_secret_name(variable):
                        problem(f"{name}:{number}: {keyword} {variable}: no secrets in the image; pass them at run time")
                if URL_WITH_PASSWORD.search(rest) or re.search(r"\bDATABASE_URL=", rest):
                    problem(f"{name}:{number}: {keyword} bakes a database URL into the image")
            if keyword == "RUN":
                for product in re.findall(r"--product[= ]\s*([\w.-]+)", rest):
                    built_products.add(product)
                    if product not in executable_products:
                        problem(f"{name}:{number}: swift build --product {product}: not an executable product of Package.swift "
                                f"({', '.join(sorted(executable_products))})")
            if keyword in ("COPY", "ADD"):
                tokens = shlex.split(rest)
                flags = [token for token in tokens if token.startswith("--")]
                paths = [token for token in tokens if not token.startswith("--")]
                if len(paths) < 2:
                    problem(f"{name}:{number}: {keyword} needs a source and a destination")
                    continue
                sources, destination = paths[:-1], paths[-1]
                origin = next((flag.split("=", 1)[1] for flag in flags if flag.startswith("--from=")), None)
                for source in sources:
                    if origin is not None:
                        installed[os.path.basename(source.rstrip("/"))] = (number, destination, stage is stages[-1])
                    else:
                        source_path = os.path.join(context, source)
                        if not os.path.exists(source_path):
                            problem(f"{name}:{number}: {keyword} {source}: not in the build context {rel(context)}")
                        elif ignored(source, patterns):
                            problem(f"{name}:{number}: {keyword} {source}: excluded by .dockerignore")
                        if stage is stages[-1]:
                            copied_context[source.rstrip("/")] = destination.rstrip("/")

    final = stages[-1]
    final_instructions = final["instructions"]
    copied_binaries = {binary for binary, (_, _, in_final) in installed.items() if in_final}
    checks += 1
    for binary in sorted(copied_binaries):
        if binary not in executable_products:
            number = installed[binary][0]
            problem(f"{name}:{number}: copies {binary}, which is not an executable product of Package.swift")
        elif built_products and binary not in built_products:
            problem(f"{name}: copies {binary} but no stage builds it (swift build --product {binary})")
    users = [rest for _, keyword, rest in final_instructions if keyword == "USER"]
    checks += 1
    if not users:
        problem(f"{name}: the final stage runs as root (no USER)")
    elif users[-1].split(":")[0] in ("root", "0"):
        problem(f"{name}: the final stage's USER is root")
    environment = {}
    for _, keyword, rest in final_instructions:
        if keyword == "ENV":
            for variable, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\S*)", rest):
                environment[variable] = value.strip('"')
    migrations = environment.get("MIGRATIONS_DIR")
    checks += 1
    if migrations is None:
        problem(f"{name}: the final stage sets no MIGRATIONS_DIR")
    elif copied_context.get("sql") != migrations:
        problem(f"{name}: MIGRATIONS_DIR={migrations} but sql/ is not copied there "
                f"(COPY sql {copied_context.get('sql', '…')})")
    packages = set()
    for _, keyword, rest in final_instructions:
        if keyword == "RUN":
            for install in re.findall(r"apt-get\s+(?:-\S+\s+)*install\s+([^&;|]*)", rest):
                packages.update(token for token in install.split() if not token.startswith("-"))
    checks += 1
    if "CLibPQ" in package_text and "libpq5" not in packages:
        problem(f"{name}: the final stage does not install libpq5, which the binaries link")
    if "libcurl4" not in packages:
        problem(f"{name}: the final stage does not install libcurl4 (FoundationNetworking links it; "
                "the binaries do not start without it)")

    def exec_form(keyword):
        values = [rest for _, word, rest in final_instructions if word == keyword]
        if not values:
            return None
        value = values[-1]
        if value.startswith("["):
            try:
                return yaml.safe_load(value)
            except yaml.YAMLError:
                problem(f"{name}: {keyword} {value} is not a JSON array")
                return None
        return ["/bin/sh", "-c", value]

    report = {
        "binaries": copied_binaries,
        "entrypoint": exec_form("ENTRYPOINT") or [],
        "cmd": exec_form("CMD") or [],
    }
    dockerfile_reports[key] = report
    return report


# ---- the programs' command lines ---------------------------------------------------------------



def duration_seconds(text):
    """Compose durations: 1m30s, 40s, 500ms, 2h."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * units[unit] for number, unit in parts)


def number_option(values, option, where, kind, low, high, default):
    if option not in values:
        return default
    text = values[option]
    try:
        number = kind(text)
    except (TypeError, ValueError):
        problem(f"{where}: {option} {text!r} is not a number")
        return default
    if not low <= number <= high:
        problem(f"{where}: {option} {text} is out of range ({low} to {high})")
    return number


def replicas_of(service):
    try:
        return int((service.get("deploy") or {}).get("replicas", 1))
    except (TypeError, ValueError):
        return 1


def check_queue_worker(argv, service, where):
    text = helps.help_text("queue-worker", [])
    if text is None:
        problem(f"{where}: cannot read queue-worker's help")
        return None
    values, positional = parse_options(argv, HelpSource.options(text), where)
    if positional:
        problem(f"{where}: queue-worker takes no arguments, got {positional}")
    queues = {}
    if "--queues" in values:
        concurrency = number_option(values, "--concurrency", where, int, 1, 10_000, 10)
        for item in [item.strip() for item in str(values["--queues"]).split(",") if item.strip()]:
            queue, equals, limit = item.partition("=")
            if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", queue):
                problem(f"{where}: --queues: {queue!r} is not a queue name")
            if equals:
                if not limit.isdigit() or int(limit) < 1:
                    problem(f"{where}: --queues: {item!r} needs a whole number >= 1 after =")
                    continue
                queues[queue] = int(limit)
            else:
                queues[queue] = concurrency
        if not queues:
            problem(f"{where}: --queues lists no queue")
    else:
        number_option(values, "--concurrency", where, int, 1, 10_000, 10)
        queues = None  # the platform's own list; see PlatformJobs.queues
    for option in ("--poll-interval", "--lease"):
        number_option(values, option, where, float, 0.001, 86_399, None)
    number_option(values, "--batch", where, int, 1, 100_000, 20)
    port = number_option(values, "--metrics-port", where, int, 1, 65_535, None)
    if values.get("--log-level", "info") not in ("debug", "info", "warning", "error"):
        problem(f"{where}: --log-level {values['--log-level']!r}: use debug, info, warning or error")
    grace = number_option(values, "--grace", where, float, 0.001, 86_399, 25.0)

    stop = service.get("stop_grace_period")
    stop_seconds = duration_seconds(stop) if stop is not None else 10.0
    if stop is not None and stop_seconds is None:
        problem(f"{where}: stop_grace_period {stop!r} is not a duration")
    elif stop_seconds < grace + 5:
        problem(f"{where}: stop_grace_period ({stop or 'Docker default 10s'}) must exceed --grace ({grace:g}s) "
                "by at least 5s, or Docker kills running jobs")
    healthcheck = service.get("healthcheck") or {}
    test = healthcheck.get("test")
    test_text = " ".join(test) if isinstance(test, list) else str(test or "")
    probe = re.search(r"/dev/tcp/127\.0\.0\.1/(\d+)", test_text)
    if probe and port is not None and int(probe.group(1)) != port:
        problem(f"{where}: the healthcheck probes port {probe.group(1)} but --metrics-port is {port}")
    if probe and port is None:
        problem(f"{where}: the healthcheck probes /metrics but the worker has no --metrics-port")
    # Connections one process opens (WorkerConfiguration.maxConnections + the LISTEN session).
    global every_queue_worked
    if queues is None:
        every_queue_worked = True
        return {"connections": None}
    if replicas_of(service) > 0:
        worked_queues.update(queues)
    pool = min(4 + len(queues) + sum(queues.values()) // 4, 32)
    return {"connections": pool + (0 if "--no-listen" in values else 1), "queues": queues}


def check_jobsctl(argv, where):
    path = []
    rest = list(argv)
    while True:
        text = helps.help_text("jobsctl", path)
        if text is None:
            problem(f"{where}: cannot read the help of jobsctl {' '.join(path)}")
            return
        subcommands = HelpSource.subcommands(text)
        if not subcommands:
            break
        if not rest or rest[0].startswith("--"):
            if rest and rest[0] in ("--help", "-h"):
                return
            problem(f"{where}: jobsctl {' '.join(path)} needs a command: {', '.join(subcommands)}")
            return
        word = rest.pop(0)
        if word not in subcommands:
            problem(f"{where}: jobsctl {' '.join(path + [word])}: no such command "
                    f"(jobsctl {' '.join(path)} has {', '.join(subcommands)})".replace("  ", " "))
            return
        path.append(word)
    values, _ = parse_options(rest, HelpSource.options(text), f"{where} (jobsctl {' '.join(path)})")
    url = values.get("--database-url")
    if isinstance(url, str) and (URL_WITH_PASSWORD.search(url) or "password=" in url):
        problem(f"{where}: --database-url carries a password, visible in ps; use DATABASE_URL_FILE")


# ---- services ----------------------------------------------------------------------------------

top_secrets = resolved.get("secrets") or {}
top_volumes = resolved.get("volumes") or {}
connection_budget = []  # (service, processes, connections each)
max_connections = None

for service_name, service in services.items():
    where = f"services.{service_name}"
    if not isinstance(service, dict):
        problem(f"{where}: not a mapping")
        continue

    # image and build
    checks += 1
    image = service.get("image")
    build = service.get("build")
    if image is None and build is None:
        problem(f"{where}: neither image nor build")
    if image is not None:
        issue = image_reference_problem(str(image))
        if issue:
            problem(f"{where}.image: not pinned: {issue}")
    report = None
    if build is not None:
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        context_path = os.path.normpath(os.path.join(PROJECT_DIR, context))
        dockerfile_path = os.path.normpath(os.path.join(context_path, dockerfile))
        if not os.path.isdir(context_path):
            problem(f"{where}.build: context {context} does not exist")
        elif not os.path.isfile(dockerfile_path):
            problem(f"{where}.build: {rel(dockerfile_path)} does not exist")
        else:
            report = check_dockerfile(context_path, dockerfile_path)

    # restart
    restart = service.get("restart")
    if restart is not None and (not isinstance(restart, str) or not RESTART_POLICIES.match(restart)):
        problem(f"{where}.restart: {restart!r} is not a restart policy (quote \"no\": YAML reads a bare no as false)")

    # depends_on
    checks += 1
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        depends = {entry: {"condition": "service_started"} for entry in depends}
    for dependency, settings in depends.items():
        if dependency not in services:
            problem(f"{where}.depends_on: {dependency} is not a service")
            continue
        if dependency == service_name:
            problem(f"{where}.depends_on: a service cannot depend on itself")
        condition = (settings or {}).get("condition", "service_started")
        if condition not in DEPENDS_CONDITIONS:
            problem(f"{where}.depends_on.{dependency}: unknown condition {condition!r}")
        target = services[dependency]
        if condition == "service_healthy" and not (target.get("healthcheck") or {}).get("test"):
            problem(f"{where}.depends_on.{dependency}: service_healthy, but {dependency} has no healthcheck")
        if condition == "service_completed_successfully" and target.get("restart", "no") != "no":
            problem(f"{where}.depends_on.{dependency}: service_completed_successfully, "
                    f"but {dependency} restarts ({target.get('restart')})")
        if target.get("profiles") and not service.get("profiles"):
            problem(f"{where}.depends_on.{dependency}: {dependency} is only in profiles {target['profiles']}")

    # secrets
    checks += 1
    mounted = set()
    for entry in service.get("secrets") or []:
        source = entry if isinstance(entry, str) else (entry or {}).get("source")
        target = entry if isinstance(entry, str) else (entry or {}).get("target", source)
        if source not in top_secrets:
            problem(f"{where}.secrets: {source} is not declared under the top-level secrets")
        mounted.add(target if str(target).startswith("/") else f"/run/secrets/{target}")

    # environment
    checks += 1
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    for variable, value in environment.items():
        value = "" if value is None else str(value)
        if is_secret_name(variable) and value:
            problem(f"{where}.environment.{variable}: a secret in plain configuration; use a secret file (*_FILE)")
        if URL_WITH_PASSWORD.search(value):
            problem(f"{where}.environment.{variable}: a URL with a password; use DATABASE_URL_FILE and a secret")
        if variable.endswith("_FILE") and value.startswith("/run/secrets/") and value not in mounted:
            problem(f"{where}.environment.{variable}={value}, but that secret is not mounted in the service")

    # volumes
    checks += 1
    for entry in service.get("volumes") or []:
        if isinstance(entry, str):
            source = entry.split(":", 1)[0] if ":" in entry else None
            kind = "bind" if source and (source.startswith((".", "/", "~")) or "/" in source) else "volume"
        else:
            source, kind = entry.get("source"), entry.get("type", "volume")
        if kind == "volume" and source and source not in top_volumes:
            problem(f"{where}.volumes: {source} is not declared under the top-level volumes")

    # ports: published on an explicit address (loopback or a private interface), never on all of them
    checks += 1
    replicas = (service.get("deploy") or {}).get("replicas", 1)
    try:
        replicas = int(replicas)
    except (TypeError, ValueError):
        problem(f"{where}.deploy.replicas: {replicas!r} is not a number")
        replicas = 1
    for entry in service.get("ports") or []:
        text = str(entry) if not isinstance(entry, dict) else f"{entry.get('host_ip', '')}:{entry.get('published', '')}:{entry.get('target', '')}"
        if text.count(":") < 2 or text.split(":", 1)[0] in ("", "0.0.0.0", "::"):
            problem(f"{where}.ports: {text} publishes on every interface; bind an address, e.g. 127.0.0.1:{text}")
        host_part = text.rsplit(":", 1)[0].split(":", 1)[-1]
        if replicas > 1 and "-" not in host_part:
            problem(f"{where}.ports: {text}: {replicas} replicas cannot share one host port")
    if replicas > 1 and service.get("container_name"):
        problem(f"{where}: container_name with {replicas} replicas")

    # the command: our image's programs and their options
    checks += 1
    builds_our_image = report is not None
    if builds_our_image:
        entrypoint = service.get("entrypoint")
        command = service.get("command")
        if isinstance(entrypoint, str):
            entrypoint = shlex.split(entrypoint)
        if isinstance(command, str):
            command = shlex.split(command)
        argv = list(entrypoint if entrypoint is not None else report["entrypoint"])
        if command is not None:
            argv += command
        elif entrypoint is None:
            argv += report["cmd"]
        argv = [str(token) for token in argv]
        if any(URL_WITH_PASSWORD.search(token) for token in argv):
            problem(f"{where}: a password in the command line (visible in ps); use DATABASE_URL_FILE")
        if not argv:
            problem(f"{where}: runs nothing (no entrypoint or command)")
            continue
        program = os.path.basename(argv[0])
        if program not in report["binaries"]:
            problem(f"{where}: runs {argv[0]!r}, which the image does not contain "
                    f"(it has {', '.join(sorted(report['binaries'])) or 'no program'})")
            continue
        if program == "queue-worker":
            result = check_queue_worker(argv[1:], service, where)
            if result and result["connections"] is not None:
                connection_budget.append((service_name, replicas, result["connections"]))
        elif program == "jobsctl":
            check_jobsctl(argv[1:], where)
            connection_budget.append((service_name, 1, 1))

    if service_name == "postgres" or str(image or "").startswith("postgres:"):
        argv = service.get("command") or []
        argv = shlex.split(argv) if isinstance(argv, str) else [str(token) for token in argv]
        for index, token in enumerate(argv):
            setting = token if token.startswith("max_connections=") else None
            if token == "-c" and index + 1 < len(argv) and argv[index + 1].startswith("max_connections="):
                setting = argv[index + 1]
            if setting:
                try:
                    max_connections = int(setting.split("=", 1)[1])
                except ValueError:
                    problem(f"{where}.command: {setting} is not a number")
        if max_connections is None and str(image or "").startswith("postgres:"):
            max_connections = 100
        if environment.get("POSTGRES_PASSWORD") and not environment.get("POSTGRES_PASSWORD_FILE"):
            problem(f"{where}: POSTGRES_PASSWORD in the environment; use POSTGRES_PASSWORD_FILE and a secret")

# ---- top-level secrets and volumes ---------------------------------------------------------------

checks += 1
unignored = set()
for secret, settings in top_secrets.items():
    settings = settings or {}
    if not any(key in settings for key in ("file", "environment", "external")):
        problem(f"secrets.{secret}: needs file, environment or external")
    if "file" in settings:
        path = os.path.normpath(os.path.join(PROJECT_DIR, str(settings["file"])))
        if path.startswith(ROOT + os.sep):
            relative = os.path.relpath(path, ROOT)
            tracked = subprocess.run(["git", "-C", ROOT, "ls-files", "--", relative], capture_output=True, text=True)
            if tracked.returncode == 0 and tracked.stdout.strip():
                problem(f"secrets.{secret}: {relative} is tracked by git; remove it and rotate the secret")
            ignored_by_git = subprocess.run(["git", "-C", ROOT, "check-ignore", "-q", "--", relative])
            if ignored_by_git.returncode == 1:
                unignored.add(relative.split(os.sep)[0] if os.sep in relative else relative)
            if not ignored(relative, dockerignore_patterns(ROOT)):
                problem(f"secrets.{secret}: {relative} is not excluded by .dockerignore")
for path in sorted(unignored):
    warn(f"the secret files under {path}/ are not git-ignored; add {path}/ to .gitignore")
used_secrets = {(entry if isinstance(entry, str) else entry.get("source"))
                for service in services.values() for entry in (service.get("secrets") or [])}
for secret in top_secrets:
    if secret not in used_secrets:
        warn(f"secrets.{secret}: declared but no service uses it")

# ---- every platform queue is worked ----------------------------------------------------------------

checks += 1
expected_queues, unresolved_queues = platform_queues()
for expression in unresolved_queues:
    warn(f"PlatformJobs.queues: cannot resolve {expression} to a queue name; not checked")
if expected_queues and not every_queue_worked:
    for queue in sorted(expected_queues - worked_queues):
        problem(f"queue {queue!r} (PlatformJobs.queues) is worked by no service's --queues; its jobs would wait forever")

# ---- connection budget -----------------------------------------------------------------------------

checks += 1
if max_connections is not None and connection_budget:
    reserved = 3  # superuser_reserved_connections
    total = sum(processes * each for _, processes, each in connection_budget)
    detail = " + ".join(f"{service} {processes}x{each}" for service, processes, each in connection_budget)
    if total + reserved > max_connections:
        problem(f"PostgreSQL max_connections={max_connections} is below what the services may open: "
                f"{detail} + {reserved} reserved = {total + reserved}")
    else:
        print(f"check-compose: connections at most {total} ({detail}) + {reserved} reserved "
              f"<= max_connections {max_connections}")

# ---- .dockerignore ---------------------------------------------------------------------------------

checks += 1
patterns = dockerignore_patterns(ROOT)
if not patterns:
    problem(".dockerignore is missing or empty: build folders and clusters would be sent as build context")
else:
    for required in (".git", ".build", ".build-deploy", ".devdb", ".testdb"):
        if not ignored(required, patterns):
            problem(f".dockerignore does not exclude {required}")

# ---- report ----------------------------------------------------------------------------------------

print(f"check-compose: {helps.description}")
for message in warnings:
    print(f"check-compose: warning: {message}")
for message in problems:
    print(f"check-compose: error: {message}")
if problems:
    print(f"check-compose: FAILED: {len(problems)} problem(s) in {rel(COMPOSE_PATH)}, .env.example, Dockerfile")
    sys.exit(1)
print(f"check-compose: OK: {len(services)} services, {checks} checks, {len(uses)} variables documented "
      f"in .env.example, every image pinned")
PYTHON
