"""Branches, commits and pull requests written through GitHub's Git Data API, each safe to repeat.

- A branch is created from a commit, or found already there at that commit; a branch found
  elsewhere is someone's work and is never moved.
- A commit of several files is one tree on top of the branch head, then a fast-forward-only
  update of the branch: another's push in between is never overwritten. The commit message
  carries a trailer naming the step, so a step retried after GitHub applied its update (and the
  answer was lost) finds its commit at the head instead of committing twice.
- A pull request is opened once per head and base; a repeated step edits the open one.
"""

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from github import Github, GithubException

from aiworkflow.errors import ApplicationError
from github_app.api.installation_client import installation_call
from github_app.api.reads import ConditionalReads, _read, _segments
from github_app.api.writes import _write

COMMIT_TRAILER = "Aiworkflow-Step"


class BranchNotFound(ApplicationError):
    status_code = 404
    default_message = "The branch does not exist."


class BranchElsewhere(ApplicationError):
    status_code = 409
    default_message = "The branch already exists at another commit; it is left as it is."


class BranchMoved(ApplicationError):
    status_code = 409
    default_message = "The branch moved while the commit was being made; nothing was pushed over it."


class DefaultBranchProtected(ApplicationError):
    status_code = 403
    default_message = "Writing to the repository's default branch was not allowed."


@dataclass(frozen=True)
class FileChange:
    path: str
    content: bytes | None  # None: the file is deleted


@dataclass(frozen=True)
class BranchResult:
    branch: str
    sha: str
    created: bool


@dataclass(frozen=True)
class CommitResult:
    sha: str
    html_url: str
    branch: str
    files: list[str]
    created: bool


@dataclass(frozen=True)
class PullRequestResult:
    number: int
    html_url: str
    created: bool


def commit_trailer(key: str) -> str:
    return f"{COMMIT_TRAILER}: {key}"


def _default_branch(github: Github, repo: str, reads: ConditionalReads | None) -> str:
    return _read(github, f"/repos/{repo}", reads=reads)["default_branch"]


def _branch_head(github: Github, repo: str, branch: str) -> str | None:
    """The sha the branch points at, or None when there is no such branch. Never from a
    remembered answer: a branch moves."""
    try:
        return _read(github, f"/repos/{repo}/git/ref/heads/{_segments(branch)}")["object"]["sha"]
    except GithubException as exc:
        if exc.status == 404:
            return None
        raise


def _git_commit(github: Github, repo: str, sha: str, reads: ConditionalReads | None) -> dict:
    return _read(github, f"/repos/{repo}/git/commits/{_segments(sha)}", reads=reads)


def commit_resolve(
    *,
    installation_id: int,
    repo: str,
    branch: str | None = None,
    sha: str | None = None,
    reads: ConditionalReads | None = None,
) -> str:
    """The full sha of a commit: `sha` checked to exist, the head of `branch`, or with neither,
    the head of the repository's default branch."""

    def resolve(github: Github) -> str:
        if sha is not None:
            return _git_commit(github, repo, sha.lower(), reads)["sha"]
        name = branch or _default_branch(github, repo, reads)
        head = _branch_head(github, repo, name)
        if head is None:
            raise BranchNotFound(f"{repo} has no branch {name!r}.", detail={"branch": name})
        return head

    return installation_call(installation_id, resolve)


def branch_create(*, installation_id: int, repo: str, branch: str, sha: str) -> BranchResult:
    """Create the branch at `sha`; a branch already at `sha` is taken as made (a retried step)."""

    def create(github: Github) -> BranchResult:
        head = _branch_head(github, repo, branch)
        if head is None:
            try:
                _write(
                    github,
                    installation_id,
                    "POST",
                    f"/repos/{repo}/git/refs",
                    {"ref": f"refs/heads/{branch}", "sha": sha},
                )
            except GithubException as exc:
                # Created meanwhile, by someone else or by a request of ours whose answer was lost.
                head = _branch_head(github, repo, branch) if exc.status == 422 else None
                if head is None:
                    raise
                return _existing_branch(repo, branch, head, sha)
            return BranchResult(branch=branch, sha=sha, created=True)
        return _existing_branch(repo, branch, head, sha)

    return installation_call(installation_id, create)


def _existing_branch(repo: str, branch: str, head: str, sha: str) -> BranchResult:
    if head != sha:
        raise BranchElsewhere(
            f"Branch {branch!r} of {repo} already exists at {head[:12]}, not at {sha[:12]}; it is left as it "
            "is. Choose another branch name.",
            detail={"branch": branch, "sha": head},
        )
    return BranchResult(branch=branch, sha=sha, created=False)


def _tree_entry(github: Github, installation_id: int, repo: str, change: FileChange) -> dict:
    """A file's entry of the new tree: text inline (GitHub makes its blob, and no write is spent
    per file), other bytes as a blob of their own, and a deletion as a null sha."""
    entry = {"path": change.path, "mode": "100644", "type": "blob"}
    if change.content is None:
        return {**entry, "sha": None}
    try:
        return {**entry, "content": change.content.decode("utf-8")}
    except UnicodeDecodeError:
        body = {"content": base64.b64encode(change.content).decode(), "encoding": "base64"}
        return {**entry, "sha": _write(github, installation_id, "POST", f"/repos/{repo}/git/blobs", body)["sha"]}


def files_commit(
    *,
    installation_id: int,
    repo: str,
    branch: str,
    message: str,
    changes: Sequence[FileChange],
    marker_key: str,
    allow_default_branch: bool = False,
    reads: ConditionalReads | None = None,
) -> CommitResult:
    """One commit of `changes` on top of the branch, which moves to it by a fast forward only.
    A head commit that already carries the trailer of `marker_key` is this step's, returned as
    it is. When the branch moves between our read and our update, the step fails: retrying on
    top of the new head could silently undo another's change to the same files."""
    trailer = commit_trailer(marker_key)
    paths = [change.path for change in changes]

    def commit(github: Github) -> CommitResult:
        if branch == _default_branch(github, repo, reads) and not allow_default_branch:
            raise DefaultBranchProtected(
                f"{branch!r} is the default branch of {repo}; set `allow_default_branch` to commit to it.",
                detail={"branch": branch},
            )
        head = _branch_head(github, repo, branch)
        if head is None:
            raise BranchNotFound(
                f"{repo} has no branch {branch!r}; create it first (github.create_branch).", detail={"branch": branch}
            )
        parent = _git_commit(github, repo, head, reads)
        if trailer in parent["message"].splitlines():
            return CommitResult(sha=head, html_url=parent["html_url"], branch=branch, files=paths, created=False)
        entries = [_tree_entry(github, installation_id, repo, change) for change in changes]
        tree = _write(
            github,
            installation_id,
            "POST",
            f"/repos/{repo}/git/trees",
            {"base_tree": parent["tree"]["sha"], "tree": entries},
        )
        created = _write(
            github,
            installation_id,
            "POST",
            f"/repos/{repo}/git/commits",
            {"message": f"{message}\n\n{trailer}", "tree": tree["sha"], "parents": [head]},
        )
        try:
            _write(
                github,
                installation_id,
                "PATCH",
                f"/repos/{repo}/git/refs/heads/{_segments(branch)}",
                {"sha": created["sha"], "force": False},
            )
        except GithubException as exc:
            moved_to = _branch_head(github, repo, branch) if exc.status == 422 else head
            if moved_to == head:
                raise
            raise BranchMoved(
                f"Branch {branch!r} of {repo} moved to {str(moved_to)[:12]} while the commit was being made; "
                "nothing was pushed over it.",
                detail={"branch": branch, "sha": moved_to},
            ) from exc
        return CommitResult(sha=created["sha"], html_url=created["html_url"], branch=branch, files=paths, created=True)

    return installation_call(installation_id, commit)


def pull_request_upsert(
    *,
    installation_id: int,
    repo: str,
    head: str,
    base: str | None,
    title: str,
    body: str,
    draft: bool,
    reads: ConditionalReads | None = None,
) -> PullRequestResult:
    """Open a pull request from `head` into `base` (the default branch when None), or edit the
    title and body of the open one there is already (a repeated step)."""
    owner = repo.split("/")[0]

    def upsert(github: Github) -> PullRequestResult:
        target = base or _default_branch(github, repo, reads)
        # GitHub keeps at most one open pull request per head and base: one page holds it.
        listed = _read(
            github, f"/repos/{repo}/pulls", params={"head": f"{owner}:{head}", "base": target, "state": "open"}
        )
        if listed:
            number = listed[0]["number"]
            data = _write(
                github, installation_id, "PATCH", f"/repos/{repo}/pulls/{number}", {"title": title, "body": body}
            )
            return PullRequestResult(number=data["number"], html_url=data["html_url"], created=False)
        data = _write(
            github,
            installation_id,
            "POST",
            f"/repos/{repo}/pulls",
            {"title": title, "body": body, "head": head, "base": target, "draft": draft},
        )
        return PullRequestResult(number=data["number"], html_url=data["html_url"], created=True)

    return installation_call(installation_id, upsert)
