"""Node types: one module each; every type declares its parameters as a JSON schema."""

from workflows.nodes import ai, github, logic  # noqa: F401, E402  (each registers its types)
from workflows.nodes.base import NODE_TYPES, NodeType, StepContext, StepFailed, StepRetryLater  # noqa: F401
