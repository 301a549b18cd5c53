"""GitHub nodes. Repository and number default to the triggering event's.

Every node works only inside its run's tenant: the repository it names must be one that the
workflow's owner reaches now (their connection is active and their own GitHub token sees the
repository) within the run's installation. That is checked before any call to GitHub, at every
execution, so a revoked or narrowed connection stops reruns and replays too.
"""

import contextlib
import functools
import json
import re
from collections.abc import Callable, Iterator

import requests
from github import GithubException
from jsonschema import Draft202012Validator

from aiworkflow.errors import ApplicationError
from github_app.api.installation_client import GitHubRetryLater
from github_app.api.reads import ConditionalReads, commit_context, file_content, pull_request_context
from github_app.api.writes import comment_upsert, labels_add
from github_app.install.selectors import installation_connected, repository_access_find
from github_app.models import REPOSITORY_FULL_NAME
from workflows.nodes.base import (
    NUMBER_OR_TEMPLATE,
    TEMPLATED_STRING,
    StepContext,
    StepFailed,
    StepRetryLater,
    node_type,
)
from workflows.selectors import run_workflow_id

COMMIT_SHA = re.compile(r"^[0-9a-fA-F]{7,64}\Z")  # abbreviated to full SHA-1, or SHA-256
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@contextlib.contextmanager
def _github_failures() -> Iterator[None]:
    """GitHub's answers as the engine understands them: a rate limit waits for its reset; a 5xx,
    a 429 or a lost connection is tried again after the engine's backoff; any other refusal
    fails the step."""
    try:
        yield
    except GitHubRetryLater as exc:
        raise StepRetryLater(f"{type(exc).__name__}: {exc}", delay=exc.retry_after) from exc
    except (GithubException, ApplicationError) as exc:
        status = exc.status if isinstance(exc, GithubException) else exc.status_code
        passing = status >= 500 or status == 429
        raise (StepRetryLater if passing else StepFailed)(f"{type(exc).__name__}: {exc}") from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise StepRetryLater(f"{type(exc).__name__}: {exc}") from exc


def github_node(name: str, **declaration) -> Callable:
    """Register a GitHub node type whose failures are translated by _github_failures."""

    def register(execute: Callable[[dict, StepContext], dict]) -> Callable[[dict, StepContext], dict]:
        @functools.wraps(execute)
        def translated(params: dict, context: StepContext) -> dict:
            with _github_failures():
                return execute(params, context)

        return node_type(name, **declaration)(translated)

    return register


def _repository(params: dict, context: StepContext) -> tuple[int, str]:
    """The installation and repository the node works on, once the repository is known to be
    within the run's tenant."""
    repository = params.get("repository") or context.repository
    if not REPOSITORY_FULL_NAME.match(repository):
        raise StepFailed(f"No repository to work on: {repository!r} is not owner/name.")
    if context.installation_id is None:
        raise StepFailed("The run names no installation of the GitHub App, so it can reach no repository.")
    if repository_access_find(user_id=context.owner_id, installation_id=context.installation_id, repository=repository):
        return context.installation_id, repository
    if not installation_connected(user_id=context.owner_id, installation_id=context.installation_id):
        raise StepFailed(
            f"The workflow's owner is no longer connected to installation {context.installation_id}; "
            "connect GitHub again to run it."
        )
    raise StepFailed(
        f"{repository} is not among the repositories the workflow's owner reaches through installation "
        f"{context.installation_id}."
    )


def _path(value: str, *, name: str) -> str:
    """A path or ref inside the repository: no climbing out with `..`, no absolute path, no
    control characters (each segment is URL-quoted on the way out as well)."""
    if not isinstance(value, str) or not value or len(value) > 4096:
        raise StepFailed(f"`{name}` must be a non-empty path of at most 4096 characters.")
    if value.startswith("/") or _CONTROL_CHARACTERS.search(value) or ".." in value.split("/"):
        raise StepFailed(f"`{name}` {value[:200]!r} may not start with /, contain a .. segment or control characters.")
    return value


def _sha(value: str) -> str:
    if not isinstance(value, str) or not COMMIT_SHA.match(value):
        raise StepFailed(f"`sha` {str(value)[:100]!r} is not a commit SHA (7 to 64 hexadecimal characters).")
    return value


def _number(params: dict, context: StepContext) -> int:
    payload = context.payload
    subject = payload.get("pull_request") or payload.get("issue") or {}
    value = params.get("number") or subject.get("number") or payload.get("number")
    if isinstance(value, (int, str)):
        with contextlib.suppress(ValueError):
            return int(value)
    raise StepFailed(f"No pull request or issue number: {value!r} is not a number.")


def _reads(context: StepContext) -> ConditionalReads:
    return ConditionalReads(f"run:{context.run_id}")


@github_node(
    "github.get_pull_request",
    permissions={"pull_requests": "read"},
    properties={"repository": TEMPLATED_STRING, "number": NUMBER_OR_TEMPLATE},
)
def get_pull_request(params: dict, context: StepContext) -> dict:
    installation_id, repository = _repository(params, context)
    data = pull_request_context(
        installation_id=installation_id, repo=repository, number=_number(params, context), reads=_reads(context)
    )
    return {
        "pr": data["pull_request"],
        "diff": data["diff"],
        "diff_truncated": data["diff_truncated"],
        "files": data["files"],
        "comments": data["issue_comments"],
        "review_comments": data["review_comments"],
        "repository": data["repository"],
    }


@github_node(
    "github.get_commit",
    permissions={"contents": "read"},
    properties={"repository": TEMPLATED_STRING, "sha": TEMPLATED_STRING},
)
def get_commit(params: dict, context: StepContext) -> dict:
    payload = context.payload
    sha = (
        params.get("sha") or payload.get("after") or (payload.get("head_commit") or {}).get("id") or payload.get("sha")
    )
    if not sha:
        raise StepFailed("No commit: give `sha` or trigger on an event that has one.")
    installation_id, repository = _repository(params, context)
    return commit_context(installation_id=installation_id, repo=repository, sha=_sha(sha), reads=_reads(context))


@github_node(
    "github.get_file",
    permissions={"contents": "read"},
    properties={"repository": TEMPLATED_STRING, "path": TEMPLATED_STRING, "ref": TEMPLATED_STRING},
    required=("path",),
)
def get_file(params: dict, context: StepContext) -> dict:
    ref = _path(params["ref"], name="ref") if params.get("ref") else None
    path = _path(params["path"], name="path")
    installation_id, repository = _repository(params, context)
    return file_content(installation_id=installation_id, repo=repository, path=path, ref=ref, reads=_reads(context))


def _comment_marker_key(params: dict, context: StepContext) -> str:
    """A comment of its own for each run; a `persistent` one is the workflow's, for this node:
    every later run edits it (a summary kept current, as PR-Agent keeps its own)."""
    if params.get("persistent") is True:
        return f"workflow:{run_workflow_id(run_id=context.run_id)}:{context.node_id}"
    return f"{context.run_id}:{context.node_id}"


@github_node(
    "github.create_comment",
    permissions={"issues": "write", "pull_requests": "write"},
    properties={
        "repository": TEMPLATED_STRING,
        "number": NUMBER_OR_TEMPLATE,
        "body": TEMPLATED_STRING,
        "persistent": {"type": "boolean"},
    },
    required=("body",),
    writes=True,
)
def create_comment(params: dict, context: StepContext) -> dict:
    installation_id, repository = _repository(params, context)
    result = comment_upsert(
        installation_id=installation_id,
        repo=repository,
        number=_number(params, context),
        body=params["body"],
        marker_key=_comment_marker_key(params, context),
    )
    return {"id": result.id, "html_url": result.html_url, "created": result.created}


LABELS_TO_ADD = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 100},
    "minItems": 1,
    "maxItems": 100,
}


def _labels_to_add(params: dict) -> list[str]:
    """`labels` as rendered: a list, or a string of JSON from an earlier step's output
    (`"{{ nodes.classify.json.labels|tojson }}"`), checked here since the saved template could
    not be."""
    labels = params["labels"]
    if isinstance(labels, str):
        try:
            labels = json.loads(labels)
        except ValueError as exc:
            raise StepFailed(
                f"`labels` is a string but not JSON ({exc}); render a list with `|tojson`, "
                "e.g. {{ nodes.classify.json.labels|tojson }}."
            ) from None
    error = next(iter(Draft202012Validator(LABELS_TO_ADD).iter_errors(labels)), None)
    if error is not None:
        raise StepFailed(f"`labels`: {error.message[:300]}.")
    return labels


@github_node(
    "github.add_labels",
    permissions={"issues": "write", "pull_requests": "write"},
    properties={
        "repository": TEMPLATED_STRING,
        "number": NUMBER_OR_TEMPLATE,
        "labels": {"anyOf": [LABELS_TO_ADD, {"type": "string", "minLength": 1, "maxLength": 100_000}]},
    },
    required=("labels",),
    writes=True,
)
def add_labels(params: dict, context: StepContext) -> dict:
    labels_given = _labels_to_add(params)
    installation_id, repository = _repository(params, context)
    labels = labels_add(
        installation_id=installation_id, repo=repository, number=_number(params, context), labels=labels_given
    )
    return {"labels": labels}
