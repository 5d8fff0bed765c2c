"""The programs' command lines in services, checked against their descriptions:
commands and options exist, values are in range, and what the worker settings
imply for Docker (stop grace period, healthcheck port, connections)."""

import re

from .secret_rules import URL_WITH_PASSWORD

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_LOG_LEVELS = ("debug", "info", "warning", "error")
# Connections one worker process opens: WorkerConfiguration.maxConnections.
_POOL_BASE, _POOL_MAX = 4, 32


def parse_options(argv, options, where, report):
    """argv (after the command words) -> ({option: value or True}, positional); reports unknown ones."""
    values, positional = {}, []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token.startswith("--"):
            name, equals, value = token.partition("=")
            if name not in options:
                report.problem(f"{where}: unknown option {name} (not in its --describe-json)")
            elif options[name] and not equals:
                if index + 1 >= len(argv):
                    report.problem(f"{where}: {name} needs a value")
                else:
                    value = argv[index + 1]
                    index += 1
            elif not options[name] and equals:
                report.problem(f"{where}: {name} takes no value")
            values[name] = value if options.get(name) else True
        else:
            positional.append(token)
        index += 1
    return values, positional


def duration_seconds(text):
    """Compose durations: 1m30s, 40s, 500ms, 2h; None when it is not one."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * units[unit] for number, unit in parts)


def _number(values, option, where, kind, low, high, default, report):
    if option not in values:
        return default
    text = values[option]
    try:
        number = kind(text)
    except (TypeError, ValueError):
        report.problem(f"{where}: {option} {text!r} is not a number")
        return default
    if not low <= number <= high:
        report.problem(f"{where}: {option} {text} is out of range ({low} to {high})")
    return number


def _default(node, option, kind):
    """An option's default from the description, as a number."""
    for entry in node.get("options", []):
        if entry["name"] == option and entry.get("default") is not None:
            return kind(entry["default"])
    return None


class WorkerCommandLine:
    """What one queue-worker command line works: {"queues": {name: concurrency} or
    None for its default list, "connections": most connections one process opens}."""

    def __init__(self, facts, report):
        self.facts = facts
        self.report = report

    def check(self, argv, service, where):
        report = self.report
        node = self.facts.command("queue-worker", [])
        values, positional = parse_options(argv, self.facts.options(node), where, report)
        if positional:
            report.problem(f"{where}: queue-worker takes no arguments, got {positional}")
        concurrency = _number(values, "--concurrency", where, int, 1, 10_000,
                              _default(node, "--concurrency", int), report)
        queues = self._queues(values, concurrency, where) if "--queues" in values else None
        for option in ("--poll-interval", "--lease"):
            _number(values, option, where, float, 0.001, 86_399, None, report)
        _number(values, "--batch", where, int, 1, 100_000, None, report)
        port = _number(values, "--metrics-port", where, int, 1, 65_535, None, report)
        level = values.get("--log-level", _default(node, "--log-level", str))
        if level not in _LOG_LEVELS:
            report.problem(f"{where}: --log-level {level!r}: use {', '.join(_LOG_LEVELS[:-1])} or {_LOG_LEVELS[-1]}")
        grace = _number(values, "--grace", where, float, 0.001, 86_399, _default(node, "--grace", float), report)
        self._stop_grace_period(service, grace, where)
        self._healthcheck(service, port, where)
        worked = queues if queues is not None else self.facts.default_queues("queue-worker") or {}
        pool = min(_POOL_BASE + len(worked) + sum(worked.values()) // 4, _POOL_MAX)
        return {"queues": queues, "connections": pool + (0 if "--no-listen" in values else 1)}

    def _queues(self, values, concurrency, where):
        queues = {}
        for item in [item.strip() for item in str(values["--queues"]).split(",") if item.strip()]:
            queue, equals, limit = item.partition("=")
            if not _QUEUE_NAME.fullmatch(queue):
                self.report.problem(f"{where}: --queues: {queue!r} is not a queue name")
            if equals:
                if not limit.isdigit() or int(limit) < 1:
                    self.report.problem(f"{where}: --queues: {item!r} needs a whole number >= 1 after =")
                    continue
                queues[queue] = int(limit)
            else:
                queues[queue] = concurrency
        if not queues:
            self.report.problem(f"{where}: --queues lists no queue")
        return queues

    def _stop_grace_period(self, service, grace, where):
        stop = service.get("stop_grace_period")
        stop_seconds = duration_seconds(stop) if stop is not None else 10.0
        if stop_seconds is None:
            self.report.problem(f"{where}: stop_grace_period {stop!r} is not a duration")
        elif grace is not None and stop_seconds < grace + 5:
            self.report.problem(f"{where}: stop_grace_period ({stop or 'Docker default 10s'}) must exceed --grace "
                                f"({grace:g}s) by at least 5s, or Docker kills running jobs")

    def _healthcheck(self, service, port, where):
        test = (service.get("healthcheck") or {}).get("test")
        text = " ".join(test) if isinstance(test, list) else str(test or "")
        probe = re.search(r"/dev/tcp/127\.0\.0\.1/(\d+)", text)
        if probe and port is not None and int(probe.group(1)) != port:
            self.report.problem(f"{where}: the healthcheck probes port {probe.group(1)} but --metrics-port is {port}")
        if probe and port is None:
            self.report.problem(f"{where}: the healthcheck probes /metrics but the worker has no --metrics-port")


def check_jobsctl(argv, facts, where, report):
    """The command words name a command of jobsctl and its options exist."""
    path, rest = [], list(argv)
    node = facts.command("jobsctl", path)
    while node is not None and facts.subcommands(node):
        subcommands = facts.subcommands(node)
        if not rest or rest[0].startswith("-"):
            if rest and rest[0] in ("--help", "-h"):
                return
            report.problem(f"{where}: {node['path']} needs a command: {', '.join(subcommands)}")
            return
        word = rest.pop(0)
        if word not in subcommands:
            report.problem(f"{where}: {node['path']} {word}: no such command "
                           f"({node['path']} has {', '.join(subcommands)})")
            return
        path.append(word)
        node = facts.command("jobsctl", path)
    if node is None:
        report.problem(f"{where}: jobsctl has no description")
        return
    values, _ = parse_options(rest, facts.options(node), f"{where} ({node['path']})", report)
    url = values.get("--database-url")
    if isinstance(url, str) and (URL_WITH_PASSWORD.search(url) or "password=" in url):
        report.problem(f"{where}: --database-url carries a password, visible in ps; use DATABASE_URL_FILE")
