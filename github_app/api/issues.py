"""Issues as workflow steps read and change them, through the installation client.

An issue a step creates carries a hidden marker naming the step, as its comments do, so that a
retried step finds the issue it opened before the failure instead of opening a second one.
"""

from dataclasses import dataclass
from urllib.parse import quote

from github import Github, GithubException

from github_app.api.installation_client import installation_call
from github_app.api.reads import PER_PAGE, ConditionalReads, _paged, _pages, _read
from github_app.api.writes import _write, comment_marker

MAX_ISSUE_COMMENTS = 300
# A retried step looks for its issue among the newest ones its author opened: a retry comes
# minutes after the attempt, long before this many other issues could follow.
MAX_ISSUES_SEARCHED = 300


def _login(user: dict | None) -> str | None:
    return (user or {}).get("login")


def _issue_summary(issue: dict) -> dict:
    """An issue as a step's output: names rather than GitHub's nested objects."""
    return {
        "number": issue["number"],
        "title": issue["title"],
        "body": issue.get("body"),
        "state": issue["state"],
        "state_reason": issue.get("state_reason"),
        "labels": [label["name"] for label in issue.get("labels", [])],
        "assignees": [_login(assignee) for assignee in issue.get("assignees", [])],
        "user": _login(issue.get("user")),
        "html_url": issue["html_url"],
        "is_pull_request": "pull_request" in issue,
        "comments": issue.get("comments", 0),
        "created_at": issue.get("created_at"),
        "updated_at": issue.get("updated_at"),
        "closed_at": issue.get("closed_at"),
    }


def _comment_summary(comment: dict) -> dict:
    return {
        "id": comment["id"],
        "user": _login(comment.get("user")),
        "body": comment.get("body"),
        "html_url": comment.get("html_url"),
        "created_at": comment.get("created_at"),
        "updated_at": comment.get("updated_at"),
    }


def issue_context(*, installation_id: int, repo: str, number: int, reads: ConditionalReads | None = None) -> dict:
    """The issue (or pull request, as an issue) and its first MAX_ISSUE_COMMENTS comments."""

    def read(github: Github) -> dict:
        issue = _read(github, f"/repos/{repo}/issues/{number}", reads=reads)
        comments = _pages(github, f"/repos/{repo}/issues/{number}/comments", limit=MAX_ISSUE_COMMENTS, reads=reads)
        return {
            "issue": _issue_summary(issue),
            "comments": [_comment_summary(comment) for comment in comments],
            "comments_truncated": issue.get("comments", 0) > len(comments),
        }

    return installation_call(installation_id, read)


@dataclass(frozen=True)
class IssueResult:
    number: int
    html_url: str
    created: bool


def _issue_with_marker(github: Github, repo: str, marker: str, creator: str | None) -> dict | None:
    """The newest issue (of `creator`, when known) whose body carries `marker`, among the last
    MAX_ISSUES_SEARCHED opened; read afresh, since it may have been opened a moment ago."""
    query = {"state": "all", "sort": "created", "direction": "desc", **({"creator": creator} if creator else {})}
    pages = _paged(github, f"/repos/{repo}/issues", max_items=MAX_ISSUES_SEARCHED, params=query)
    return next((issue for issues in pages for issue in issues if marker in (issue.get("body") or "")), None)


def issue_create(
    *,
    installation_id: int,
    repo: str,
    title: str,
    body: str,
    labels: list[str],
    assignees: list[str],
    marker_key: str,
    creator: str | None,
) -> IssueResult:
    """Open the issue, or return the one a previous attempt opened (it carries the same marker)."""
    marker = comment_marker(marker_key)
    text = f"{body}\n\n{marker}" if body else marker

    def write(github: Github) -> IssueResult:
        mine = _issue_with_marker(github, repo, marker, creator)
        if mine is not None:
            return IssueResult(number=mine["number"], html_url=mine["html_url"], created=False)
        fields = {"title": title, "body": text, "labels": labels, "assignees": assignees}
        data = _write(github, installation_id, "POST", f"/repos/{repo}/issues", fields)
        return IssueResult(number=data["number"], html_url=data["html_url"], created=True)

    return installation_call(installation_id, write)


def issue_update(*, installation_id: int, repo: str, number: int, changes: dict) -> dict:
    """Change the issue's title, body, state (with its reason) or assignees: a PATCH, which sets
    the same values again when a step is retried."""
    data = installation_call(
        installation_id,
        lambda github: _write(github, installation_id, "PATCH", f"/repos/{repo}/issues/{number}", changes),
    )
    return _issue_summary(data)


def labels_remove(*, installation_id: int, repo: str, number: int, labels: list[str]) -> dict:
    """Remove labels from an issue or pull request. A label it does not have counts as removed
    (GitHub's 404), as does one a failed attempt already took off; returns the labels removed
    now and those it still has."""

    def write(github: Github) -> dict:
        removed: list[str] = []
        remaining: list[dict] | None = None
        for label in labels:
            try:
                remaining = _write(
                    github,
                    installation_id,
                    "DELETE",
                    f"/repos/{repo}/issues/{number}/labels/{quote(label, safe='')}",
                    {},
                )
            except GithubException as exc:  # "Label does not exist", or no such issue: told apart below
                if exc.status != 404:
                    raise
                continue
            removed.append(label)
        if remaining is None:  # nothing was taken off: the read also tells a missing issue (404)
            remaining = _read(github, f"/repos/{repo}/issues/{number}/labels", params={"per_page": PER_PAGE})
        return {"removed": removed, "labels": [item["name"] for item in remaining]}

    return installation_call(installation_id, write)
