"""The bounded sandbox: Jinja2's immutable sandbox, with every operation that can build
something large routed through a check, and loops drawn from the render's budget."""

import copy
import types
from functools import update_wrapper

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, operators
from jinja2.exceptions import SecurityError
from jinja2.runtime import str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from workflows.templating.budget import (
    charged,
    materialized,
    printed_size,
    product_cost,
    refuse_huge_power,
    render_budget,
    value_cost,
)
from workflows.templating.guards import (
    TEST_CHECKS,
    UNBOUNDED_FILTERS,
    BoundedBuffer,
    BoundedEscapeFormatter,
    BoundedFormatter,
    checked_test,
    comparable,
    finalized,
    guarded_filter,
    searchable,
)
from workflows.templating.sizes import BYTES_METHODS, STRING_METHOD_SIZES, percent_formatted_size


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


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options):
        # Without the optimizer nothing is computed at compile time, outside the guards below.
        super().__init__(optimized=False, finalize=finalized, **options)
        self.filters = {
            name: guarded_filter(name, function)
            for name, function in self.filters.items()
            if name not in UNBOUNDED_FILTERS
        }
        self.tests = {
            name: checked_test(test, TEST_CHECKS[name]) if name in TEST_CHECKS else test
            for name, test in self.tests.items()
        }
        del self.globals["lipsum"]  # `lipsum(n)` writes n paragraphs

    def is_safe_attribute(self, obj, attr, value):
        # A class's methods are unbound: `dict.update(trigger, {...})` would change any dict it is given.
        return not isinstance(obj, type) and super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context, operator, left, right):
        budget = render_budget.get()
        if operator == "**":
            refuse_huge_power(left, right)
        elif operator == "*":
            budget.admit(product_cost(left, right), "the repeated value")
        elif operator == "+":
            budget.admit(value_cost(left) + value_cost(right), "the sum")
        elif isinstance(left, str):
            budget.admit(percent_formatted_size(left, right), "the formatted string")
        return charged(super().call_binop(context, operator, left, right))

    def call(self, context, obj, /, *args, **kwargs):
        obj = self.wrap_str_format(obj) or obj  # also a `format` not reached through getattr
        if getattr(obj, "__name__", None) in BYTES_METHODS:
            raise SecurityError("templates build text, not bytes")
        receiver, estimate = getattr(obj, "__self__", None), 0
        if isinstance(receiver, str):
            budget = render_budget.get()
            args = tuple(map(materialized, args))
            # Markup's methods print their arguments to escape them.
            budget.admit(printed_size((args, kwargs)), f"the arguments of .{obj.__name__}()")
            size_of = STRING_METHOD_SIZES.get(obj.__name__)
            if size_of:
                estimate = size_of(receiver, *args, **kwargs)
                budget.admit(estimate, f"the result of .{obj.__name__}()")
        # What a call returns may keep what it was given (a namespace, a cycler): it pays for both.
        arguments = (*args, *kwargs.values())
        reserved = max(estimate, sum(map(value_cost, arguments)))
        return charged(super().call(context, obj, *args, **kwargs), reserved, arguments)

    def getitem(self, obj, argument):
        item = super().getitem(obj, argument)
        return charged(item) if isinstance(argument, slice) else item

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
                formatter = BoundedEscapeFormatter(environment, escape=template.escape)
            else:
                formatter = BoundedFormatter(environment)
            return type(template)(formatter.vformat(template, args, kwargs))

        return update_wrapper(bounded_format, value)

    def concatenate(self, parts):
        """`a ~ b`, measured before it is joined."""
        render_budget.get().admit(sum(printed_size(part) for part in parts), "the concatenation")
        return charged(str_join(parts))

    comparable = staticmethod(comparable)
    searchable = staticmethod(searchable)
    built = staticmethod(charged)

    def iterate_within_budget(self, iterable):
        budget = render_budget.get()
        for item in iterable:
            budget.iterate()
            yield item

    def bounded_buffer(self):
        return BoundedBuffer()


# A parameter renders to exactly what it says: a file committed by github.commit_files keeps its
# final newline (Jinja2 drops one by default).
bounded_environment = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
