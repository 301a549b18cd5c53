"""Bodies shaped like GitHub's, built on the recorded webhook examples where GitHub's own shape
is long."""

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "github"
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


@cache
def _example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def example(name: str) -> dict:
    """A recorded webhook payload; a copy, free to change."""
    return copy.deepcopy(_example(name))


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP)


def installation_body(installation_id: int, **changes) -> dict:
    return {**example("installation__created")["installation"], "id": installation_id, **changes}


def repository_summary(repository_id: int, full_name: str, private: bool = False) -> dict:
    """A repository as installation webhooks list it."""
    return {
        "id": repository_id,
        "node_id": f"R_{repository_id}",
        "name": full_name.split("/")[1],
        "full_name": full_name,
        "private": private,
    }


def repository_body(repository_id: int, full_name: str, private: bool = False) -> dict:
    owner = {**example("pull_request__opened")["repository"]["owner"], "login": full_name.split("/")[0]}
    body = {
        **example("pull_request__opened")["repository"],
        "owner": owner,
        "html_url": f"https://github.com/{full_name}",
    }
    return {**body, **repository_summary(repository_id, full_name, private)}


def pull_request_body(number: int, changed_files: int, **changes) -> dict:
    return {
        **example("pull_request__opened")["pull_request"],
        "number": number,
        "changed_files": changed_files,
        **changes,
    }


def changed_file(
    filename: str, patch: str | None = "@@ -1 +1 @@\n-a\n+b", *, status: str = "modified", **changes
) -> dict:
    """A file as a pull request's or a commit's file list gives it; no patch for a binary file."""
    lines = patch.count("\n") if patch else 0
    item = {
        "sha": hashlib.sha1(filename.encode()).hexdigest(),
        "filename": filename,
        "status": status,
        "additions": lines,
        "deletions": lines,
        "changes": 2 * lines,
    }
    return {**item, **({"patch": patch} if patch is not None else {}), **changes}


def source_files(count: int) -> list[dict]:
    """`count` modified files src/file_<n>.py, each with a one-line change of its own."""
    return [
        changed_file(f"src/file_{number}.py", f"@@ -1 +1 @@\n-old {number}\n+new {number}") for number in range(count)
    ]


def unified_diff(files: list[dict]) -> str:
    """The pull request's diff as GitHub renders it for `Accept: application/vnd.github.diff`."""
    parts = []
    for item in files:
        new, old = item["filename"], item.get("previous_filename") or item["filename"]
        parts.append(f"diff --git a/{old} b/{new}")
        parts.append("--- /dev/null" if item["status"] == "added" else f"--- a/{old}")
        parts.append("+++ /dev/null" if item["status"] == "removed" else f"+++ b/{new}")
        parts.append(item.get("patch") or "Binary files differ")
    return "\n".join(parts) + "\n"


def log_status(status_code: int) -> str:
    """GitHub's account of an attempt that we answered `status_code` (0: no answer)."""
    if status_code == 0:
        return "timed out"
    return "OK" if 200 <= status_code < 300 else f"Invalid HTTP Response: {status_code}"


def hook_delivery_body(
    entry_id: int,
    guid: str,
    *,
    status_code: int,
    minutes_ago: float,
    event: str,
    action: str | None,
    redelivery: bool,
    installation_id: int,
    repository_id: int,
) -> dict:
    """One attempt in the App's delivery log, as `GET /app/hook/deliveries` lists it."""
    return {
        "id": entry_id,
        "guid": guid,
        "delivered_at": timestamp(datetime.now(UTC) - timedelta(minutes=minutes_ago)),
        "redelivery": redelivery,
        "duration": 0.27 if status_code else 10.0,
        "status": log_status(status_code),
        "status_code": status_code,
        "event": event,
        "action": action,
        "installation_id": installation_id,
        "repository_id": repository_id,
        "throttled_at": None,
    }


def _user(login: str) -> dict:
    bot = login.endswith("[bot]")
    return {**example("issues__opened")["issue"]["user"], "login": login, "type": "Bot" if bot else "User"}


def issue_body(
    full_name: str,
    number: int,
    *,
    title: str,
    body: str | None,
    state: str,
    state_reason: str | None,
    labels: list[str],
    assignees: list[str],
    author: str,
    comments: int,
    created_at: datetime,
    pull_request: bool = False,
) -> dict:
    """An issue as the issues API gives it (`GET /repos/{owner}/{repo}/issues/{number}`); a pull
    request, listed as an issue, has a `pull_request` object."""
    api = f"https://api.github.com/repos/{full_name}"
    kind = "pull" if pull_request else "issues"
    users = [_user(login) for login in assignees]
    issue = {
        **example("issues__opened")["issue"],
        "url": f"{api}/issues/{number}",
        "repository_url": api,
        "comments_url": f"{api}/issues/{number}/comments",
        "html_url": f"https://github.com/{full_name}/{kind}/{number}",
        "id": 10_000_000 + number,
        "number": number,
        "title": title,
        "body": body,
        "user": _user(author),
        "labels": [issue_label(full_name, name) for name in labels],
        "state": state,
        "state_reason": state_reason,
        "assignee": users[0] if users else None,
        "assignees": users,
        "comments": comments,
        "created_at": timestamp(created_at),
        "updated_at": timestamp(created_at),
        "closed_at": timestamp(created_at) if state == "closed" else None,
    }
    if pull_request:
        issue["pull_request"] = {"url": f"{api}/pulls/{number}", "html_url": issue["html_url"]}
    return issue


def issue_label(full_name: str, name: str) -> dict:
    digest = hashlib.sha1(name.encode()).hexdigest()
    return {
        "id": int(digest[:8], 16),
        "node_id": f"LA_{digest[:12]}",
        "url": f"https://api.github.com/repos/{full_name}/labels/{name}",
        "name": name,
        "color": digest[:6],
        "default": False,
        "description": None,
    }


def compared_commit(full_name: str, sha: str, message: str) -> dict:
    """A commit as a comparison (`GET /repos/{owner}/{repo}/compare/{basehead}`) lists it."""
    person = {
        "name": "Codertocat",
        "email": "21031067+Codertocat@users.noreply.github.com",
        "date": "2019-05-15T15:20:30Z",
    }
    return {
        "sha": sha,
        "node_id": f"C_{sha[:12]}",
        "commit": {"author": person, "committer": person, "message": message},
        "author": {"login": "Codertocat", "id": 21031067, "type": "User"},
        "html_url": f"https://github.com/{full_name}/commit/{sha}",
    }
