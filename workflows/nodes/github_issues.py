"""GitHub nodes for issues, pushes and the repository's files.

Like every GitHub node, each checks its repository against the run's tenant (`_repository`)
before any call, and re-checks rendered parameters here: a template may render anything.
"""

from github_app.api.issues import issue_context, issue_create, issue_update, labels_remove
from github_app.api.pushes import push_context
from github_app.api.trees import tree_files
from github_app.credentials import app_credential
from workflows.nodes.base import NUMBER_OR_TEMPLATE, TEMPLATED_STRING, StepContext, StepFailed
from workflows.nodes.github import _number, _path, _reads, _repository, _sha, github_node
from workflows.nodes.path_globs import path_glob_match

MAX_TITLE_CHARS = 256  # GitHub's limit for an issue's title
MAX_BODY_CHARS = 65_000  # GitHub's is 65,536, and the hidden marker goes along
MAX_ASSIGNEES = 10  # GitHub's limit for one issue
MAX_GLOB_CHARS = 256
MAX_LISTED_FILES = 1000
STATES = ("open", "closed")
STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")

SHORT_STRING = {"type": "string", "maxLength": 1000}  # a value or a template that renders to one
NAMES = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100}, "maxItems": 100}
ASSIGNEES = {**NAMES, "maxItems": MAX_ASSIGNEES}


def _names(params: dict, key: str, *, limit: int = 100) -> list[str]:
    """A list of label names or logins, as rendered."""
    value = params.get(key) or []
    if (
        not isinstance(value, list)
        or len(value) > limit
        or not all(isinstance(name, str) and 0 < len(name.strip()) <= 100 for name in value)
    ):
        raise StepFailed(f"`{key}` must be a list of at most {limit} names of 1 to 100 characters.")
    return [name.strip() for name in value]


def _text(params: dict, key: str, *, longest: int, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > longest or (required and not value.strip()):
        raise StepFailed(f"`{key}` must be {'non-empty ' if required else ''}text of at most {longest} characters.")
    return value


def _choice(params: dict, key: str, choices: tuple[str, ...]) -> str | None:
    value = params.get(key)
    if value is not None and value not in choices:
        raise StepFailed(f"`{key}` {str(value)[:100]!r} must be one of {', '.join(choices)}.")
    return value


@github_node(
    "github.get_issue",
    permissions={"issues": "read"},
    properties={"repository": TEMPLATED_STRING, "number": NUMBER_OR_TEMPLATE},
)
def get_issue(params: dict, context: StepContext) -> dict:
    installation_id, repository = _repository(params, context)
    return issue_context(
        installation_id=installation_id, repo=repository, number=_number(params, context), reads=_reads(context)
    )


@github_node(
    "github.create_issue",
    permissions={"issues": "write"},
    properties={
        "repository": TEMPLATED_STRING,
        "title": SHORT_STRING,
        "body": TEMPLATED_STRING,
        "labels": NAMES,
        "assignees": ASSIGNEES,
    },
    required=("title",),
    writes=True,
)
def create_issue(params: dict, context: StepContext) -> dict:
    title = _text(params, "title", longest=MAX_TITLE_CHARS, required=True)
    body = _text(params, "body", longest=MAX_BODY_CHARS) or ""
    labels, assignees = _names(params, "labels"), _names(params, "assignees", limit=MAX_ASSIGNEES)
    installation_id, repository = _repository(params, context)
    result = issue_create(
        installation_id=installation_id,
        repo=repository,
        title=str(title).strip(),
        body=body,
        labels=labels,
        assignees=assignees,
        marker_key=f"{context.run_id}:{context.node_id}",
        # Only the App's own issues can be the step's; unknown without a configured slug.
        creator=f"{slug}[bot]" if (slug := app_credential("slug")) else None,
    )
    return {"number": result.number, "html_url": result.html_url, "created": result.created}


@github_node(
    "github.update_issue",
    permissions={"issues": "write"},
    properties={
        "repository": TEMPLATED_STRING,
        "number": NUMBER_OR_TEMPLATE,
        "state": SHORT_STRING,
        "state_reason": SHORT_STRING,
        "title": SHORT_STRING,
        "body": TEMPLATED_STRING,
        "assignees": ASSIGNEES,
    },
    writes=True,
)
def update_issue(params: dict, context: StepContext) -> dict:
    changes = {
        "state": _choice(params, "state", STATES),
        "state_reason": _choice(params, "state_reason", STATE_REASONS),
        "title": _text(params, "title", longest=MAX_TITLE_CHARS, required="title" in params),
        "body": _text(params, "body", longest=MAX_BODY_CHARS),
        "assignees": _names(params, "assignees", limit=MAX_ASSIGNEES) if "assignees" in params else None,
    }
    changes = {key: value for key, value in changes.items() if value is not None}
    if not changes:
        raise StepFailed("Nothing to change: give `state`, `state_reason`, `title`, `body` or `assignees`.")
    installation_id, repository = _repository(params, context)
    issue = issue_update(
        installation_id=installation_id, repo=repository, number=_number(params, context), changes=changes
    )
    return {"issue": issue}


@github_node(
    "github.remove_labels",
    permissions={"issues": "write", "pull_requests": "write"},
    properties={"repository": TEMPLATED_STRING, "number": NUMBER_OR_TEMPLATE, "labels": {**NAMES, "minItems": 1}},
    required=("labels",),
    writes=True,
)
def remove_labels(params: dict, context: StepContext) -> dict:
    labels = _names(params, "labels")
    if not labels:
        raise StepFailed("`labels` names no label to remove.")
    installation_id, repository = _repository(params, context)
    return labels_remove(
        installation_id=installation_id, repo=repository, number=_number(params, context), labels=labels
    )


def _push_payload(context: StepContext) -> dict:
    """The triggering push, its commit ids checked before any reaches a URL."""
    payload = context.payload
    if context.trigger.get("event") != "push" or not isinstance(payload.get("commits", []), list):
        raise StepFailed("github.get_push_context needs a push event to run on.")
    for key in ("before", "after"):
        _sha(payload.get(key) or "")
    for commit in payload.get("commits", []):
        if not isinstance(commit, dict):
            raise StepFailed("The push lists a commit that is not an object.")
        _sha(commit.get("id") or "")
    size = payload.get("size")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise StepFailed("The push's `size` is not a count of commits.")
    return payload


@github_node("github.get_push_context", permissions={"contents": "read"}, properties={})
def get_push_context(params: dict, context: StepContext) -> dict:
    payload = _push_payload(context)
    installation_id, repository = _repository(params, context)
    return push_context(installation_id=installation_id, repo=repository, payload=payload, reads=_reads(context))


def _glob(value) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_GLOB_CHARS:
        raise StepFailed(f"`glob` must be a pattern of at most {MAX_GLOB_CHARS} characters.")
    return _path(value, name="glob")


@github_node(
    "github.list_files",
    permissions={"contents": "read"},
    properties={
        "repository": TEMPLATED_STRING,
        "ref": SHORT_STRING,
        "path": SHORT_STRING,
        "glob": {"type": "string", "maxLength": MAX_GLOB_CHARS},
    },
)
def list_files(params: dict, context: StepContext) -> dict:
    """The files of the tree at `ref`, under `path`, whose paths match `glob` (see path_globs),
    at most MAX_LISTED_FILES of them, by path."""
    ref = _path(params["ref"], name="ref") if params.get("ref") else None
    directory = _path(params["path"], name="path").rstrip("/") if params.get("path") else None
    pattern = _glob(params.get("glob"))
    installation_id, repository = _repository(params, context)
    tree = tree_files(installation_id=installation_id, repo=repository, ref=ref, reads=_reads(context))
    matching = [
        entry
        for entry in tree["files"]
        if (directory is None or entry["path"].startswith(f"{directory}/"))
        and (pattern is None or path_glob_match(pattern=pattern, path=entry["path"]))
    ]
    return {
        "ref": tree["ref"],
        "sha": tree["sha"],
        "files": matching[:MAX_LISTED_FILES],
        "paths": [entry["path"] for entry in matching[:MAX_LISTED_FILES]],
        "truncated": tree["truncated"] or len(matching) > MAX_LISTED_FILES,
    }
