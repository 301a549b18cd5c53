"""A workflow definition: nodes and the edges between them, checked whole when it is saved.

{"nodes": [{"id": "pr", "type": "github.get_pull_request", "params": {}}, ...],
 "edges": [{"from": "pr", "to": "review"}, ...],
 "max_tokens_per_run": 50000}  (optional: LLM tokens all of a run's ai.prompt steps may use)
`"concurrency": {"group": "pr-{{ trigger.payload.pull_request.number }}", "cancel_in_progress": false}`
(optional: at most one run of a group in progress, as in GitHub Actions; workflows/concurrency.py)
"""

import re
from graphlib import CycleError, TopologicalSorter
from typing import NoReturn

from jsonschema import Draft202012Validator

from aiworkflow.errors import ApplicationError
from workflows.nodes import NODE_TYPES
from workflows.nodes.base import ParamsInvalid
from workflows.templating import TemplateInvalid, template_check, template_strings

MAX_NODES = 100
MAX_CONCURRENCY_GROUP_LENGTH = 200  # characters of the group's template
MAX_TOKENS_PER_RUN_LIMIT = 100_000_000
CONCURRENCY_KEYS = {"group", "cancel_in_progress"}  # `concurrency`, optional: see workflows/concurrency.py
_NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")  # usable as `nodes.<id>` in templates


class DefinitionInvalid(ApplicationError):
    status_code = 400
    default_message = "The workflow definition is invalid."


def _fail(message: str, **where) -> NoReturn:
    raise DefinitionInvalid(message, detail=where)


def _check_node(node, seen: set[str]) -> None:
    if not isinstance(node, dict) or not isinstance(node.get("id"), str):
        _fail("Every node is an object with a string `id`.", node=node if isinstance(node, str) else None)
    node_id = node["id"]
    if not _NODE_ID.match(node_id):
        _fail(f"Node id {node_id!r} must be letters, digits and underscores, not starting with a digit.", node=node_id)
    if node_id in seen:
        _fail(f"Node id {node_id!r} is used twice.", node=node_id)
    seen.add(node_id)
    unknown = set(node) - {"id", "type", "params", "name"}
    if unknown:
        _fail(f"Node {node_id!r} has unknown keys: {', '.join(sorted(unknown))}.", node=node_id)
    type_name = node.get("type")
    node_type = NODE_TYPES.get(type_name) if isinstance(type_name, str) else None
    if node_type is None:
        _fail(
            f"Node {node_id!r} has an unknown type {node.get('type')!r}.", node=node_id, known_types=sorted(NODE_TYPES)
        )
    params = node.get("params", {})
    errors = sorted(Draft202012Validator(node_type.schema).iter_errors(params), key=lambda error: list(error.path))
    if errors:
        error = errors[0]
        field = ".".join(str(part) for part in error.path) or None
        _fail(f"Node {node_id!r}: {error.message}.", node=node_id, field=field)
    if node_type.params_check is not None:
        try:
            node_type.params_check(params)
        except ParamsInvalid as exc:
            _fail(f"Node {node_id!r}: {exc}", node=node_id, field=exc.field)
    for text in template_strings(params):
        try:
            template_check(text)
        except TemplateInvalid as exc:
            _fail(f"Node {node_id!r} has a template that {exc}.", node=node_id, template=text[:200])


def _check_concurrency(concurrency) -> None:
    """GitHub Actions' `concurrency`: a group (a template over the run's context) and whether a
    newer run cancels the one in progress."""
    if not isinstance(concurrency, dict) or "group" not in concurrency or set(concurrency) - CONCURRENCY_KEYS:
        _fail("`concurrency` is an object with a `group` and, optionally, `cancel_in_progress`.", field="concurrency")
    group = concurrency["group"]
    if not isinstance(group, str) or not group.strip() or len(group) > MAX_CONCURRENCY_GROUP_LENGTH:
        _fail(
            f"`concurrency.group` is a template of 1 to {MAX_CONCURRENCY_GROUP_LENGTH} characters.",
            field="concurrency.group",
        )
    try:
        template_check(group)
    except TemplateInvalid as exc:
        _fail(f"`concurrency.group` has a template that {exc}.", field="concurrency.group")
    if not isinstance(concurrency.get("cancel_in_progress", False), bool):
        _fail("`concurrency.cancel_in_progress` is true or false.", field="concurrency.cancel_in_progress")


def definition_validate(definition) -> list[str]:
    """Check a definition; returns its node ids in an order that respects every edge."""
    if not isinstance(definition, dict) or set(definition) - {"nodes", "edges", "max_tokens_per_run", "concurrency"}:
        _fail(
            "A definition is an object with `nodes`, `edges` and optionally `max_tokens_per_run` and `concurrency` only."
        )
    if "concurrency" in definition:
        _check_concurrency(definition["concurrency"])
    budget = definition.get("max_tokens_per_run", 1)
    if isinstance(budget, bool) or not isinstance(budget, int) or not 0 < budget <= MAX_TOKENS_PER_RUN_LIMIT:
        _fail(
            f"`max_tokens_per_run` is a whole number between 1 and {MAX_TOKENS_PER_RUN_LIMIT}.",
            field="max_tokens_per_run",
        )
    nodes, edges = definition.get("nodes"), definition.get("edges", [])
    if not isinstance(nodes, list) or not 0 < len(nodes) <= MAX_NODES:
        _fail(f"A definition has between 1 and {MAX_NODES} nodes.")
    if not isinstance(edges, list):
        _fail("`edges` is a list.")
    seen: set[str] = set()
    for node in nodes:
        _check_node(node, seen)
    for edge in edges:
        if not isinstance(edge, dict) or set(edge) != {"from", "to"}:
            _fail("Every edge is an object with `from` and `to`.", edge=edge if isinstance(edge, dict) else None)
        for end in ("from", "to"):
            if not isinstance(edge[end], str) or edge[end] not in seen:
                _fail(f"Edge {edge['from']!r} -> {edge['to']!r} names no node {edge[end]!r}.", edge=edge)
    try:
        return definition_order(definition)
    except CycleError as exc:
        _fail("The edges make a cycle.", cycle=exc.args[1])


def definition_order(definition: dict) -> list[str]:
    """The node ids of a (valid) definition in an order that respects every edge."""
    graph = TopologicalSorter({node["id"]: set() for node in definition["nodes"]})
    for edge in definition.get("edges", []):
        graph.add(edge["to"], edge["from"])
    return list(graph.static_order())
