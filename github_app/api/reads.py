"""What workflow steps and trigger matching read from a repository, through the installation client.

Reads return plain JSON-ready dicts (they become step outputs). Within one workflow run, reads
remember ETags (ConditionalReads): re-reading an unchanged resource costs a 304, which GitHub
does not count against the rate limit. Writes are paced to one a second per installation, and a
comment carries a hidden marker so that a retried step edits its own comment.
"""

import base64
import hashlib
import json
from collections.abc import Iterator
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from github import Github, GithubException

from github_app.api.installation_client import installation_call
from github_app.errors import FileNotAFile, PathOutsideRepository

JSON = "application/vnd.github+json"
DIFF = "application/vnd.github.diff"
PER_PAGE = 100
MAX_PULL_REQUEST_FILES = 3000  # GitHub lists at most 3000 files of a pull request
MAX_COMMENTS = 1000
MAX_COMPARE_PAGES = 10


class ConditionalReads:
    """The ETags and bodies of one workflow run's reads, in the shared cache, so that a later
    step (possibly in another process) re-reads with If-None-Match."""

    def __init__(self, namespace: str, timeout: int = 24 * 3600) -> None:
        self.namespace = namespace
        self.timeout = timeout

    def _key(self, request_key: str) -> str:
        return f"github-etag:{self.namespace}:{hashlib.sha256(request_key.encode()).hexdigest()}"

    def get(self, request_key: str) -> tuple[str, object] | None:
        return cache.get(self._key(request_key))

    def put(self, request_key: str, etag: str, payload: object) -> None:
        cache.set(self._key(request_key), (etag, payload), timeout=self.timeout)


def _read(
    github: Github, path: str, *, params: dict | None = None, accept: str = JSON, reads: ConditionalReads | None = None
):
    """One GET, conditional when the run has read it before; returns JSON (or text for diffs)."""
    request_key = f"{path}?{json.dumps(params or {}, sort_keys=True)}#{accept}"
    remembered = reads.get(request_key) if reads else None
    headers = {"Accept": accept, **({"If-None-Match": remembered[0]} if remembered else {})}
    status, response_headers, text = github.requester.requestJson("GET", path, parameters=params, headers=headers)
    if status == 304 and remembered:
        return remembered[1]
    if status >= 400:
        raise github.requester.createException(status, response_headers, _error_body(text))
    payload = text if accept == DIFF else json.loads(text)
    etag = response_headers.get("etag")
    if reads and etag:
        reads.put(request_key, etag, payload)
    return payload


def _segments(path: str) -> str:
    """A path for a URL with every segment quoted: a `?`, `#` or `%2e%2e` in a user's path
    stays a file name, and a `.` or `..` segment is refused, so none reaches another endpoint."""
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise PathOutsideRepository(detail={"path": path[:200]})
    return "/".join(quote(segment, safe="") for segment in segments)


def _error_body(text: str) -> dict:
    """GitHub's error as PyGithub expects it: a JSON object, even for an HTML error page."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {"message": text[:500]}


def _paged(
    github: Github,
    path: str,
    *,
    max_items: int,
    params: dict | None = None,
    reads: ConditionalReads | None = None,
    item_key: str | None = None,
) -> Iterator:
    """Each page of a listed resource (the whole answer: some carry more than their items), until
    one is short or `max_items` have been listed; a caller may stop early."""
    for page in range(1, -(-max_items // PER_PAGE) + 1):
        data = _read(github, path, params={**(params or {}), "per_page": PER_PAGE, "page": page}, reads=reads)
        yield data
        if len(data[item_key] if item_key else data) < PER_PAGE:
            return


def _pages(
    github: Github, path: str, *, limit: int, reads: ConditionalReads | None = None, item_key: str | None = None
) -> list:
    """Every item of a listed resource, page by page, up to `limit`."""
    pages = _paged(github, path, max_items=limit, reads=reads, item_key=item_key)
    items = [item for data in pages for item in (data[item_key] if item_key else data)]
    return items[:limit]


def changed_paths(files: list[dict]) -> list[str]:
    """The paths a list of changed files touches: both names of a renamed file, since a path
    filter must see a file leave a directory as well as arrive in one."""
    return [name for item in files for name in (item.get("previous_filename"), item["filename"]) if name]


def _diff_from_patches(files: list[dict]) -> str:
    """A unified diff put together from the files' patches, for when GitHub will not render one."""
    parts = []
    for item in files:
        new = item["filename"]
        old = item.get("previous_filename") or new
        parts.append(f"diff --git a/{old} b/{new}")
        parts.append("--- /dev/null" if item.get("status") == "added" else f"--- a/{old}")
        parts.append("+++ /dev/null" if item.get("status") == "removed" else f"+++ b/{new}")
        parts.append(item["patch"] if item.get("patch") else f"Binary or too large to show: {new}")
    return "\n".join(parts) + "\n"


def _pull_request_diff(
    github: Github, repo: str, number: int, files: list[dict], reads: ConditionalReads | None
) -> tuple[str, bool]:
    """The pull request's unified diff; past GitHub's limits (406 `too_large`: over 300 files or
    20,000 lines) one built from the files' patches, flagged as truncated."""
    try:
        return _read(github, f"/repos/{repo}/pulls/{number}", accept=DIFF, reads=reads), False
    except GithubException as exc:
        if exc.status != 406:
            raise
        return _diff_from_patches(files), True


def pull_request_context(
    *, installation_id: int, repo: str, number: int, reads: ConditionalReads | None = None
) -> dict:
    """The pull request, its unified diff, changed files with patches (up to 3000), issue and
    review comments, and the repository."""

    def read(github: Github) -> dict:
        pull_request = _read(github, f"/repos/{repo}/pulls/{number}", reads=reads)
        files = _pages(github, f"/repos/{repo}/pulls/{number}/files", limit=MAX_PULL_REQUEST_FILES, reads=reads)
        diff, diff_truncated = _pull_request_diff(github, repo, number, files, reads)
        return {
            "pull_request": pull_request,
            "diff": diff,
            "diff_truncated": diff_truncated,
            "files": files,
            "files_truncated": pull_request.get("changed_files", 0) > len(files),
            "issue_comments": _pages(
                github, f"/repos/{repo}/issues/{number}/comments", limit=MAX_COMMENTS, reads=reads
            ),
            "review_comments": _pages(
                github, f"/repos/{repo}/pulls/{number}/comments", limit=MAX_COMMENTS, reads=reads
            ),
            "repository": _read(github, f"/repos/{repo}", reads=reads),
        }

    return installation_call(installation_id, read)


def pull_request_files(*, installation_id: int, repo: str, number: int) -> list[dict]:
    """The pull request's changed files (up to 3000), without the rest of its context."""
    return installation_call(
        installation_id,
        lambda github: _pages(github, f"/repos/{repo}/pulls/{number}/files", limit=MAX_PULL_REQUEST_FILES),
    )


def commit_context(*, installation_id: int, repo: str, sha: str, reads: ConditionalReads | None = None) -> dict:
    """The commit with its files and patches, and the repository."""

    def read(github: Github) -> dict:
        commit = _read(github, f"/repos/{repo}/commits/{_segments(sha)}", reads=reads)
        return {
            "commit": commit,
            "files": commit.get("files", []),
            "repository": _read(github, f"/repos/{repo}", reads=reads),
        }

    return installation_call(installation_id, read)


def file_content(
    *, installation_id: int, repo: str, path: str, ref: str | None = None, reads: ConditionalReads | None = None
) -> dict:
    """A file's text: base64 decoded, no larger than GITHUB_FILE_CONTENT_MAX_BYTES, and None
    (with `binary` set) for content that is not UTF-8 text."""
    params = {"ref": ref} if ref else None
    entry = installation_call(
        installation_id,
        lambda github: _read(github, f"/repos/{repo}/contents/{_segments(path)}", params=params, reads=reads),
    )
    if not isinstance(entry, dict) or entry.get("type") != "file":
        raise FileNotAFile(detail={"path": path})
    result = {
        "path": entry["path"],
        "sha": entry["sha"],
        "size": entry["size"],
        "content": None,
        "binary": False,
        "truncated": False,
    }
    if entry["size"] > settings.GITHUB_FILE_CONTENT_MAX_BYTES or entry.get("encoding") != "base64":
        return {**result, "truncated": True}
    raw = base64.b64decode(entry["content"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {**result, "binary": True}
    return {**result, "binary": True} if "\x00" in text else {**result, "content": text}


def compare_changed_files(
    *, installation_id: int, repo: str, base: str, head: str, reads: ConditionalReads | None = None
) -> list[str]:
    """The paths changed between two commits (both names of a rename), for a push whose payload
    cannot tell them (more than 20 commits, or a forced push)."""

    def read(github: Github) -> list[str]:
        paths: list[str] = []
        for page in range(1, MAX_COMPARE_PAGES + 1):
            data = _read(
                github,
                f"/repos/{repo}/compare/{_segments(base)}...{_segments(head)}",
                params={"per_page": PER_PAGE, "page": page},
                reads=reads,
            )
            paths.extend(changed_paths(data.get("files", [])))
            if len(data.get("commits", [])) < PER_PAGE:
                break
        return list(dict.fromkeys(paths))

    return installation_call(installation_id, read)
