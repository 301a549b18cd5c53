"""`logic.condition`: when false, the steps that depend on it are skipped."""

from workflows.nodes.base import StepContext, node_type

_FALSE = {"", "false", "0", "no", "none", "null"}


@node_type(
    "logic.condition",
    properties={"condition": {"type": ["string", "boolean"], "maxLength": 10_000}},
    required=("condition",),
    gates=True,
)
def condition(params: dict, context: StepContext) -> dict:
    value = params["condition"]
    result = value if isinstance(value, bool) else value.strip().lower() not in _FALSE
    return {"result": result}
