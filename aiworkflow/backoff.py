import random


def backoff_seconds(*, attempt: int, base: float, cap: float, jitter: float = 0.0) -> float:
    """Exponential backoff before the try after `attempt` (1 for the first failure): base, 2x
    base, 4x base... up to `cap`, spread by +/- `jitter` (a fraction) so that steps failing
    together do not come back together."""
    seconds = min(base * 2 ** max(attempt - 1, 0), cap)
    return seconds * random.uniform(1 - jitter, 1 + jitter) if jitter else seconds
