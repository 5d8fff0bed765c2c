"""Problems (which fail the check), warnings and the count of checks made."""


class Report:
    def __init__(self):
        self.problems = []
        self.warnings = []
        self.notes = []
        self.checks = 0

    def problem(self, message):
        self.problems.append(message)

    def warn(self, message):
        self.warnings.append(message)

    def note(self, message):
        """A line of information printed before the verdict."""
        self.notes.append(message)

    def check(self):
        """Counts one rule applied (for the summary line)."""
        self.checks += 1

    def lines(self):
        """What is printed, verdict excluded, in order."""
        return ([f"check-compose: {note}" for note in self.notes]
                + [f"check-compose: warning: {message}" for message in self.warnings]
                + [f"check-compose: error: {message}" for message in self.problems])
