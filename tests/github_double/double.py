from dataclasses import dataclass, field

from tests.github_double.chat import Chat
from tests.github_double.github import GitHub


@dataclass
class Double:
    """GitHub, and the LLM that workflows call beside it."""

    github: GitHub = field(default_factory=GitHub)
    llm: Chat = field(default_factory=Chat)
