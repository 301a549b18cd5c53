"""GitHub nodes. Repository and number default to the triggering event's."""

from github_app.models import REPOSITORY_FULL_NAME
from github_app.repository_context import (
    ConditionalReads,
    comment_upsert,
    commit_context,
    file_content,
    labels_add,
    pull_request_context,
)
from workflows.nodes.base import NUMBER_OR_TEMPLATE, TEMPLATED_STRING, StepContext, StepFailed, node_type



def _repository(params: dict, context: StepContext) -> str:
    repository = params.get("repository") or context.trigger.get("repository") or ""
    if not REPOSITORY_FULL_NAME.match(repository):
        raise StepFailed(f"No repository to work on: {repository!r} is not owner/name.")
    return repository


def _number(params: dict, context: StepContext) -> int:
    payload = context.payload
    subject = payload.get("pull_request") or payload.get("issue") or {}
    value = params.get("number") or subject.get("number") or payload.get("number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StepFailed(f"No pull request or issue number: {value!r} is not a number.") from None


def _reads(context: StepContext) -> ConditionalReads:
    return ConditionalReads(f"run:{context.run_id}")


@node_type("github.get_pull_request", properties={"repository": TEMPLATED_STRING, "number": NUMBER_OR_TEMPLATE})
def get_pull_request(params: dict, context: StepContext) -> dict:
    data = pull_request_context(
        installation_id=context.installation_id, repo=_repository(params, context), number=_number(params, context),
        reads=_reads(context),
    )
    return {
        "pr": data["pull_request"],
        "diff": data["diff"],
        "diff_truncated": data["diff_truncated"],
        "files": data["files"],
        "comments": data["issue_comments"],
        "review_comments": data["review_comments"],
        "repository": data["repository"],
    }


@node_type("github.get_commit", properties={"repository": TEMPLATED_STRING, "sha": TEMPLATED_STRING})
def get_commit(params: dict, context: StepContext) -> dict:
    payload = context.payload
    sha = params.get("sha") or payload.get("after") or (payload.get("head_commit") or {}).get("id") or payload.get("sha")
    if not sha:
        raise StepFailed("No commit: give `sha` or trigger on an event that has one.")
    return commit_context(installation_id=context.installation_id, repo=_repository(params, context), sha=sha, reads=_reads(context))


@node_type(
    "github.get_file",
    properties={"repository": TEMPLATED_STRING, "path": TEMPLATED_STRING, "ref": TEMPLATED_STRING},
    required=("path",),
)
def get_file(params: dict, context: StepContext) -> dict:
    return file_content(
        installation_id=context.installation_id, repo=_repository(params, context), path=params["path"],
        ref=params.get("ref") or None, reads=_reads(context),
    )


@node_type(
    "github.create_comment",
    properties={"repository": TEMPLATED_STRING, "number": NUMBER_OR_TEMPLATE, "body": TEMPLATED_STRING},
    required=("body",),
    writes=True,
)
def create_comment(params: dict, context: StepContext) -> dict:
    result = comment_upsert(
        installation_id=context.installation_id, repo=_repository(params, context), number=_number(params, context),
        body=params["body"], marker_key=f"{context.run_id}:{context.node_id}",
    )
    return {"id": result.id, "html_url": result.html_url, "created": result.created}


@node_type(
    "github.add_labels",
    properties={
        "repository": TEMPLATED_STRING,
        "number": NUMBER_OR_TEMPLATE,
        "labels": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100}, "minItems": 1, "maxItems": 100},
    },
    required=("labels",),
    writes=True,
)
def add_labels(params: dict, context: StepContext) -> dict:
    labels = labels_add(
        installation_id=context.installation_id, repo=_repository(params, context), number=_number(params, context),
        labels=params["labels"],
    )
    return {"labels": labels}
