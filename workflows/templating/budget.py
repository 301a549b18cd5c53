"""What one render may build, iterate and spend in time, and what the values it builds cost."""

import sys
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextvars import ContextVar
from itertools import chain, islice

from jinja2 import Undefined
from jinja2.exceptions import SecurityError
from jinja2.utils import Namespace

ITEM_COST = 8  # an item of a list or dict is a reference: counted as eight characters
MAX_RENDER_BYTES = 64 * 1024 * 1024  # what the values one render builds may take in all
MAX_LOOP_ITERATIONS = 100_000  # as many as the sandbox lets one `range` produce
MAX_INT_BITS = 4096  # some 1233 digits: beyond any count, id or size
MAX_RENDER_SECONDS = 2.0  # checked at every loop iteration, comparison and guarded operation


class RenderBudget:
    """What one `template_render` call may still build, iterate and spend in time."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.bytes_left = MAX_RENDER_BYTES
        self.iterations_left = MAX_LOOP_ITERATIONS
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS

    def admit(self, size: int, what: str) -> None:
        if size > self.max_chars:
            raise SecurityError(f"{what} would pass the limit of {self.max_chars} characters")

    def spend(self, size: int) -> None:
        self.bytes_left -= size
        if self.bytes_left < 0:
            raise SecurityError(f"the template builds more than {MAX_RENDER_BYTES} bytes in all")
        self.tick()

    def iterate(self) -> None:
        self.iterations_left -= 1
        if self.iterations_left < 0:
            raise SecurityError(f"the template's loops run more than {MAX_LOOP_ITERATIONS} times")
        self.tick()

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise SecurityError(f"the template takes longer than {MAX_RENDER_SECONDS} seconds")


# Set for the length of a render; a guard that runs outside one fails (LookupError) rather than pass.
render_budget: ContextVar[RenderBudget] = ContextVar("template_render_budget")


def value_cost(value) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return ITEM_COST * len(value)
    return 1


def printed_size(value, indent: int = 0) -> int:
    """About how many characters `value` prints to (str, repr or JSON; `indent` per nesting level)."""
    return _printed_size_within(value, render_budget.get().max_chars, indent, 0)


def _printed_size_within(value, limit: int, indent: int, depth: int) -> int:
    # Counting stops once past `limit`: a list of a million references to one string costs no more.
    if isinstance(value, str):
        return len(value) + (2 if depth else 0)  # quoted inside a list or dict
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 1  # its decimal digits
    if isinstance(value, (float, Undefined)):
        return 24
    if isinstance(value, Namespace):
        raise SecurityError("a namespace cannot be printed whole; print its attributes")
    if type(value) in (list, tuple) and set(map(type, value)) <= {str}:
        return sum(map(len, value)) + 4 * len(value) + 2  # the usual list of names, measured at C speed
    parts: Iterable
    if isinstance(value, Mapping):
        parts = chain.from_iterable(value.items())
    elif isinstance(value, Collection):
        parts = value
    else:
        return len(repr(value))
    size = 2
    for part in parts:
        size += 2 + indent * (depth + 1) + _printed_size_within(part, limit - size, indent, depth + 1)
        if size > limit:
            break
    return size


def charged(result, reserved: int = 0, arguments: tuple = ()):
    """Hold what an operation built to the cap, and pay for the memory it takes (or for `reserved`,
    what it was estimated to build lazily) from the render's budget."""
    if isinstance(result, (bytes, bytearray)):
        raise SecurityError("templates build text, not bytes")
    if any(result is argument for argument in arguments):
        return result  # handed back, not built
    budget, size = render_budget.get(), value_cost(result)
    budget.admit(size, "the result")
    budget.spend(max(sys.getsizeof(result), reserved))
    return result


def materialized(value):
    """An iterator as a list, so that what it holds can be measured before it is joined."""
    if not isinstance(value, Iterator):
        return value
    return charged(list(islice(value, render_budget.get().max_chars // ITEM_COST + 1)))


def refuse_large_int(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise SecurityError(f"the number would have more than {MAX_INT_BITS} bits")


def refuse_huge_power(base, exponent) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        refuse_large_int(abs(base).bit_length() * min(exponent, MAX_INT_BITS + 1))


def product_cost(left, right) -> int:
    if isinstance(left, int) and isinstance(right, int):
        refuse_large_int(left.bit_length() + right.bit_length())
        return 1
    times, repeated = (left, right) if isinstance(left, int) else (right, left)
    return value_cost(repeated) * max(times, 0) if isinstance(times, int) else 1
