"""Estimates, from their inputs, of what operations that can grow text would build."""

import re
from collections.abc import Mapping

from jinja2.exceptions import SecurityError

from workflows.templating.budget import ITEM_COST, printed_size, refuse_large_int, render_budget

# A %-format field: `%`, an optional `(key)`, flags, width, `.precision`, length modifier, conversion.
_PERCENT_FIELD = re.compile(
    r"%(?:\((?P<key>[^()]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?"
    r"(?P<conversion>[diouxXeEfFgGcrsa%])"
)


def percent_formatted_size(template: str, values) -> int:
    """The size of `template % values`, from its fields' widths and the sizes of their values."""
    limit, positional = render_budget.get().max_chars, iter(values if isinstance(values, tuple) else (values,))
    size, percent_signs = len(template), 0
    for field in _PERCENT_FIELD.finditer(template):
        percent_signs += field.group().count("%")
        if field["conversion"] != "%":
            for width in (field["width"], field["precision"]):
                size += abs(_int_or_zero(next(positional, 0))) if width == "*" else int(width or 0)
            size += printed_size(values[field["key"]] if field["key"] is not None else next(positional, ""))
        if size > limit:
            return size
    if percent_signs != template.count("%"):
        raise SecurityError("the %-format has a field that cannot be measured")
    return size


def _int_or_zero(value) -> int:
    return value if isinstance(value, int) else 0


def _padded_size(text: str, width, *_fill) -> int:
    return max(len(text), width)


def _expanded_tabs_size(text: str, tabsize=8) -> int:
    return len(text) + text.count("\t") * max(tabsize, 0)


def _replaced_size(text: str, old: str, new: str, count=-1) -> int:
    found = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _translated_size(text: str, table) -> int:
    replacements = table.values() if isinstance(table, Mapping) else table
    return len(text) * max([1, *(len(item) for item in replacements if isinstance(item, str))])


def _joined_size(separator: str, items) -> int:
    return printed_size(items) + len(separator) * len(items)


# `(1).to_bytes(10**9)` would allocate before its result could be refused.
BYTES_METHODS = frozenset({"encode", "to_bytes"})

# str methods whose result can be much larger than the string and its arguments.
STRING_METHOD_SIZES = {
    "center": _padded_size,
    "ljust": _padded_size,
    "rjust": _padded_size,
    "zfill": _padded_size,
    "expandtabs": _expanded_tabs_size,
    "replace": _replaced_size,
    "translate": _translated_size,
    "join": _joined_size,
}


def _indented_size(text, width) -> int:
    prefix = width if isinstance(width, int) else len(str(width))
    lines = text.count("\n") + 1 if isinstance(text, str) else printed_size(text)
    return printed_size(text) + lines * max(prefix, 0)


def _wrapped_size(text, width: int, wrapstring) -> int:
    # Greedy wrapping fills each line past half its width, so a text has at most 2·len/width breaks.
    size = printed_size(text)
    breaks = 2 * size // max(width, 1) + (text.count("\n") if isinstance(text, str) else size) + 1
    return size + breaks * len(str(wrapstring or "\n"))


def _json_size(value, indent) -> int:
    width = indent if isinstance(indent, int) else len(indent or "")
    return printed_size(value, indent=max(width, 0))


def _rounded_size(precision) -> int:
    # Rounding an int to -n digits, and the 'floor' and 'ceil' methods, compute 10 ** n.
    refuse_large_int(abs(precision) * 4)
    return 0


def _summed_size(start) -> int:
    if not isinstance(start, (int, float)):
        raise SecurityError("|sum adds numbers; adding sequences copies the growing total at every step")
    return 0


# Filters (by their bound arguments) whose result can be much larger than their inputs, or that
# build lists lazily, with what they may build.
FILTER_SIZES = {
    "center": lambda a: max(printed_size(a["value"]), a["width"]),
    "indent": lambda a: _indented_size(a["s"], a["width"]),
    "wordwrap": lambda a: _wrapped_size(a["s"], a["width"], a["wrapstring"]),
    "replace": lambda a: _replaced_size(str(a["s"]), str(a["old"]), str(a["new"]), a["count"]),
    "join": lambda a: _joined_size(str(a["d"]), a["value"]),
    "format": lambda a: percent_formatted_size(str(a["value"]), a["kwargs"] or a["args"]),
    "tojson": lambda a: _json_size(a["value"], a["indent"]),
    "pprint": lambda a: printed_size(a["value"], indent=1),
    "batch": lambda a: ITEM_COST * a["linecount"],
    "slice": lambda a: ITEM_COST * a["slices"],
    "round": lambda a: _rounded_size(a["precision"]),
    "sum": lambda a: _summed_size(a["start"]),
}
