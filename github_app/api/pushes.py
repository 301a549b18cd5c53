"""What a push brought, for a workflow step: its commits with their changed files and patches.

GitHub's push payload lists at most 20 commits (`size` tells how many the push had) and no
patches. Up to 20, each listed commit is read with its files; past that, one comparison of
`before...after` gives the commits (up to MAX_PUSH_COMMITS) and the changed files of the whole
push. A push that creates a branch or tag has no `before` to compare with, and one that deletes
it has nothing to read. Patches are clipped, each and in total, so that a step's output stays
small enough to store and to prompt with.
"""

import re
from dataclasses import dataclass

from github import Github

from github_app.api.installation_client import installation_call
from github_app.api.reads import ConditionalReads, _paged, _read, _segments

PAYLOAD_MAX_COMMITS = 20  # GitHub lists no more in a push payload
MAX_PUSH_COMMITS = 250  # what a comparison lists without being asked for more pages
MAX_LISTED_FILES = 300  # GitHub's first page of a commit's or a comparison's files
MAX_PATCH_CHARS = 20_000
MAX_PATCHES_CHARS = 200_000
_ZERO_SHA = re.compile(r"^0+\Z")


def sha_is_zero(sha: str) -> bool:
    """GitHub's `before` of a push that creates a ref, or `after` of one that deletes it."""
    return bool(_ZERO_SHA.match(sha))


@dataclass
class _PatchBudget:
    """What is left of the total for patches; whether any patch was clipped."""

    left: int = MAX_PATCHES_CHARS
    clipped: bool = False

    def file(self, item: dict) -> dict:
        patch = item.get("patch")
        kept = patch[: min(MAX_PATCH_CHARS, self.left)] if patch is not None else None
        truncated = patch is not None and len(kept or "") < len(patch)
        self.left -= len(kept or "")
        self.clipped = self.clipped or truncated
        return {
            "filename": item["filename"],
            "previous_filename": item.get("previous_filename"),
            "status": item.get("status"),
            "additions": item.get("additions", 0),
            "deletions": item.get("deletions", 0),
            "patch": kept or None,  # None: binary, too large for GitHub to show, or past the budget
            "patch_truncated": truncated,
        }


def _author(commit: dict) -> dict:
    author = commit.get("author") or {}
    return {"name": author.get("name"), "email": author.get("email"), "username": author.get("username")}


def _listed_commit(commit: dict) -> dict:
    """A commit as the push payload lists it."""
    return {
        "sha": commit["id"],
        "message": commit.get("message"),
        "author": _author(commit),
        "timestamp": commit.get("timestamp"),
        "url": commit.get("url"),
        "distinct": commit.get("distinct", True),
    }


def _compared_commit(commit: dict) -> dict:
    """A commit as a comparison lists it (no files: those are the comparison's)."""
    detail = commit.get("commit") or {}
    author = detail.get("author") or {}
    return {
        "sha": commit["sha"],
        "message": detail.get("message"),
        "author": {
            "name": author.get("name"),
            "email": author.get("email"),
            "username": (commit.get("author") or {}).get("login"),
        },
        "timestamp": author.get("date"),
        "url": commit.get("html_url"),
        "files": None,
    }


def _commits_read(github: Github, repo: str, listed: list[dict], reads: ConditionalReads | None) -> dict:
    budget = _PatchBudget()
    commits = []
    for commit in listed:
        detail = _read(github, f"/repos/{repo}/commits/{_segments(commit['id'])}", reads=reads)
        files = detail.get("files", [])
        commits.append(
            {
                **_listed_commit(commit),
                "files": [budget.file(item) for item in files],
                "files_truncated": len(files) >= MAX_LISTED_FILES,
            }
        )
    return {"commits": commits, "files": None, "files_truncated": False, "patches_truncated": budget.clipped}


def _comparison_read(github: Github, repo: str, before: str, after: str, reads: ConditionalReads | None) -> dict:
    path = f"/repos/{repo}/compare/{_segments(before)}...{_segments(after)}"
    commits: list[dict] = []
    files: list[dict] = []
    total = 0
    for data in _paged(github, path, max_items=MAX_PUSH_COMMITS, reads=reads, item_key="commits"):
        commits.extend(data["commits"])
        files = files or data.get("files", [])  # only the first page lists them
        total = data.get("total_commits", len(commits))
    budget = _PatchBudget()
    commits = commits[:MAX_PUSH_COMMITS]
    return {
        "commits": [_compared_commit(commit) for commit in commits],
        "total_commits": max(total, len(commits)),
        "files": [budget.file(item) for item in files],
        "files_truncated": len(files) >= MAX_LISTED_FILES,
        "patches_truncated": budget.clipped,
    }


def push_context(*, installation_id: int, repo: str, payload: dict, reads: ConditionalReads | None = None) -> dict:
    """The push's commits with their files, from its payload; `commits_truncated` when the push
    had more commits than could be read."""
    before, after = payload["before"], payload["after"]
    listed = payload.get("commits") or []
    total = max(payload.get("size") or 0, len(listed))
    summary = {
        "ref": payload.get("ref"),
        "before": before,
        "after": after,
        "compare_url": payload.get("compare"),
        "created": sha_is_zero(before),
        "deleted": sha_is_zero(after),
        "forced": bool(payload.get("forced")),
    }
    if summary["deleted"]:
        nothing: dict = {"commits": [], "files": None, "files_truncated": False, "patches_truncated": False}
        return {**summary, **nothing, "total_commits": 0, "commits_truncated": False}
    if total > PAYLOAD_MAX_COMMITS and not summary["created"]:
        compared = installation_call(
            installation_id, lambda github: _comparison_read(github, repo, before, after, reads)
        )
        return {**summary, **compared, "commits_truncated": compared["total_commits"] > len(compared["commits"])}
    # A push that created its ref lists what it brought; past 20 commits, there is no base to
    # compare with, and the list says so.
    shown = listed[:PAYLOAD_MAX_COMMITS]
    read = installation_call(installation_id, lambda github: _commits_read(github, repo, shown, reads))
    return {**summary, **read, "total_commits": total, "commits_truncated": total > len(shown)}
