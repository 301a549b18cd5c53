"""Review nodes: a pull request review with inline comments, and a check run with annotations.

Templates render every parameter to a string, so a list that comes from an earlier step's output
(an AI's JSON) is given as a template rendering JSON, `"{{ nodes.review.json.comments|tojson }}"`:
`comments` and `annotations` take a list or a string of JSON, checked against the same schema
either way.
"""

import json

from jsonschema import Draft202012Validator

from github_app.api.checks import MAX_ANNOTATIONS, check_run_cancel, check_run_upsert, output_text_clip
from github_app.api.diff_lines import LEFT, RIGHT
from github_app.api.reviews import REVIEW_EVENTS, ReviewComment, review_post
from workflows.nodes.base import NUMBER_OR_TEMPLATE, TEMPLATED_STRING, StepContext, StepFailed
from workflows.nodes.github import _github_failures, _number, _path, _repository, _sha, github_node

MAX_REVIEW_COMMENTS = 1000
MAX_ANNOTATIONS_GIVEN = 5000
MAX_JSON_PARAM_CHARS = 5_000_000
SIDES = [LEFT, RIGHT]
LINE = {"type": "integer", "minimum": 1}
REVIEW_COMMENT = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 1, "maxLength": 4096},
        "line": LINE,
        "side": {"enum": SIDES},
        "start_line": LINE,
        "start_side": {"enum": SIDES},
        "body": {"type": "string", "minLength": 1, "maxLength": 65536},
    },
    "required": ["path", "line", "body"],
    "additionalProperties": False,
}
ANNOTATION = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 1, "maxLength": 4096},
        "start_line": LINE,
        "end_line": LINE,
        "annotation_level": {"enum": ["notice", "warning", "failure"]},
        "message": {"type": "string", "minLength": 1, "maxLength": 65535},
        "title": {"type": "string", "maxLength": 255},
    },
    "required": ["path", "start_line", "end_line", "annotation_level", "message"],
    "additionalProperties": False,
}


def _list_or_json(items: dict, *, max_items: int) -> dict:
    """A list of `items`, or a template rendering one as JSON."""
    return {
        "anyOf": [
            {"type": "array", "items": items, "maxItems": max_items},
            {"type": "string", "maxLength": 100_000},
        ]
    }


def _items(params: dict, name: str, *, schema: dict) -> list[dict]:
    """A list parameter as rendered: given as a list, or as a string of JSON; checked here since
    what a template renders was not seen when the workflow was saved."""
    value = params.get(name, [])
    if isinstance(value, str):
        if len(value) > MAX_JSON_PARAM_CHARS:
            raise StepFailed(f"`{name}` renders to {len(value)} characters, more than {MAX_JSON_PARAM_CHARS}.")
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError as exc:
            raise StepFailed(
                f"`{name}` is a string but not JSON ({exc}); render a list with `|tojson`, "
                f"e.g. {{{{ nodes.review.json.{name}|tojson }}}}."
            ) from None
    error = next(iter(sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.path)
        raise StepFailed(f"`{name}{where}`: {error.message[:300]}.")
    return value


def _choice(params: dict, name: str, choices, default: str | None) -> str | None:
    """A parameter that must be one of `choices` once rendered (in their case: `approve` is APPROVE)."""
    given = params.get(name)
    value = next((choice for choice in choices if str(given).lower() == choice.lower()), given) if given else default
    if value is not None and value not in choices:
        raise StepFailed(f"`{name}` {str(value)[:100]!r} is not one of {', '.join(choices)}.")
    return value


def _review_comment(item: dict, index: int) -> ReviewComment:
    return ReviewComment(
        path=_path(item["path"], name=f"comments[{index}].path"),
        line=item["line"],
        side=item.get("side", RIGHT),
        start_line=item.get("start_line"),
        start_side=item.get("start_side"),
        body=item["body"],
    )


@github_node(
    "github.create_review",
    permissions={"pull_requests": "write"},
    properties={
        "repository": TEMPLATED_STRING,
        "number": NUMBER_OR_TEMPLATE,
        "event": {"type": "string", "maxLength": 1000},
        "body": TEMPLATED_STRING,
        "comments": _list_or_json(REVIEW_COMMENT, max_items=MAX_REVIEW_COMMENTS),
    },
    writes=True,
)
def create_review(params: dict, context: StepContext) -> dict:
    event = _choice(params, "event", REVIEW_EVENTS, "COMMENT")
    schema = {"type": "array", "items": REVIEW_COMMENT, "maxItems": MAX_REVIEW_COMMENTS}
    comments = [_review_comment(item, index) for index, item in enumerate(_items(params, "comments", schema=schema))]
    installation_id, repository = _repository(params, context)
    result = review_post(
        installation_id=installation_id,
        repo=repository,
        number=_number(params, context),
        event=str(event),
        body=params.get("body") or "",
        comments=comments,
        marker_key=f"{context.run_id}:{context.node_id}",
    )
    return {
        "review_ids": result.review_ids,
        "html_url": result.html_url,
        "inline_comments": result.inline_comments,
        "moved_comments": result.moved_comments,
        "omitted_comments": result.omitted_comments,
        "reviews_created": result.reviews_created,
    }


CHECK_STATUSES = ("queued", "in_progress", "completed")
CHECK_CONCLUSIONS = ("success", "failure", "neutral", "cancelled", "skipped", "timed_out")
TITLE_MAX_CHARS = 255


def _head_sha(params: dict, context: StepContext) -> str:
    """The commit to check: given, or the triggering pull request's head, pushed commit or
    check suite's head."""
    payload = context.payload
    sha = (
        params.get("head_sha")
        or ((payload.get("pull_request") or {}).get("head") or {}).get("sha")
        or payload.get("after")
        or (payload.get("check_suite") or {}).get("head_sha")
        or (payload.get("check_run") or {}).get("head_sha")
    )
    if not sha:
        raise StepFailed("No commit to check: give `head_sha` or trigger on a pull request, push or check suite.")
    return _sha(sha)


def _check_output(params: dict, *, name: str, annotations: int, omitted: int) -> dict | None:
    """GitHub's `output`, its texts within GitHub's caps; annotations need a title and summary,
    so they get defaults when none are given."""
    given = params.get("output") or {}
    if not given and not annotations:
        return None
    summary = given.get("summary") or (f"{annotations} annotations." if annotations else name)
    if omitted:
        summary += f"\n\n{omitted} more annotations were not sent: a check run step sends at most {MAX_ANNOTATIONS}."
    output = {"title": (given.get("title") or name)[:TITLE_MAX_CHARS], "summary": output_text_clip(summary)}
    if given.get("text"):
        output["text"] = output_text_clip(given["text"])
    return output


def _annotation(item: dict, index: int) -> dict:
    if item["end_line"] < item["start_line"]:
        raise StepFailed(f"`annotations[{index}]`: end_line {item['end_line']} is before start_line.")
    return {**item, "path": _path(item["path"], name=f"annotations[{index}].path")}


def _cancel_check_run(output: dict, context: StepContext) -> None:
    """When the run is cancelled: complete as cancelled the check run this step left open."""
    if output.get("dry_run") or output.get("status") == "completed" or not output.get("check_run_id"):
        return
    with _github_failures():
        installation_id, repository = _repository({"repository": output["repository"]}, context)
        check_run_cancel(installation_id=installation_id, repo=repository, check_run_id=output["check_run_id"])


@github_node(
    "github.create_check_run",
    permissions={"checks": "write"},
    properties={
        "repository": TEMPLATED_STRING,
        "head_sha": TEMPLATED_STRING,
        "name": {"type": "string", "minLength": 1, "maxLength": 1000},
        "status": {"type": "string", "maxLength": 1000},
        "conclusion": {"type": "string", "maxLength": 1000},
        "output": {
            "type": "object",
            "properties": {"title": TEMPLATED_STRING, "summary": TEMPLATED_STRING, "text": TEMPLATED_STRING},
            "additionalProperties": False,
        },
        "annotations": _list_or_json(ANNOTATION, max_items=MAX_ANNOTATIONS_GIVEN),
    },
    required=("name",),
    writes=True,
    on_cancel=_cancel_check_run,
)
def create_check_run(params: dict, context: StepContext) -> dict:
    name = params["name"].strip()
    if not name or len(name) > TITLE_MAX_CHARS:
        raise StepFailed(f"`name` must be between 1 and {TITLE_MAX_CHARS} characters.")
    conclusion = _choice(params, "conclusion", CHECK_CONCLUSIONS, None)
    status = _choice(params, "status", CHECK_STATUSES, "completed" if conclusion else "in_progress")
    if (status == "completed") != (conclusion is not None):
        raise StepFailed("`conclusion` is given exactly when `status` is completed.")
    schema = {"type": "array", "items": ANNOTATION, "maxItems": MAX_ANNOTATIONS_GIVEN}
    annotations = [_annotation(item, index) for index, item in enumerate(_items(params, "annotations", schema=schema))]
    sent = annotations[:MAX_ANNOTATIONS]
    output = _check_output(params, name=name, annotations=len(sent), omitted=len(annotations) - len(sent))
    fields: dict = {"status": status}
    if conclusion:
        fields["conclusion"] = conclusion
    if output is not None:
        fields["output"] = output
    head_sha = _head_sha(params, context)
    installation_id, repository = _repository(params, context)
    result = check_run_upsert(
        installation_id=installation_id,
        repo=repository,
        head_sha=head_sha,
        name=name,
        external_id=f"run:{context.run_id}:{name}",
        fields=fields,
        annotations=sent,
    )
    return {
        "check_run_id": result.id,
        "html_url": result.html_url,
        "status": result.status,
        "conclusion": result.conclusion,
        "annotations_sent": result.annotations_sent,
        "created": result.created,
        "repository": repository,
        "head_sha": head_sha,
    }
