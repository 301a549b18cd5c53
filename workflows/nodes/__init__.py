"""Node types: one module each; every type declares its parameters as a JSON schema."""

from workflows.nodes import (  # noqa: F401, E402  (each registers its types)
    ai,
    github,
    github_code,
    github_issues,
    github_reviews,
    logic,
)
from workflows.nodes.base import NODE_TYPES, NodeType, StepContext, StepFailed, StepRetryLater  # noqa: F401
