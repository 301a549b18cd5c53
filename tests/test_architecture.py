"""Dependencies point one way: operations -> triggers -> workflows -> github_app -> integrations -> aiworkflow.

Every import of the project's own modules is read from the source: at module level and inside
functions, relative ones resolved, and those made through `importlib.import_module`,
`import_string` or `__import__` with a literal name. A dynamic import whose name the source does
not spell out is refused, since nobody could check where it leads.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["aiworkflow", "integrations", "github_app", "workflows", "triggers", "operations"]
# The root URLconf and the WSGI application are where the apps are put together: they may name any.
COMPOSITION_ROOTS = {"aiworkflow.urls", "aiworkflow.wsgi"}
# Inside the GitHub App, the same rule between its sub-packages: webhooks -> install -> api.
GITHUB_APP_LAYERS = ["github_app.api", "github_app.install", "github_app.webhooks"]
DYNAMIC_IMPORTERS = {"import_module", "import_string", "__import__"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in LAYERS
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _dynamic_target(node: ast.Call) -> str | None:
    """The literal name a dynamic import asks for; raises if the name is not a literal."""
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    if name not in DYNAMIC_IMPORTERS:
        return None
    argument = node.args[0] if node.args else None
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    raise AssertionError(f"a dynamic import at line {node.lineno} names its module at run time")


def imports_of(module: str, path: Path) -> set[str]:
    """Every module name `module` imports (`from a import b` counts as a and as a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node, path.name == "__init__.py")
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            target = _dynamic_target(node)
            if target:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _project_modules()
    return {module: imports_of(module, path) & modules.keys() for module, path in modules.items()}


def _rank(module: str, layers: list[str]) -> int | None:
    return next((rank for rank, layer in enumerate(layers) if module == layer or module.startswith(layer + ".")), None)


def upward_edges(graph: dict[str, set[str]], layers: list[str]) -> list[str]:
    edges = []
    for module, targets in graph.items():
        rank = _rank(module, layers)
        if rank is None or module in COMPOSITION_ROOTS:
            continue
        for target in targets:
            target_rank = _rank(target, layers)
            if target_rank is not None and target_rank > rank:
                edges.append(f"{module} -> {target}")
    return sorted(edges)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return _graph()


def test_no_app_imports_an_app_above_it(graph):
    assert upward_edges(graph, LAYERS) == []


def test_the_github_app_sub_packages_point_one_way(graph):
    assert upward_edges(graph, GITHUB_APP_LAYERS) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_the_engine_knows_no_node_and_no_github():
    engine = imports_of("workflows.engine", ROOT / "workflows" / "engine.py")
    known = sorted(name for name in engine if name.split(".")[0] in {"github", "github_app", "requests"})
    assert known == []
    assert not any(name.startswith(("workflows.nodes.ai", "workflows.nodes.github")) for name in engine)


class TestTheCheckItself:
    """The checks above pass only if they can fail: each meets the edge it exists to refuse."""

    def test_an_upward_import_inside_a_function_is_found(self, tmp_path):
        source = tmp_path / "services.py"
        source.write_text("def f():\n    from triggers.services import triggers_replace\n")
        graph = {"workflows.services": imports_of("workflows.services", source) & {"triggers.services"}}
        assert upward_edges(graph, LAYERS) == ["workflows.services -> triggers.services"]

    def test_an_import_through_importlib_is_found(self, tmp_path):
        source = tmp_path / "services.py"
        source.write_text("import importlib\nmodule = importlib.import_module('triggers.services')\n")
        assert "triggers.services" in imports_of("workflows.services", source)

    def test_a_dynamic_import_of_a_name_chosen_at_run_time_is_refused(self, tmp_path):
        source = tmp_path / "services.py"
        source.write_text(
            "from django.conf import settings\nfrom django.utils.module_loading import import_string\n"
            "handler = import_string(settings.HANDLER)\n"
        )
        with pytest.raises(AssertionError, match="names its module at run time"):
            imports_of("github_app.webhooks.deliveries", source)

    def test_a_relative_import_is_resolved(self, tmp_path):
        source = tmp_path / "tasks.py"
        source.write_text("from .deliveries import delivery_process\nfrom .. import models\n")
        assert {"github_app.webhooks.deliveries", "github_app.models"} <= imports_of(
            "github_app.webhooks.tasks", source
        )

    def test_a_cycle_is_found(self):
        graph = {"a.engine": {"a.tasks"}, "a.tasks": {"a.relay"}, "a.relay": {"a.engine"}, "a.other": {"a.engine"}}
        assert cycles(graph) == [["a.engine", "a.relay", "a.tasks"]]
