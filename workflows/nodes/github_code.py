"""GitHub nodes that propose a change as a pull request: create a branch, commit files to it, open
the pull request. Each is safe to repeat (see github_app.api.git_data): a branch or commit already
made by the step is found again, and the pull request of a head and base is edited, not doubled.

No node moves a branch it did not make by a fast forward of its own commit: an existing branch
at another commit is left alone, a commit never forces a push, and the repository's default
branch is written only when the workflow says so (`allow_default_branch`).
"""

import base64
import binascii
import re

from github_app.api.git_data import (
    FileChange,
    branch_create,
    commit_resolve,
    files_commit,
    pull_request_upsert,
)
from workflows.nodes.base import TEMPLATED_STRING, StepContext, StepFailed
from workflows.nodes.github import _path, _reads, _repository, _sha, github_node

MAX_BRANCH_LENGTH = 255
MAX_FILES = 100
MAX_TOTAL_BYTES = 5 * 1024 * 1024
MAX_COMMIT_MESSAGE_CHARS = 10_000
MAX_TITLE_CHARS = 256  # GitHub's limit for a pull request's title
MAX_BODY_CHARS = 65_536  # and for its body
FULL_SHA = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})\Z")  # as `from`: a commit, not a branch
NO_COMMIT = "0" * 40  # a push's `after` when it deleted the branch
# What git check-ref-format refuses anywhere in a name: control characters, space, ~ ^ : ? * [ \
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")

BRANCH = {"type": "string", "minLength": 1, "maxLength": 1000}
FILE = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 1, "maxLength": 4096},
        "content": {"type": "string", "maxLength": MAX_TOTAL_BYTES},
        "content_base64": {"type": "string", "maxLength": MAX_TOTAL_BYTES * 4 // 3 + 4},
        "delete": {"type": "boolean"},
    },
    "required": ["path"],
    "additionalProperties": False,
}


def _branch(value: str, *, name: str) -> str:
    """A branch name as git check-ref-format allows it, that names no other kind of ref either
    (`HEAD`, `refs/...`) and cannot pass for an option (`-x`)."""
    _path(value, name=name)
    if (
        len(value) > MAX_BRANCH_LENGTH
        or value.startswith(("-", "refs/"))
        or value in ("@", "HEAD")
        or value.endswith(".")
        or ".." in value
        or "@{" in value
        or _REF_FORBIDDEN.search(value)
        or any(not segment or segment.startswith(".") or segment.endswith(".lock") for segment in value.split("/"))
    ):
        raise StepFailed(
            f"`{name}` {value[:100]!r} is not a branch name git accepts: at most {MAX_BRANCH_LENGTH} characters, "
            "no space, control character or any of ~^:?*[\\, no `..` or `@{`, no leading `-`, no segment that is "
            "empty, starts with `.` or ends with `.lock`, no trailing `.`, and not HEAD or refs/..."
        )
    return value


def _file_path(value: str) -> str:
    """A file's path inside the tree: no empty or `.` segment, and nothing inside `.git`."""
    _path(value, name="files[].path")
    segments = value.split("/")
    if any(segment in ("", ".") or segment.lower() == ".git" for segment in segments):
        raise StepFailed(f"`files[].path` {value[:200]!r} may not have an empty or . segment, or a .git one.")
    return value


def _file_change(item: dict) -> FileChange:
    path = _file_path(item["path"])
    given = [key for key in ("content", "content_base64") if key in item] + (["delete"] if item.get("delete") else [])
    if len(given) != 1:
        raise StepFailed(f"File {path!r}: give exactly one of `content`, `content_base64` or `delete: true`.")
    if "content" in item:
        return FileChange(path=path, content=item["content"].encode("utf-8"))
    if "content_base64" in item:
        try:
            return FileChange(path=path, content=base64.b64decode(item["content_base64"], validate=True))
        except binascii.Error as exc:
            raise StepFailed(f"File {path!r}: `content_base64` is not base64 ({exc}).") from exc
    return FileChange(path=path, content=None)


def _file_changes(files: list[dict]) -> list[FileChange]:
    if not files or len(files) > MAX_FILES:
        raise StepFailed(f"`files` must list 1 to {MAX_FILES} files.")
    changes = [_file_change(item) for item in files]
    paths = [change.path for change in changes]
    if len(set(paths)) != len(paths):
        raise StepFailed("`files` names a path more than once.")
    if sum(len(change.content or b"") for change in changes) > MAX_TOTAL_BYTES:
        raise StepFailed(f"The files' content comes to more than {MAX_TOTAL_BYTES} bytes; commit less at once.")
    return changes


def _text(params: dict, key: str, *, longest: int, required: bool = True) -> str:
    value = params.get(key) or ""
    if (required and not value.strip()) or len(value) > longest:
        raise StepFailed(f"`{key}` must be {'non-empty text' if required else 'text'} of at most {longest} characters.")
    return value


def _event_head(context: StepContext) -> str | None:
    """The commit the triggering event is about: a pull request's head, or where a push left
    its branch."""
    payload = context.payload
    pull_request = payload.get("pull_request")
    head = pull_request.get("head") if isinstance(pull_request, dict) else None
    sha = head.get("sha") if isinstance(head, dict) else payload.get("after")
    return sha if isinstance(sha, str) and sha != NO_COMMIT else None


@github_node(
    "github.create_branch",
    permissions={"contents": "write"},
    properties={"repository": TEMPLATED_STRING, "branch": BRANCH, "from": BRANCH},
    required=("branch",),
    writes=True,
)
def create_branch(params: dict, context: StepContext) -> dict:
    """Start `branch` at `from` (a branch or a full commit sha). Without `from`: the commit the
    event is about when the branch is in the run's own repository, else the head of the
    repository's default branch."""
    branch = _branch(params["branch"], name="branch")
    start = params.get("from") or ""
    start_sha = _sha(start) if FULL_SHA.match(start) else None
    start_branch = _branch(start, name="from") if start and not start_sha else None
    installation_id, repository = _repository(params, context)
    if not start and repository.lower() == context.repository.lower():
        event_head = _event_head(context)
        start_sha = _sha(event_head) if event_head else None
    sha = commit_resolve(
        installation_id=installation_id, repo=repository, branch=start_branch, sha=start_sha, reads=_reads(context)
    )
    result = branch_create(installation_id=installation_id, repo=repository, branch=branch, sha=sha)
    return {"branch": result.branch, "sha": result.sha, "created": result.created}


@github_node(
    "github.commit_files",
    permissions={"contents": "write"},
    properties={
        "repository": TEMPLATED_STRING,
        "branch": BRANCH,
        "message": TEMPLATED_STRING,
        "files": {"type": "array", "items": FILE, "minItems": 1, "maxItems": MAX_FILES},
        "allow_default_branch": {"type": "boolean"},
    },
    required=("branch", "message", "files"),
    writes=True,
)
def commit_files(params: dict, context: StepContext) -> dict:
    branch = _branch(params["branch"], name="branch")
    message = _text(params, "message", longest=MAX_COMMIT_MESSAGE_CHARS)
    changes = _file_changes(params["files"])
    installation_id, repository = _repository(params, context)
    result = files_commit(
        installation_id=installation_id,
        repo=repository,
        branch=branch,
        message=message,
        changes=changes,
        marker_key=f"{context.run_id}:{context.node_id}",
        allow_default_branch=bool(params.get("allow_default_branch")),
        reads=_reads(context),
    )
    return {
        "sha": result.sha,
        "html_url": result.html_url,
        "branch": result.branch,
        "files": result.files,
        "created": result.created,
    }


@github_node(
    "github.create_pull_request",
    permissions={"pull_requests": "write"},
    properties={
        "repository": TEMPLATED_STRING,
        "title": TEMPLATED_STRING,
        "body": TEMPLATED_STRING,
        "head": BRANCH,
        "base": BRANCH,
        "draft": {"type": "boolean"},
    },
    required=("title", "head"),
    writes=True,
)
def create_pull_request(params: dict, context: StepContext) -> dict:
    """Open a pull request from `head` into `base` (the default branch by default), or edit the
    title and body of the one already open between them."""
    head = _branch(params["head"], name="head")
    base = _branch(params["base"], name="base") if params.get("base") else None
    title = _text(params, "title", longest=MAX_TITLE_CHARS)
    body = _text(params, "body", longest=MAX_BODY_CHARS, required=False)
    installation_id, repository = _repository(params, context)
    result = pull_request_upsert(
        installation_id=installation_id,
        repo=repository,
        head=head,
        base=base,
        title=title,
        body=body,
        draft=bool(params.get("draft")),
        reads=_reads(context),
    )
    return {"number": result.number, "html_url": result.html_url, "created": result.created}
