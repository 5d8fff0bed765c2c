"""The one-line verdict of a run, from its own counts and a verdict program's output."""


def figure(name, line):
    """The value of `name=value` in a verdict program's line, or None."""
    for word in line.split():
        key, sep, value = word.partition("=")
        if sep and key == name:
            return value
    return None


def program_figures(output, drop_prefix=None):
    """A verdict program's first line without its PASS/FAIL word (and without a
    leading `drop_prefix=...` word), and the rest of its output."""
    lines = output.splitlines()
    first = lines[0] if lines else ""
    words = first.split()
    if words and words[-1] in ("PASS", "FAIL"):
        words = words[:-1]
    if drop_prefix and words and words[0].startswith(drop_prefix + "="):
        words = words[1:]
    return " ".join(words), lines[1:]


class RunReport:
    """What a run saw: failures (the run fails), remarks (it does not)."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.remarks = []

    def line(self, words, passed):
        return f"{self.name}: " + " ".join(word for word in words if word) + (" PASS" if passed else " FAIL")

    def print(self, line, program_lines):
        print(line)
        for text in program_lines:
            print(text)
        for note in self.failures:
            print(f"  failure: {note}")
        for note in self.remarks:
            print(f"  note: {note}")
