"""Checking templates when they are saved, and rendering them within one budget."""

from django.conf import settings
from jinja2 import TemplateError, nodes

from workflows.templating.budget import RenderBudget, render_budget
from workflows.templating.environment import bounded_environment
from workflows.templating.read_only import read_only_copy


class TemplateInvalid(ValueError):
    pass


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
        return None if node.name in bounded_environment.filters else f"uses an unknown filter {node.name!r}"
    if isinstance(node, nodes.Test):
        return None if node.name in bounded_environment.tests else f"uses an unknown test {node.name!r}"
    name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
    if isinstance(name, str) and name.startswith("_"):
        return f"may not use the private attribute {name!r}"
    return None


def _parsed(source: str) -> nodes.Template:
    try:
        tree = bounded_environment.parse(source)
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
    token = render_budget.set(RenderBudget(settings.WORKFLOW_TEMPLATE_MAX_CHARS))
    try:
        # Checked again at run time: a template may have been saved before a check existed.
        trees = {source: _parsed(source) for source in template_strings(value)}
        return _render_all(value, trees, read_only_copy(_reachable_context(context, trees.values())))
    finally:
        render_budget.reset(token)


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
        return _streamed(bounded_environment.from_string(tree).generate(context))
    except TemplateError as exc:
        raise TemplateInvalid(str(exc)) from None
    except Exception as exc:  # rendering does no I/O: whatever fails is the template's doing
        raise TemplateInvalid(f"{type(exc).__name__}: {exc}") from None


def _streamed(chunks) -> str:
    """The rendered text, stopped as soon as it passes the cap."""
    budget, text, size = render_budget.get(), [], 0
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
