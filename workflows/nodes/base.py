from collections.abc import Callable
from dataclasses import dataclass, field


class StepFailed(Exception):
    """A step failed for a reason retrying cannot change (bad input, a 4xx, no provider)."""


class StepRetryLater(Exception):
    """A step failed for a passing reason (a provider's 5xx, a rate limit, a timeout): try it
    again after `delay` seconds, or after the engine's backoff when the node cannot tell."""

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class ParamsInvalid(Exception):
    """Parameters that a JSON schema cannot refuse alone (a schema given as a parameter that is
    not itself valid), refused when the definition is saved; `field` names the parameter."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class StepContext:
    """What a node knows of its run: the tenant it works in (owner, installation, repository:
    fixed when the run was created, beyond any template's reach), the triggering event, and
    whether writes are simulated."""

    run_id: str
    node_id: str
    owner_id: int
    installation_id: int | None
    repository: str
    trigger: dict
    dry_run: bool

    @property
    def payload(self) -> dict:
        return self.trigger.get("payload") or {}


@dataclass(frozen=True)
class NodeType:
    name: str
    schema: dict
    execute: Callable[[dict, StepContext], dict]
    writes: bool = False  # a dry run records what it would do instead of calling it
    gates: bool = False  # its dependants run only when its output's `result` is true
    # Called with a successful step's output when its run is cancelled (a newer run of the same
    # concurrency group took over), to close what the step opened: a check run left in progress.
    on_cancel: Callable[[dict, StepContext], None] | None = None
    # Called with the saved (unrendered) parameters once they fit `schema`; raises ParamsInvalid.
    params_check: Callable[[dict], None] | None = None
    # The GitHub App permissions its calls need (`issues: write`...): what the App registration
    # asks for (operations.app_setup.manifest), and what the node reference lists.
    permissions: dict[str, str] = field(default_factory=dict)

    def lets_through(self, output: dict | None) -> bool:
        """Whether the steps that depend on a successful step of this type may run."""
        return not self.gates or bool((output or {}).get("result"))


NODE_TYPES: dict[str, NodeType] = {}


def node_type(
    name: str,
    *,
    properties: dict,
    required: tuple[str, ...] = (),
    writes: bool = False,
    gates: bool = False,
    on_cancel: Callable[[dict, StepContext], None] | None = None,
    params_check: Callable[[dict], None] | None = None,
    permissions: dict[str, str] | None = None,
):
    """Register a node type; its parameters are `properties` (JSON schema), and no others. Its
    `execute` returns the step's output, or raises StepFailed or StepRetryLater: any other
    exception is a defect of the node, and fails the step."""
    schema = {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}

    def register(execute: Callable[[dict, StepContext], dict]) -> Callable[[dict, StepContext], dict]:
        NODE_TYPES[name] = NodeType(
            name=name,
            schema=schema,
            execute=execute,
            writes=writes,
            gates=gates,
            on_cancel=on_cancel,
            params_check=params_check,
            permissions=permissions or {},
        )
        return execute

    return register


TEMPLATED_STRING = {"type": "string", "maxLength": 100_000}
# A number, or a template that renders to one ("{{ trigger.payload.number }}").
NUMBER_OR_TEMPLATE = {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "maxLength": 1000}]}
