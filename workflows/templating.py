"""Templates in node parameters: Jinja2's sandbox with strict undefined, over the run's context
(`trigger`, `nodes.<id>`, `workflow`). A missing variable fails the step and names it."""

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

_environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class TemplateInvalid(ValueError):
    pass


def template_check(source: str) -> None:
    """Refuse at save time a template that does not parse or reaches for private attributes
    (the sandbox would refuse those at run time too: `{{ ''.__class__.__mro__ }}`)."""
    try:
        tree = _environment.parse(source)
    except TemplateError as exc:
        raise TemplateInvalid(f"does not parse: {exc.message}") from None
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateInvalid(f"may not use the private attribute {name!r}")


def template_render(value, context: dict):
    """Render every string in `value` (nested lists and dicts included) against `context`."""
    if isinstance(value, str):
        try:
            return _environment.from_string(value).render(context)
        except TemplateError as exc:
            raise TemplateInvalid(str(exc)) from None
    if isinstance(value, dict):
        return {key: template_render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [template_render(item, context) for item in value]
    return value


def template_strings(value) -> list[str]:
    """Every string in a parameter value, where templates can be."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in template_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in template_strings(item)]
    return []
