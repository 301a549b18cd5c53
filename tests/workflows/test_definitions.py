import pytest

from workflows.definitions import DefinitionInvalid, definition_validate


def node(node_id: str, node_type: str = "logic.condition", **params) -> dict:
    return {"id": node_id, "type": node_type, "params": params or {"condition": "true"}}


def refusal(definition) -> DefinitionInvalid:
    with pytest.raises(DefinitionInvalid) as raised:
        definition_validate(definition)
    return raised.value


def test_a_valid_definition_gives_an_order_that_respects_the_edges():
    order = definition_validate(
        {
            "nodes": [node("c"), node("a"), node("b")],
            "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}],
        }
    )
    assert order == ["a", "b", "c"]


@pytest.mark.parametrize(
    "definition, message",
    [
        (None, "object with `nodes`"),
        ({"nodes": []}, "between 1 and"),
        ({"nodes": [node("a")], "edges": {}}, "`edges` is a list"),
        ({"nodes": [node("a")], "extra": 1}, "object with `nodes`"),
        ({"nodes": ["a"]}, "string `id`"),
        ({"nodes": [node("1st")]}, "letters, digits"),
        ({"nodes": [node("a"), node("a")]}, "used twice"),
        ({"nodes": [{**node("a"), "color": "red"}]}, "unknown keys"),
        # Unhashable values where names belong: refused, not a server error.
        ({"nodes": [{**node("a"), "type": ["logic.condition"]}]}, "unknown type"),
        ({"nodes": [{**node("a"), "type": {"name": "x"}}]}, "unknown type"),
        ({"nodes": [node("a")], "edges": [{"from": ["a"], "to": "a"}]}, "names no node"),
        ({"nodes": [node("a")], "edges": [{"from": "a", "to": {"id": "a"}}]}, "names no node"),
    ],
)
def test_malformed_definitions_are_refused(definition, message):
    assert message in refusal(definition).message


def test_an_unknown_node_type_is_refused_naming_the_node():
    error = refusal({"nodes": [node("x", "github.delete_repository", anything="x")]})

    assert error.detail["node"] == "x" and "unknown type" in error.message
    assert "ai.prompt" in error.detail["known_types"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"prompt": "hi", "temperatur": 1}, None),
        ({}, None),
        ({"prompt": 5}, "prompt"),
        ({"prompt": "hi", "max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_parameters_are_refused_naming_the_node(params, field):
    error = refusal({"nodes": [{"id": "ask", "type": "ai.prompt", "params": params}]})

    assert error.detail["node"] == "ask" and error.detail["field"] == field


def test_edges_must_join_existing_nodes():
    error = refusal({"nodes": [node("a")], "edges": [{"from": "a", "to": "ghost"}]})

    assert "ghost" in error.message


@pytest.mark.parametrize(
    "edges",
    [
        [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}],
        [{"from": "a", "to": "a"}],
        [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "a"}],
    ],
)
def test_cycles_are_refused(edges):
    error = refusal({"nodes": [node("a"), node("b"), node("c")], "edges": edges})

    assert "cycle" in error.message and error.detail["cycle"]


@pytest.mark.parametrize(
    "template, reason",
    [
        ("{{ nodes.pr.diff ", "does not parse"),
        ("{% for x in y %}", "does not parse"),
        ("{{ ''.__class__.__mro__ }}", "private attribute"),
        ("{{ trigger['__class__'] }}", "private attribute"),
        ("{{ trigger._secret }}", "private attribute"),
    ],
)
def test_bad_and_unsafe_templates_are_refused(template, reason):
    error = refusal({"nodes": [{"id": "ask", "type": "ai.prompt", "params": {"prompt": template}}]})

    assert reason in error.message and error.detail["node"] == "ask"
