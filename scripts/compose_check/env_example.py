"""Reading .env.example: NAME=value lines, no secrets in values."""

import re

from .secret_rules import URL_WITH_PASSWORD, is_secret_name

_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def read(path, report):
    """name -> value; problems with the file go to report. Missing file: {}."""
    values = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            match = _LINE.match(line)
            if not match:
                report.problem(f".env.example:{number}: not a NAME=value line: {line!r}")
                continue
            name, value = match.group(1), match.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            if name in values:
                report.problem(f".env.example:{number}: {name} is listed twice")
            values[name] = value
            if is_secret_name(name) and value:
                report.problem(f".env.example:{number}: {name} has a value; secrets belong in secret files, not in .env")
            if URL_WITH_PASSWORD.search(value):
                report.problem(f".env.example:{number}: {name} holds a URL with a password")
    return values
