"""What workflow steps write to a repository, through the installation client.

Writes are paced to one a second per installation, and a comment carries a hidden marker so that
a retried step edits its own comment instead of posting a second one.
"""

import time
from dataclasses import dataclass

from django.core.cache import cache
from github import Github

from github_app.api.installation_client import installation_call
from github_app.api.reads import MAX_COMMENTS, _pages


def _pace_write(installation_id: int) -> None:
    """At least a second between writes of one installation, across processes (GitHub's advice
    against secondary rate limits): each write takes a one-second slot in the shared cache."""
    while not cache.add(f"github-write-slot:{installation_id}", 1, timeout=1):
        time.sleep(0.05)


def _write(github: Github, installation_id: int, method: str, path: str, body: dict):
    _pace_write(installation_id)
    _, data = github.requester.requestJsonAndCheck(method, path, input=body)
    return data


@dataclass(frozen=True)
class CommentResult:
    id: int
    html_url: str
    created: bool


def comment_marker(key: str) -> str:
    return f"<!-- aiworkflow:{key} -->"


def comment_upsert(*, installation_id: int, repo: str, number: int, body: str, marker_key: str) -> CommentResult:
    """Post the comment, or edit the one carrying the same hidden marker (a retried step, or a
    persistent comment). Only a bot's comment counts: a person who copies the marker into a
    comment of their own must not make the step fail trying to edit it."""
    marker = comment_marker(marker_key)
    text = f"{body}\n\n{marker}"

    def write(github: Github) -> CommentResult:
        comments = _pages(github, f"/repos/{repo}/issues/{number}/comments", limit=MAX_COMMENTS)
        mine = next((comment for comment in comments if _posted_by_a_bot(comment) and marker in comment["body"]), None)
        if mine is not None:
            data = _write(
                github, installation_id, "PATCH", f"/repos/{repo}/issues/comments/{mine['id']}", {"body": text}
            )
            return CommentResult(id=data["id"], html_url=data["html_url"], created=False)
        data = _write(github, installation_id, "POST", f"/repos/{repo}/issues/{number}/comments", {"body": text})
        return CommentResult(id=data["id"], html_url=data["html_url"], created=True)

    return installation_call(installation_id, write)


def _posted_by_a_bot(comment: dict) -> bool:
    return (comment.get("user") or {}).get("type") == "Bot" and isinstance(comment.get("body"), str)


def labels_add(*, installation_id: int, repo: str, number: int, labels: list[str]) -> list[str]:
    """Add labels to an issue or pull request; returns every label it now has."""
    data = installation_call(
        installation_id,
        lambda github: _write(
            github, installation_id, "POST", f"/repos/{repo}/issues/{number}/labels", {"labels": labels}
        ),
    )
    return [label["name"] for label in data]
