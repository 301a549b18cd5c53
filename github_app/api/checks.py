"""Check runs that a workflow run creates and updates on a commit.

A check run is named by its `external_id` (`run:<run id>:<name>`): a step first looks for the one
of that id on the commit and updates it, so a retried step, or a later step of the same run with
the same name (in progress at the start, completed at the end), keeps one check run.

GitHub takes at most 50 annotations per request and appends those of each update to the ones it
holds: the first 50 go with the create or update, the rest in further updates of 50. When more
than one request is needed, a completed status goes with the last one, so the check is not seen
completed with part of its annotations. A step that updates a check run first lists the
annotations it holds and sends only the missing ones: a retry does not repeat those sent before
its connection broke.
"""

from collections import Counter
from dataclasses import dataclass

from github import Github

from github_app.api.installation_client import installation_call
from github_app.api.reads import _paged, _pages, _read
from github_app.api.writes import _write

ANNOTATIONS_PER_REQUEST = 50  # GitHub's limit per create or update request
MAX_ANNOTATIONS = 1000
MAX_ANNOTATIONS_LISTED = 3000
MAX_CHECK_RUNS_SEARCHED = 1000  # check runs of one name on one commit
OUTPUT_TEXT_MAX_CHARS = 65535  # GitHub's cap on an output's summary and text
FINAL_FIELDS = ("status", "conclusion", "completed_at")


@dataclass(frozen=True)
class CheckRunResult:
    id: int
    html_url: str
    status: str
    conclusion: str | None
    annotations_sent: int
    created: bool


def output_text_clip(text: str) -> str:
    """A summary or text within GitHub's cap, saying so when it was cut."""
    if len(text) <= OUTPUT_TEXT_MAX_CHARS:
        return text
    note = f"\n\n… [clipped: {len(text)} characters, GitHub shows at most {OUTPUT_TEXT_MAX_CHARS}]"
    return text[: OUTPUT_TEXT_MAX_CHARS - len(note)] + note


def _check_run_find(github: Github, *, repo: str, head_sha: str, name: str, external_id: str) -> dict | None:
    """The check run of `external_id` among those named `name` on the commit, if any."""
    pages = _paged(
        github,
        f"/repos/{repo}/commits/{head_sha}/check-runs",
        max_items=MAX_CHECK_RUNS_SEARCHED,
        params={"check_name": name, "filter": "all"},
        item_key="check_runs",
    )
    runs = (run for data in pages for run in data["check_runs"])
    return next((run for run in runs if run.get("external_id") == external_id), None)


def _annotation_key(annotation: dict) -> tuple:
    return tuple(annotation.get(field) for field in ("path", "start_line", "end_line", "annotation_level", "message"))


def _annotations_missing(github: Github, *, repo: str, check_run: dict, annotations: list[dict]) -> list[dict]:
    """The annotations the check run does not hold yet (each counted: two equal ones are two)."""
    if not annotations or not (check_run.get("output") or {}).get("annotations_count"):
        return annotations
    listed = _pages(github, f"/repos/{repo}/check-runs/{check_run['id']}/annotations", limit=MAX_ANNOTATIONS_LISTED)
    held = Counter(_annotation_key(annotation) for annotation in listed)
    missing = []
    for annotation in annotations:
        key = _annotation_key(annotation)
        if held[key]:
            held[key] -= 1
        else:
            missing.append(annotation)
    return missing


def _check_run_requests(fields: dict, annotations: list[dict]) -> list[dict]:
    """The fields of each request: the first carries `fields`, and each 50 annotations; a final
    status waits for the last request when there is more than one."""
    chunks = [
        annotations[start : start + ANNOTATIONS_PER_REQUEST]
        for start in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
    ] or [[]]
    output = fields.get("output")
    requests = []
    for index, chunk in enumerate(chunks):
        request = dict(fields) if index == 0 else {}
        if chunk:
            request["output"] = {**(output or {}), "annotations": chunk}
        requests.append(request)
    if len(requests) > 1 and fields.get("status") == "completed":
        final = {field: requests[0].pop(field) for field in FINAL_FIELDS if field in requests[0]}
        requests[0]["status"] = "in_progress"
        requests[-1].update(final)
    return requests


def check_run_upsert(
    *,
    installation_id: int,
    repo: str,
    head_sha: str,
    name: str,
    external_id: str,
    fields: dict,
    annotations: list[dict],
) -> CheckRunResult:
    """Create the check run of `external_id` on the commit, or update it if it exists; `fields`
    are GitHub's (status, conclusion, output with title and summary), `annotations` sent 50 to
    a request."""

    def write(github: Github) -> CheckRunResult:
        existing = _check_run_find(github, repo=repo, head_sha=head_sha, name=name, external_id=external_id)
        unsent = (
            annotations
            if existing is None
            else _annotations_missing(github, repo=repo, check_run=existing, annotations=annotations)
        )
        first, *further = _check_run_requests(fields, unsent)
        if existing is None:
            body = {"name": name, "head_sha": head_sha, "external_id": external_id, **first}
            data = _write(github, installation_id, "POST", f"/repos/{repo}/check-runs", body)
        else:
            data = _write(github, installation_id, "PATCH", f"/repos/{repo}/check-runs/{existing['id']}", first)
        for request in further:
            data = _write(github, installation_id, "PATCH", f"/repos/{repo}/check-runs/{data['id']}", request)
        return CheckRunResult(
            id=data["id"],
            html_url=data["html_url"],
            status=data["status"],
            conclusion=data.get("conclusion"),
            annotations_sent=len(annotations),
            created=existing is None,
        )

    return installation_call(installation_id, write)


def check_run_get(*, installation_id: int, repo: str, check_run_id: int) -> dict:
    return installation_call(installation_id, lambda github: _read(github, f"/repos/{repo}/check-runs/{check_run_id}"))


def check_run_update(*, installation_id: int, repo: str, check_run_id: int, **fields) -> dict:
    """Update a check run with GitHub's fields (status, conclusion, output, ...); returns it."""
    return installation_call(
        installation_id,
        lambda github: _write(github, installation_id, "PATCH", f"/repos/{repo}/check-runs/{check_run_id}", fields),
    )


def check_run_cancel(*, installation_id: int, repo: str, check_run_id: int) -> bool:
    """Complete the check run as cancelled unless it is completed already (a later step may
    have completed it); whether it was cancelled."""
    if check_run_get(installation_id=installation_id, repo=repo, check_run_id=check_run_id)["status"] == "completed":
        return False
    check_run_update(
        installation_id=installation_id,
        repo=repo,
        check_run_id=check_run_id,
        status="completed",
        conclusion="cancelled",
    )
    return True
