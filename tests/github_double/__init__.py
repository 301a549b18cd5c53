"""One double of GitHub (and of the LLM workflows call) for the tests and the benchmarks: a
stateful model of the API the project uses, behind two front ends on the same model.

- `mock_double(requests_mock)`: answers through `responses`, in the test's own process (the
  `github` fixture of tests/conftest.py).
- `served()`: answers over HTTP on 127.0.0.1 at an ephemeral port, for worker processes, bench/,
  and the `llm` fixture (the OpenAI SDK speaks httpx, which `responses` does not intercept).

Set up state through the model (`github.installation(...)`, `github.repository(...)`,
`repository.pull_request(...)`, `github.user(...)`, `github.hook_delivery(...)`); make a route
answer otherwise with `fail(...)` (a 502, a rate limit, a dropped connection, ...), `slow(...)`
or `hold(...)`; read what was asked with `requests(...)` and what was written from the model.
"""

from tests.github_double.bodies import changed_file, repository_summary, source_files
from tests.github_double.chat import Chat
from tests.github_double.double import Double
from tests.github_double.exchange import Fault, Gate, Request
from tests.github_double.github import DEFAULT_INSTALLATION_ID, GitHub, Installation, PullRequest, Repository, User
from tests.github_double.mocked import mock_double
from tests.github_double.served import Served, served

__all__ = [
    "DEFAULT_INSTALLATION_ID",
    "Chat",
    "Double",
    "Fault",
    "Gate",
    "GitHub",
    "Installation",
    "PullRequest",
    "Repository",
    "Request",
    "Served",
    "User",
    "changed_file",
    "mock_double",
    "repository_summary",
    "served",
    "source_files",
]
