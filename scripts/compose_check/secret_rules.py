"""What counts as a secret in names and values."""

import re

_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|PRIVATE_KEY", re.I)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def is_secret_name(name):
    """A variable that would hold a secret itself (not the path of a file holding one)."""
    return bool(_SECRET_NAME.search(name)) and not name.endswith(("_FILE", "_DIR", "_PATH"))
