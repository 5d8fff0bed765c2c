"""Figures from a worker's /metrics (Prometheus text exposition)."""


def sample(text, name, labels=None):
    """The value of sample `name` with exactly `labels` (a dict; none when not
    given), or None. Labels are matched in name order as the workers write them."""
    wanted = "" if not labels else "{" + ",".join(f'{key}="{value}"' for key, value in sorted(labels.items())) + "}"
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == name + wanted:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def claim_totals(text):
    """(seconds, claims) of a worker's claim round trips so far; (0, 0) when absent."""
    return sample(text, "queue_worker_claim_seconds_sum") or 0.0, int(sample(text, "queue_worker_claim_seconds_count") or 0)
