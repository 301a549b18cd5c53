"""Filter pattern benchmark: prints figures, asserts nothing.

For the worst trigger patterns we could build within the 255-character cap, the time RE2 takes
to match a 1,000-character name the pattern does not match: p50, p99 and max over SAMPLES
matches, each the first on a freshly compiled pattern (the costly one: it builds the DFA's
states). Beside it, in the same run, Python's backtracking `re` on the same regex with names of
the same shape of only 24 and 28 characters, then the same 1,000 characters, each in a
subprocess killed after RE_TIME_CAP seconds, so that the benchmark always ends. Some patterns
only backtrack once the name is long enough to feed them (85 `**a` need 85 a's); the last two
do not make `re` backtrack and are here for RE2: `**a` then 63 `[ab]` is a DFA of 2^63 states.

    .venv/bin/python bench/patterns.py
"""

import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Reference, figure_record  # noqa: E402
from tests.triggers.pattern_timing import first_match_seconds  # noqa: E402
from triggers.patterns import pattern_compile  # noqa: E402

SAMPLES = 300
LONG_NAME = 1_000
RE_NAMES = (24, 28, LONG_NAME)
RE_TIME_CAP = 5.0

# (pattern, a name of the given length that it does not match)
WORST_CASES = [
    ("**a**a**a**a**a**a**a**b", lambda length: "a" * length),
    ("**a" * 85, lambda length: "a" * (length - 1) + "b"),
    ("*a" * 63 + "*b", lambda length: "a" * length),
    ("a?" * 120 + "a" * 15, lambda length: "a" * (length - 1) + "b"),
    ("a+" * 127 + "b", lambda length: "a" * length),
    ("[ab]+" * 50 + "c", lambda length: "ab" * (length // 2)),
    ("a?b?" * 63 + "c", lambda length: "ab" * (length // 2)),
    ("\\*?" * 85, lambda length: "*" * (length - 1) + "a"),
    ("**/" * 85, lambda length: "a/" * (length // 2 - 1) + "ab"),
    ("**a" + "[ab]" * 63, lambda length: "b" * length),
    ("*/" * 127 + "*", lambda length: "a/" * (length // 2)),
]

# Run by the subprocess: argv holds the regex and the name.
RE_MATCH = """
import re, sys, time
regex = re.compile(sys.argv[1])
started = time.perf_counter()
regex.fullmatch(sys.argv[2])
print(time.perf_counter() - started)
"""


def re_seconds(regex: str, name: str) -> float | None:
    """Python's `re` on one name, or None when it did not answer within RE_TIME_CAP."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", RE_MATCH, regex, name],
            capture_output=True,
            text=True,
            timeout=RE_TIME_CAP,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout)


def re_timings(regex: str, miss: Callable[[int], str]) -> list[float | None]:
    """`re` on each name length; past the cap on one, the longer ones are not run (nor would
    they answer)."""
    timings: list[float | None] = []
    for length in RE_NAMES:
        capped = bool(timings) and timings[-1] is None
        timings.append(None if capped else re_seconds(regex, miss(length)))
    return timings


def shown(seconds: float | None) -> str:
    return f"> {RE_TIME_CAP:.0f} s" if seconds is None else f"{seconds * 1000:.3f} ms"


def shortened(pattern: str) -> str:
    return pattern if len(pattern) <= 28 else pattern[:25] + "..."


def main() -> None:
    print(
        f"RE2: first match on a freshly compiled pattern, {LONG_NAME}-character names, {SAMPLES} samples; "
        f"re: one match in a subprocess, capped at {RE_TIME_CAP:.0f} s\n"
    )
    re_columns = "".join(f"{f're {length} chars':>15}" for length in RE_NAMES)
    print(f"{'pattern':<29}{'len':>4}{'RE2 p50':>10}{'p99':>9}{'max':>9}{re_columns}{'re / RE2':>13}")
    slowest: tuple[float, str, float | None] = (0.0, "", None)  # RE2's worst p99, its pattern, re on it
    for pattern, miss in WORST_CASES:
        timings = first_match_seconds(pattern, miss(LONG_NAME), samples=SAMPLES)
        p50, p99, worst = statistics.median(timings), timings[int(len(timings) * 0.99)], timings[-1]
        backtracking = re_timings(pattern_compile(pattern).regex.pattern.decode(), miss)
        if p99 >= slowest[0]:
            slowest = (p99, pattern, backtracking[-1])
        ratio = f"> {RE_TIME_CAP / p50:,.0f}x" if backtracking[-1] is None else f"{backtracking[-1] / p50:,.1f}x"
        print(
            f"{shortened(pattern):<29}{len(pattern):>4}{p50 * 1000:>8.3f}ms{p99 * 1000:>7.3f}ms{worst * 1000:>7.3f}ms"
            + "".join(f"{shown(seconds):>15}" for seconds in backtracking)
            + f"{ratio:>13}",
            flush=True,
        )
    print(f"\nre / RE2: re over RE2's p50, both on the same {LONG_NAME}-character name.")
    record(*slowest)


def record(p99: float, pattern: str, backtracking: float | None) -> None:
    name = f"RE2's worst p99, a first match on {LONG_NAME:,} characters (`{shortened(pattern)}`)"
    figure_record(name=name, value=p99 * 1000, unit="ms", reference=Reference("target", "under", 10))
    re_on_it = Reference(
        "peer",
        f"Python re on the same pattern and name (capped at {RE_TIME_CAP:.0f} s)",
        RE_TIME_CAP * 1000 if backtracking is None else backtracking * 1000,
        at_least=backtracking is None,
    )
    figure_record(name=name, value=p99 * 1000, unit="ms", reference=re_on_it)


if __name__ == "__main__":
    main()
