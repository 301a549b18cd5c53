"""Checks around Jinja's filters, tests, formatters and captured blocks, run before they build."""

import inspect
import re
from collections.abc import Collection, Mapping, Set
from functools import wraps

from jinja2 import Undefined, pass_context
from jinja2.environment import Environment
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedFormatter
from markupsafe import EscapeFormatter

from workflows.templating.budget import charged, materialized, printed_size, render_budget
from workflows.templating.sizes import FILTER_SIZES

# Filters that hand back or rearrange their input without reading what it holds. The others print
# or compare it (`sort` and `unique` also lowercase every string), so their input is measured first.
_SHALLOW_FILTERS = frozenset(
    {
        "abs",
        "attr",
        "batch",
        "count",
        "d",
        "default",
        "filesizeformat",
        "first",
        "float",
        "int",
        "items",
        "last",
        "length",
        "list",
        "map",
        "random",
        "reverse",
        "round",
        "slice",
        "sum",
    }
)

# Its `rel` and `target` are repeated for every link found: a parameter has no use for HTML links.
UNBOUNDED_FILTERS = frozenset({"urlize"})

PASSED_BY_JINJA = (Context, EvalContext, Environment)


def guarded_filter(name: str, function):
    # The environment is not async: call each filter's synchronous implementation, whose signature
    # lists what Jinja passes it (an async-aware wrapper takes an argument its signature hides).
    function = inspect.unwrap(function)
    signature = inspect.signature(function)
    size_of = FILTER_SIZES.get(name)
    reads_input = name not in _SHALLOW_FILTERS

    @wraps(function)  # keeps the marker telling Jinja what to pass first (context, environment...)
    def guarded(*args, **kwargs):
        budget, estimate = render_budget.get(), 0
        if reads_input or size_of:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            if reads_input:
                for key, value in bound.arguments.items():
                    bound.arguments[key] = materialized(value)
                inputs = [value for value in bound.arguments.values() if not isinstance(value, PASSED_BY_JINJA)]
                budget.admit(sum(printed_size(value) for value in inputs), f"the input of |{name}")
            if size_of:
                estimate = size_of(bound.arguments)
                budget.admit(estimate, f"the result of |{name}")
            args, kwargs = bound.args, bound.kwargs
        return charged(function(*args, **kwargs), estimate, args)

    return guarded


def comparable(value):
    """An operand of `==`, `<`...: comparing two containers may compare every string they hold, so
    they must print within the cap. (A set holds each string once, and compares by hashing.)"""
    budget = render_budget.get()
    budget.tick()  # comparing two long strings is work too
    if isinstance(value, Collection) and not isinstance(value, (str, range, Set, Undefined, *PASSED_BY_JINJA)):
        budget.admit(printed_size(value), "a compared value")
    return value


def searchable(value):
    """The right of `in`: a dict or set is searched by hashing, a list by comparing every item."""
    return value if isinstance(value, Mapping) else comparable(value)


def _printable(value, *_arguments):
    render_budget.get().admit(printed_size(value), "the tested value")


def _number(value, *_arguments):
    if isinstance(value, str):  # `value % n` would format it
        raise SecurityError("odd, even and divisibleby test numbers, not text")


def _compared(left, right):
    comparable(left)
    comparable(right)


def _searched(_value, container):
    searchable(container)


# What the tests that read their arguments check first; the others look at a type or an identity.
TEST_CHECKS = {
    "lower": _printable,
    "upper": _printable,
    "odd": _number,
    "even": _number,
    "divisibleby": _number,
    "in": _searched,
    **dict.fromkeys(
        ("==", "eq", "equalto", "!=", "ne", ">", "gt", "greaterthan", ">=", "ge", "<", "lt", "lessthan", "<=", "le"),
        _compared,
    ),
}


def checked_test(test, check):
    @wraps(test)
    def checked(*args, **kwargs):
        check(*args, **kwargs)
        return test(*args, **kwargs)

    return checked


class BoundedFormatter(SandboxedFormatter):
    """`str.format` for templates: a field's value, width and the text so far are measured first."""

    def __init__(self, env, **kwargs):
        super().__init__(env, **kwargs)
        self._formatted_size = 0

    def _admit(self, extra: int) -> None:
        render_budget.get().admit(self._formatted_size + extra, "the formatted string")

    def convert_field(self, value, conversion):
        self._admit(printed_size(value))
        return super().convert_field(value, conversion)

    def format_field(self, value, format_spec):
        self._admit(sum(int(width) for width in re.findall(r"\d+", format_spec)))
        formatted = super().format_field(value, format_spec)
        self._formatted_size += len(formatted)
        self._admit(0)
        return formatted


class BoundedEscapeFormatter(BoundedFormatter, EscapeFormatter):
    pass


class BoundedBuffer(list):
    """Output captured by `{% set x %}…{% endset %}` or `{% filter %}`, held to the cap as it grows."""

    size = 0

    def append(self, text):
        self._admit((text,))
        super().append(text)

    def extend(self, texts):
        texts = tuple(texts)
        self._admit(texts)
        super().extend(texts)

    def _admit(self, texts) -> None:
        added = sum(map(len, texts))
        self.size += added
        budget = render_budget.get()
        budget.admit(self.size, "the captured block")
        budget.spend(added)


@pass_context  # asking for the context keeps Jinja from printing constants at compile time, unguarded
def finalized(_context, value):
    """Every `{{ value }}`, before it is turned into text."""
    render_budget.get().admit(printed_size(value), "the printed value")
    return value
