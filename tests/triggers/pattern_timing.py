import time

import re2

from triggers.patterns import pattern_compile


def first_match_seconds(pattern: str, value: str, *, samples: int) -> list[float]:
    """How long the first match of a freshly compiled pattern takes, `samples` times, fastest
    first. The first match builds RE2's DFA states, which is what makes a pattern slow."""
    timings = []
    for _ in range(samples):
        re2.purge()  # else the package's cache returns the compiled pattern with its DFA built
        compiled = pattern_compile(pattern)
        started = time.perf_counter()
        compiled.matches(value)
        timings.append(time.perf_counter() - started)
    return sorted(timings)
