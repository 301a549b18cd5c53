"""Templates in node parameters: Jinja2's immutable sandbox with strict undefined, over a read-only
copy of the run's context (`trigger`, `nodes.<id>`, `workflow`). A missing variable fails the step
and names it.

A template is code from a user, run in a worker, so it is also held to a cost:
- Every operation that can build something larger than its inputs (`*`, `**`, `+`, `%`, `~`,
  `.format`, filters, method calls, captured blocks) is checked before it runs, from the sizes of
  its operands, and refused when what it builds would pass the cap (WORKFLOW_TEMPLATE_MAX_CHARS,
  one MiB by default); what it built is measured again after. No string a template builds or
  renders is longer than the cap (escaping can grow one a few times over, for a moment, before it
  is measured), and no list it builds holds more than a cap's worth of references.
- Printing a value, and comparing, sorting or searching containers, first checks that they print
  within the cap: many references to one long string are cheap to build, not to read.
- The memory of what one render builds is paid for from MAX_RENDER_BYTES; its loops may run
  MAX_LOOP_ITERATIONS times in all; it must finish within MAX_RENDER_SECONDS.
- Macros, call blocks, includes, imports, template inheritance, recursive loops and `autoescape`
  are refused: a parameter has no use for them, and they repeat work without a loop or compute
  at compile time.
"""

import copy
import inspect
import re
import sys
import time
import types
from collections.abc import Collection, Iterator, Mapping, Set
from contextvars import ContextVar
from functools import update_wrapper, wraps
from itertools import chain, islice

from django.conf import settings
from jinja2 import StrictUndefined, TemplateError, Undefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, operators
from jinja2.environment import Environment
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Namespace
from markupsafe import EscapeFormatter, Markup

ITEM_COST = 8  # an item of a list or dict is a reference: counted as eight characters
MAX_RENDER_BYTES = 64 * 1024 * 1024  # what the values one render builds may take in all
MAX_LOOP_ITERATIONS = 100_000  # as many as the sandbox lets one `range` produce
MAX_INT_BITS = 4096  # some 1233 digits: beyond any count, id or size
MAX_RENDER_SECONDS = 2.0  # checked at every loop iteration, comparison and guarded operation


class TemplateInvalid(ValueError):
    pass


class _RenderBudget:
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
_budget: ContextVar[_RenderBudget] = ContextVar("template_render_budget")


def _read_only(*_args, **_kwargs):
    raise TypeError("the run's context is read-only")


class _ReadOnlyDict(dict):
    __module__ = "builtins"  # with the names below, errors read as before: "'dict object' has no attribute 'x'"
    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _read_only


class _ReadOnlyList(list):
    __module__ = "builtins"
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = clear = extend = insert = pop = remove = reverse = sort = _read_only


_ReadOnlyDict.__name__, _ReadOnlyList.__name__ = "dict", "list"


def _read_only_copy(value):
    """A copy that shares only immutable values with `value`: what a template does to it cannot
    reach the engine's context, even by a path the sandbox misses."""
    if isinstance(value, dict):
        return _ReadOnlyDict((key, _read_only_copy(item)) for key, item in value.items())
    if isinstance(value, list):
        return _ReadOnlyList(map(_read_only_copy, value))
    if isinstance(value, tuple):
        return tuple(map(_read_only_copy, value))
    if isinstance(value, (str, int, float, type(None))):
        return value
    return copy.deepcopy(value)


def _cost(value) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return ITEM_COST * len(value)
    return 1


def _printed_size(value, indent: int = 0) -> int:
    """About how many characters `value` prints to (str, repr or JSON; `indent` per nesting level)."""
    return _printed_size_within(value, _budget.get().max_chars, indent, 0)


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


def _charged(result, reserved: int = 0, arguments: tuple = ()):
    """Hold what an operation built to the cap, and pay for the memory it takes (or for `reserved`,
    what it was estimated to build lazily) from the render's budget."""
    if isinstance(result, (bytes, bytearray)):
        raise SecurityError("templates build text, not bytes")
    if any(result is argument for argument in arguments):
        return result  # handed back, not built
    budget, cost = _budget.get(), _cost(result)
    budget.admit(cost, "the result")
    budget.spend(max(sys.getsizeof(result), reserved))
    return result


def _materialized(value):
    """An iterator as a list, so that what it holds can be measured before it is joined."""
    if not isinstance(value, Iterator):
        return value
    return _charged(list(islice(value, _budget.get().max_chars // ITEM_COST + 1)))


def _refuse_large_int(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise SecurityError(f"the number would have more than {MAX_INT_BITS} bits")


def _refuse_huge_power(base, exponent) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _refuse_large_int(abs(base).bit_length() * min(exponent, MAX_INT_BITS + 1))


def _product_cost(left, right) -> int:
    if isinstance(left, int) and isinstance(right, int):
        _refuse_large_int(left.bit_length() + right.bit_length())
        return 1
    times, repeated = (left, right) if isinstance(left, int) else (right, left)
    return _cost(repeated) * max(times, 0) if isinstance(times, int) else 1


# A %-format field: `%`, an optional `(key)`, flags, width, `.precision`, length modifier, conversion.
_PERCENT_FIELD = re.compile(
    r"%(?:\((?P<key>[^()]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?"
    r"(?P<conversion>[diouxXeEfFgGcrsa%])"
)


def _percent_formatted_size(template: str, values) -> int:
    """The size of `template % values`, from its fields' widths and the sizes of their values."""
    limit, positional = _budget.get().max_chars, iter(values if isinstance(values, tuple) else (values,))
    size, percent_signs = len(template), 0
    for field in _PERCENT_FIELD.finditer(template):
        percent_signs += field.group().count("%")
        if field["conversion"] != "%":
            for width in (field["width"], field["precision"]):
                size += abs(_int_or_zero(next(positional, 0))) if width == "*" else int(width or 0)
            size += _printed_size(values[field["key"]] if field["key"] is not None else next(positional, ""))
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
    return _printed_size(items) + len(separator) * len(items)


# `(1).to_bytes(10**9)` would allocate before its result could be refused.
_BYTES_METHODS = frozenset({"encode", "to_bytes"})

# str methods whose result can be much larger than the string and its arguments.
_STRING_METHOD_SIZES = {
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
    lines = text.count("\n") + 1 if isinstance(text, str) else _printed_size(text)
    return _printed_size(text) + lines * max(prefix, 0)


def _wrapped_size(text, width: int, wrapstring) -> int:
    # Greedy wrapping fills each line past half its width, so a text has at most 2·len/width breaks.
    size = _printed_size(text)
    breaks = 2 * size // max(width, 1) + (text.count("\n") if isinstance(text, str) else size) + 1
    return size + breaks * len(str(wrapstring or "\n"))


def _json_size(value, indent) -> int:
    width = indent if isinstance(indent, int) else len(indent or "")
    return _printed_size(value, indent=max(width, 0))


def _rounded_size(precision) -> int:
    # Rounding an int to -n digits, and the 'floor' and 'ceil' methods, compute 10 ** n.
    _refuse_large_int(abs(precision) * 4)
    return 0


def _summed_size(start) -> int:
    if not isinstance(start, (int, float)):
        raise SecurityError("|sum adds numbers; adding sequences copies the growing total at every step")
    return 0


# Filters (by their bound arguments) whose result can be much larger than their inputs, or that
# build lists lazily, with what they may build.
_FILTER_SIZES = {
    "center": lambda a: max(_printed_size(a["value"]), a["width"]),
    "indent": lambda a: _indented_size(a["s"], a["width"]),
    "wordwrap": lambda a: _wrapped_size(a["s"], a["width"], a["wrapstring"]),
    "replace": lambda a: _replaced_size(str(a["s"]), str(a["old"]), str(a["new"]), a["count"]),
    "join": lambda a: _joined_size(str(a["d"]), a["value"]),
    "format": lambda a: _percent_formatted_size(str(a["value"]), a["kwargs"] or a["args"]),
    "tojson": lambda a: _json_size(a["value"], a["indent"]),
    "pprint": lambda a: _printed_size(a["value"], indent=1),
    "batch": lambda a: ITEM_COST * a["linecount"],
    "slice": lambda a: ITEM_COST * a["slices"],
    "round": lambda a: _rounded_size(a["precision"]),
    "sum": lambda a: _summed_size(a["start"]),
}

# Filters that hand back or rearrange their input without reading what it holds. The others print
# or compare it (`sort` and `unique` also lowercase every string), so their input is measured first.
_SHALLOW_FILTERS = frozenset({
    "abs", "attr", "batch", "count", "d", "default", "filesizeformat", "first", "float", "int",
    "items", "last", "length", "list", "map", "random", "reverse", "round", "slice", "sum",
})

# Its `rel` and `target` are repeated for every link found: a parameter has no use for HTML links.
_UNBOUNDED_FILTERS = frozenset({"urlize"})

_PASSED_BY_JINJA = (Context, EvalContext, Environment)


def _guarded_filter(name: str, function):
    # The environment is not async: call each filter's synchronous implementation, whose signature
    # lists what Jinja passes it (an async-aware wrapper takes an argument its signature hides).
    function = inspect.unwrap(function)
    signature = inspect.signature(function)
    size_of = _FILTER_SIZES.get(name)
    reads_input = name not in _SHALLOW_FILTERS

    @wraps(function)  # keeps the marker telling Jinja what to pass first (context, environment...)
    def guarded(*args, **kwargs):
        budget, estimate = _budget.get(), 0
        if reads_input or size_of:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            if reads_input:
                for key, value in bound.arguments.items():
                    bound.arguments[key] = _materialized(value)
                inputs = [value for value in bound.arguments.values() if not isinstance(value, _PASSED_BY_JINJA)]
                budget.admit(sum(_printed_size(value) for value in inputs), f"the input of |{name}")
            if size_of:
                estimate = size_of(bound.arguments)
                budget.admit(estimate, f"the result of |{name}")
            args, kwargs = bound.args, bound.kwargs
        return _charged(function(*args, **kwargs), estimate, args)

    return guarded


def _comparable(value):
    """An operand of `==`, `<`...: comparing two containers may compare every string they hold, so
    they must print within the cap. (A set holds each string once, and compares by hashing.)"""
    budget = _budget.get()
    budget.tick()  # comparing two long strings is work too
    if isinstance(value, Collection) and not isinstance(value, (str, range, Set, Undefined, *_PASSED_BY_JINJA)):
        budget.admit(_printed_size(value), "a compared value")
    return value


def _searchable(value):
    """The right of `in`: a dict or set is searched by hashing, a list by comparing every item."""
    return value if isinstance(value, Mapping) else _comparable(value)


def _printable(value, *_arguments):
    _budget.get().admit(_printed_size(value), "the tested value")


def _number(value, *_arguments):
    if isinstance(value, str):  # `value % n` would format it
        raise SecurityError("odd, even and divisibleby test numbers, not text")


def _compared(left, right):
    _comparable(left)
    _comparable(right)


def _searched(_value, container):
    _searchable(container)


# What the tests that read their arguments check first; the others look at a type or an identity.
_TEST_CHECKS = {
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


def _checked_test(test, check):
    @wraps(test)
    def checked(*args, **kwargs):
        check(*args, **kwargs)
        return test(*args, **kwargs)

    return checked


class _BoundedFormatter(SandboxedFormatter):
    """`str.format` for templates: a field's value, width and the text so far are measured first."""

    def __init__(self, env, **kwargs):
        super().__init__(env, **kwargs)
        self._formatted_size = 0

    def _admit(self, extra: int) -> None:
        _budget.get().admit(self._formatted_size + extra, "the formatted string")

    def convert_field(self, value, conversion):
        self._admit(_printed_size(value))
        return super().convert_field(value, conversion)

    def format_field(self, value, format_spec):
        self._admit(sum(int(width) for width in re.findall(r"\d+", format_spec)))
        formatted = super().format_field(value, format_spec)
        self._formatted_size += len(formatted)
        self._admit(0)
        return formatted


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


class _BoundedBuffer(list):
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
        budget = _budget.get()
        budget.admit(self.size, "the captured block")
        budget.spend(added)


class _BoundedCodeGenerator(CodeGenerator):
    """Routes through the environment the operations the sandbox leaves as plain Python."""

    def visit_Concat(self, node, frame):
        self.write("environment.concatenate((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def visit_Getitem(self, node, frame):
        if not isinstance(node.arg, nodes.Slice):
            return super().visit_Getitem(node, frame)
        self.write("environment.getitem(")
        self.visit(node.node, frame)
        self.write(", slice(")
        for position, bound in enumerate((node.arg.start, node.arg.stop, node.arg.step)):
            self.write(", " if position else "")
            if bound is None:
                self.write("None")
            else:
                self.visit(bound, frame)
        self.write("))")

    def visit_For(self, node, frame):
        # Every loop draws its iterations from the render's budget. (A copy: the tree may be compiled again.)
        counted = copy.copy(node)
        counter = nodes.EnvironmentAttribute("iterate_within_budget", lineno=node.lineno)
        counted.iter = nodes.Call(counter, [node.iter], [], None, None, lineno=node.lineno)
        super().visit_For(counted, frame)

    def visit_List(self, node, frame):
        self._charged_literal(super().visit_List, node, frame)

    def visit_Dict(self, node, frame):
        self._charged_literal(super().visit_Dict, node, frame)

    def visit_Tuple(self, node, frame):
        if node.ctx == "load":  # not the targets of `{% for a, b in ... %}`
            self._charged_literal(super().visit_Tuple, node, frame)
        else:
            super().visit_Tuple(node, frame)

    def _charged_literal(self, visit, node, frame):
        # `{% set ns.kept = [ns.kept, ...] %}` in a loop would otherwise keep a new list per iteration for free.
        self.write("environment.built(")
        visit(node, frame)
        self.write(")")

    def visit_Compare(self, node, frame):
        self.write("(environment.comparable(")
        self.visit(node.expr, frame)
        self.write(")")
        for operand in node.ops:
            check = "searchable" if operand.op in ("in", "notin") else "comparable"
            self.write(f" {operators[operand.op]} environment.{check}(")
            self.visit(operand.expr, frame)
            self.write(")")
        self.write(")")

    def buffer(self, frame):
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.bounded_buffer()")


@pass_context  # asking for the context keeps Jinja from printing constants at compile time, unguarded
def _finalized(_context, value):
    """Every `{{ value }}`, before it is turned into text."""
    _budget.get().admit(_printed_size(value), "the printed value")
    return value


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options):
        # Without the optimizer nothing is computed at compile time, outside the guards below.
        super().__init__(optimized=False, finalize=_finalized, **options)
        self.filters = {
            name: _guarded_filter(name, function)
            for name, function in self.filters.items()
            if name not in _UNBOUNDED_FILTERS
        }
        self.tests = {
            name: _checked_test(test, _TEST_CHECKS[name]) if name in _TEST_CHECKS else test
            for name, test in self.tests.items()
        }
        del self.globals["lipsum"]  # `lipsum(n)` writes n paragraphs

    def is_safe_attribute(self, obj, attr, value):
        # A class's methods are unbound: `dict.update(trigger, {...})` would change any dict it is given.
        return not isinstance(obj, type) and super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context, operator, left, right):
        budget = _budget.get()
        if operator == "**":
            _refuse_huge_power(left, right)
        elif operator == "*":
            budget.admit(_product_cost(left, right), "the repeated value")
        elif operator == "+":
            budget.admit(_cost(left) + _cost(right), "the sum")
        elif isinstance(left, str):
            budget.admit(_percent_formatted_size(left, right), "the formatted string")
        return _charged(super().call_binop(context, operator, left, right))

    def call(self, context, obj, /, *args, **kwargs):
        obj = self.wrap_str_format(obj) or obj  # also a `format` not reached through getattr
        if getattr(obj, "__name__", None) in _BYTES_METHODS:
            raise SecurityError("templates build text, not bytes")
        receiver, estimate = getattr(obj, "__self__", None), 0
        if isinstance(receiver, str):
            budget = _budget.get()
            args = tuple(map(_materialized, args))
            # Markup's methods print their arguments to escape them.
            budget.admit(_printed_size((args, kwargs)), f"the arguments of .{obj.__name__}()")
            size_of = _STRING_METHOD_SIZES.get(obj.__name__)
            if size_of:
                estimate = size_of(receiver, *args, **kwargs)
                budget.admit(estimate, f"the result of .{obj.__name__}()")
        # What a call returns may keep what it was given (a namespace, a cycler): it pays for both.
        arguments = (*args, *kwargs.values())
        reserved = max(estimate, sum(map(_cost, arguments)))
        return _charged(super().call(context, obj, *args, **kwargs), reserved, arguments)

    def getitem(self, obj, argument):
        item = super().getitem(obj, argument)
        return _charged(item) if isinstance(argument, slice) else item

    def wrap_str_format(self, value):
        if not (
            isinstance(value, (types.MethodType, types.BuiltinMethodType))
            and value.__name__ in ("format", "format_map")
            and isinstance(value.__self__, str)
        ):
            return None
        template, environment = value.__self__, self

        def bounded_format(*args, **kwargs):
            if value.__name__ == "format_map":
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one positional argument")
                args, kwargs = (), args[0]
            if isinstance(template, Markup):
                formatter = _BoundedEscapeFormatter(environment, escape=template.escape)
            else:
                formatter = _BoundedFormatter(environment)
            return type(template)(formatter.vformat(template, args, kwargs))

        return update_wrapper(bounded_format, value)

    def concatenate(self, parts):
        """`a ~ b`, measured before it is joined."""
        _budget.get().admit(sum(_printed_size(part) for part in parts), "the concatenation")
        return _charged(str_join(parts))

    comparable = staticmethod(_comparable)
    searchable = staticmethod(_searchable)
    built = staticmethod(_charged)

    def iterate_within_budget(self, iterable):
        budget = _budget.get()
        for item in iterable:
            budget.iterate()
            yield item

    def bounded_buffer(self):
        return _BoundedBuffer()


_environment = _BoundedEnvironment(undefined=StrictUndefined, autoescape=False)

# A node parameter has no use for these. Macros and call blocks repeat work without a loop, and
# Jinja computes an `autoescape` setting at compile time, outside the guards.
_UNSUPPORTED_TAGS = {
    nodes.ScopedEvalContextModifier: "autoescape",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from … import",
    nodes.Extends: "extends",
    nodes.Block: "block",
}


def _refusal(node) -> str | None:
    if type(node) in _UNSUPPORTED_TAGS:
        return f"may not use {{% {_UNSUPPORTED_TAGS[type(node)]} %}}"
    if isinstance(node, nodes.For):
        return "may not use a recursive loop" if node.recursive else None
    if isinstance(node, nodes.Filter):
        return None if node.name in _environment.filters else f"uses an unknown filter {node.name!r}"
    if isinstance(node, nodes.Test):
        return None if node.name in _environment.tests else f"uses an unknown test {node.name!r}"
    name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
    if isinstance(name, str) and name.startswith("_"):
        return f"may not use the private attribute {name!r}"
    return None


def _parsed(source: str) -> nodes.Template:
    try:
        tree = _environment.parse(source)
    except TemplateError as exc:
        raise TemplateInvalid(f"does not parse: {exc.message}") from None
    checked = (nodes.Getattr, nodes.Getitem, nodes.For, nodes.Filter, nodes.Test, *_UNSUPPORTED_TAGS)
    for node in tree.find_all(checked):
        refusal = _refusal(node)
        if refusal:
            raise TemplateInvalid(refusal)
    return tree


def template_check(source: str) -> None:
    """Refuse at save time a template that does not parse, reaches for private attributes (the
    sandbox would refuse those at run time too: `{{ ''.__class__.__mro__ }}`), uses an unknown
    filter or test, or a construct a node parameter has no use for (macros, includes...)."""
    _parsed(source)


def template_render(value, context: dict):
    """Render every string in `value` (nested lists and dicts included) against a read-only copy of
    the part of `context` they can reach, all of them within one budget."""
    token = _budget.set(_RenderBudget(settings.WORKFLOW_TEMPLATE_MAX_CHARS))
    try:
        # Checked again at run time: a template may have been saved before a check existed.
        trees = {source: _parsed(source) for source in template_strings(value)}
        return _render_all(value, trees, _read_only_copy(_reachable_context(context, trees.values())))
    finally:
        _budget.reset(token)


def _reachable_context(context: dict, trees) -> dict:
    """What templates can reach of `context`: a template reads it only through the names it
    uses, so only those are copied, and of `nodes` only the outputs it names (`nodes.pr`,
    `nodes['pr']`) unless it also uses `nodes` another way (`nodes[key]`, `nodes|tojson`)."""
    names = [name for tree in trees for name in tree.find_all(nodes.Name)]
    reachable = {key: item for key, item in context.items() if key in {name.name for name in names}}
    named_outputs = [
        _constant_key(access)
        for tree in trees
        for access in tree.find_all((nodes.Getattr, nodes.Getitem))
        if isinstance(access.node, nodes.Name) and access.node.name == "nodes"
    ]
    uses_of_nodes = sum(name.name == "nodes" for name in names)
    if "nodes" in reachable and None not in named_outputs and len(named_outputs) == uses_of_nodes:
        reachable["nodes"] = {key: item for key, item in context["nodes"].items() if key in named_outputs}
    return reachable


def _constant_key(access: nodes.Getattr | nodes.Getitem) -> str | None:
    if isinstance(access, nodes.Getattr):
        return access.attr
    return access.arg.value if isinstance(access.arg, nodes.Const) and isinstance(access.arg.value, str) else None


def _render_all(value, trees: dict, context: dict):
    if isinstance(value, str):
        return _render_string(trees[value], context)
    if isinstance(value, dict):
        return {key: _render_all(item, trees, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_all(item, trees, context) for item in value]
    return value


def _render_string(tree: nodes.Template, context: dict) -> str:
    try:
        return _streamed(_environment.from_string(tree).generate(context))
    except TemplateError as exc:
        raise TemplateInvalid(str(exc)) from None
    except Exception as exc:  # rendering does no I/O: whatever fails is the template's doing
        raise TemplateInvalid(f"{type(exc).__name__}: {exc}") from None


def _streamed(chunks) -> str:
    """The rendered text, stopped as soon as it passes the cap."""
    budget, text, size = _budget.get(), [], 0
    for chunk in chunks:
        size += len(chunk)
        budget.admit(size, "the rendered text")
        budget.spend(len(chunk))
        text.append(chunk)
    return "".join(text)


def template_strings(value) -> list[str]:
    """Every string in a parameter value, where templates can be."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in template_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in template_strings(item)]
    return []
