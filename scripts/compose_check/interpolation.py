"""Compose variable interpolation (${VAR}, ${VAR:-default}, ${VAR-d}, ${VAR:?e},
${VAR?e}, ${VAR:+a}, $VAR, $$) with .env.example's values, recording every use."""

import re

_REFERENCE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?|:\+|\+)(.*))?$", re.S)
_BARE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class InterpolationError(Exception):
    pass


class Interpolator:
    def __init__(self, values):
        self.values = values
        self.uses = {}  # name -> [(operator, argument, where)]

    def expand(self, text, where, record=True):
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
                end = self._closing_brace(text, i)
                out.append(self._reference(text[i + 2:end], text, where, record))
                i = end + 1
                continue
            match = _BARE.match(text, i)
            if not match:
                raise InterpolationError(f'a lone "$" in {text!r} (write $$ for a literal dollar)')
            if record:
                self.uses.setdefault(match.group(1), []).append((None, None, where))
            out.append(self.values.get(match.group(1), ""))
            i = match.end()
        return "".join(out)

    @staticmethod
    def _closing_brace(text, start):
        depth = 0
        for j in range(start + 1, len(text)):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    return j
        raise InterpolationError(f'unclosed "${{" in {text!r}')

    def _reference(self, body, text, where, record):
        match = _REFERENCE.match(body)
        if not match:
            raise InterpolationError(f'invalid reference "${{{body}}}" in {text!r}')
        name, operator, argument = match.groups()
        if record:
            self.uses.setdefault(name, []).append((operator, argument, where))
        value = self.values.get(name)
        if operator in (":-", "-"):
            unset = value is None or (operator == ":-" and value == "")
            return self.expand(argument, where, record) if unset else value
        if operator in (":?", "?"):
            if value is None or (operator == ":?" and value == ""):
                raise InterpolationError(
                    f"{name} is required ({argument or 'no message'}) and has no value in .env.example")
            return value
        if operator in (":+", "+"):
            is_set = value is not None and (operator == "+" or value != "")
            return self.expand(argument, where, record) if is_set else ""
        return value if value is not None else ""

    def resolve(self, node, where, report):
        """The document as Compose would see it with .env.example's values (= the defaults)."""
        if isinstance(node, dict):
            return {key: self.resolve(value, f"{where}.{key}", report) for key, value in node.items()}
        if isinstance(node, list):
            return [self.resolve(value, f"{where}[{index}]", report) for index, value in enumerate(node)]
        if isinstance(node, str):
            try:
                return self.expand(node, where)
            except InterpolationError as error:
                report.problem(f"{where}: {error}")
                return node
        return node


# Variables Compose itself reads; they may stand in .env.example without being used.
COMPOSE_BUILTINS = {"COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "COMPOSE_FILE", "DOCKER_BUILDKIT"}


def check_documented(interpolator, report):
    """Every variable used is in .env.example with the same default, and the reverse."""
    report.check()
    documented = interpolator.values
    for name, entries in sorted(interpolator.uses.items()):
        defaults = {argument for operator, argument, _ in entries if operator in (":-", "-")}
        where = entries[0][2]
        if name not in documented:
            report.problem(f"${{{name}}} (at {where}) is not documented in .env.example"
                           + ("" if defaults else " and has no default"))
            continue
        if len(defaults) > 1:
            report.problem(f"${{{name}}} has different defaults in the compose file: {sorted(defaults)}")
        for default in defaults:
            try:
                expanded = interpolator.expand(default, where, record=False)
            except InterpolationError:
                expanded = default
            if expanded != documented[name]:
                report.problem(f"${{{name}}}: compose default {expanded!r} differs from .env.example's "
                               f"{documented[name]!r}")
    for name in sorted(documented):
        if name not in interpolator.uses and name not in COMPOSE_BUILTINS:
            report.problem(f".env.example lists {name}, which the compose file does not use")
