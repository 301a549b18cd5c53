"""The dispatcher: which workflows a processed delivery starts (it receives the GitHub App's
`workflow_event` signal).

Candidates come from the trigger index by (repository, event), restricted to the owners who
reach the repository through the delivery's installation (their own GitHub token sees it), and
only if that installation (not suspended or deleted) covers the repository: nobody receives
events of a repository they cannot see.
Filters then run on the candidates only: first without the changed files, so that GitHub is
asked for them only when a trigger with path filters still matches, and before any run starts.

Path filters pass without the changed files only when GitHub cannot produce the diff, as in
Actions:
- 406: the diff is too large;
- 422: computing it takes too long ("not_available");
- 404 "No common ancestor": compare's answer for unrelated histories (a force push).
Any other failure to read them (a 5xx, a rate limit, a timeout, any other 404: GitHub answers one
for a moment after a push, and for a repository the App no longer reaches) fails the delivery's
attempt, which the relay retries with backoff; no run starts for want of an answer.

A trigger with a comment `command` starts a run only when the commenter's role in the repository
reaches its `command_permission`, which GitHub tells (asked once per delivery, only when such a
trigger matches, before any run starts). Under the same policy: a commenter who is no
collaborator (404) has no role, and any other failure to answer fails the attempt, to be retried:
a command is never dropped for want of an answer.
"""

import logging

from github import GithubException

from aiworkflow import metrics
from github_app.api.collaborators import collaborator_permission
from github_app.api.reads import changed_paths, compare_changed_files, pull_request_files
from github_app.install.selectors import installation_covers, repository_owner_ids
from github_app.models import WebhookDelivery
from github_app.webhooks.payloads import payload_value
from triggers.filters import (
    PULL_REQUEST_EVENTS,
    REPOSITORY_ROLES,
    command_invocation,
    command_permission,
    payload_changed_files,
    role_suffices,
    trigger_evaluate,
)
from triggers.models import Trigger
from workflows.models import Workflow
from workflows.services import RunAlreadyStarted, run_start, run_trigger_build

logger = logging.getLogger(__name__)
NO_COMMIT = "0" * 40
DIFF_UNAVAILABLE_STATUSES = (406, 422)


def trigger_candidates(
    *, installation_id: int | None, repository_id: int | None, repository: str, event: str
) -> list[Trigger]:
    if not installation_id or not repository:
        return []
    if not installation_covers(installation_id=installation_id, repository=repository):
        return []
    owners = repository_owner_ids(installation_id=installation_id, repository_id=repository_id, repository=repository)
    return list(
        Trigger.objects.filter(
            index_rows__repository=repository.lower(),
            index_rows__event=event,
            index_rows__owner_id__in=owners,
            is_active=True,
            workflow__is_active=True,
            workflow__deleted_at__isnull=True,
        ).select_related("workflow__current_version")
    )


def _diff_unavailable(error: GithubException) -> bool:
    """Whether GitHub answered that it cannot produce this diff, rather than failing for now."""
    message = error.data.get("message") if isinstance(error.data, dict) else None
    unrelated_histories = error.status == 404 and "no common ancestor" in str(message).lower()
    return error.status in DIFF_UNAVAILABLE_STATUSES or unrelated_histories


def _changed_files_from_api(event: str, payload: dict, installation_id: int, repository: str) -> list[str] | None:
    if event == "push" and payload.get("before") and payload.get("before") != NO_COMMIT and payload.get("after"):
        return compare_changed_files(
            installation_id=installation_id, repo=repository, base=payload["before"], head=payload["after"]
        )
    if event in PULL_REQUEST_EVENTS and payload.get("pull_request"):
        files = pull_request_files(
            installation_id=installation_id, repo=repository, number=payload["pull_request"]["number"]
        )
        return changed_paths(files)
    return None


def _changed_files(event: str, payload: dict, installation_id: int, repository: str) -> list[str] | None:
    """The changed files, from the payload or else from the API; None when nothing can tell
    (path filters then pass). Failing to read them for now raises (see above)."""
    known = payload_changed_files(event, payload)
    if known is not None:
        return known
    try:
        return _changed_files_from_api(event, payload, installation_id, repository)
    except GithubException as exc:
        if not _diff_unavailable(exc):
            raise
        logger.info(
            "GitHub cannot produce the diff; path filters pass",
            extra={"repository": repository, "github_status": exc.status},
        )
        return None


def _has_path_filters(trigger: Trigger) -> bool:
    return "paths" in trigger.config or "paths_ignore" in trigger.config


def _matching(candidates: list[Trigger], event: str, payload: dict, changed_files: list[str] | None) -> list[Trigger]:
    return [
        candidate
        for candidate in candidates
        if trigger_evaluate(candidate.config, event, payload, changed_files).matched
    ]


def delivery_dispatch(delivery: WebhookDelivery, payload: dict) -> int:
    """Start a run of every workflow one of whose triggers matches; returns how many started."""
    installation_id = delivery.installation_id
    if installation_id is None:  # an account-wide event: no repository, so no trigger
        return 0
    candidates = trigger_candidates(
        installation_id=installation_id,
        repository_id=delivery.repository_id,
        repository=delivery.repository_full_name,
        event=delivery.event,
    )
    matching = _matching(candidates, delivery.event, payload, None)
    if any(_has_path_filters(trigger) for trigger in matching):
        changed = _changed_files(delivery.event, payload, installation_id, delivery.repository_full_name)
        matching = _matching(matching, delivery.event, payload, changed)
    if any("command" in candidate.config for candidate in matching):
        matching = _commands_permitted(matching, payload, installation_id, delivery.repository_full_name)
    if not matching:
        return 0
    trigger = run_trigger_build(event=delivery.event, payload=payload, delivery_id=delivery.delivery_id)
    return sum(_run_started(candidate.workflow, _run_trigger(trigger, candidate), delivery) for candidate in matching)


def _commenter_role(payload: dict, installation_id: int, repository: str) -> str | None:
    """The sender's repository role: its role name when one of GitHub's five (a custom role
    falls back to the base permission it grants), None when it has no access."""
    login = payload_value(payload, "sender", "login")
    if not isinstance(login, str) or not login:
        return None
    answer = collaborator_permission(installation_id=installation_id, repo=repository, username=login)
    if answer is None:
        return None
    role_name, permission = answer["role_name"], answer["permission"]
    return role_name if role_name in REPOSITORY_ROLES else permission if permission in REPOSITORY_ROLES else None


def _commands_permitted(matching: list[Trigger], payload: dict, installation_id: int, repository: str) -> list[Trigger]:
    role = _commenter_role(payload, installation_id, repository)
    permitted = [
        candidate
        for candidate in matching
        if "command" not in candidate.config or role_suffices(role, command_permission(candidate.config))
    ]
    if len(permitted) < len(matching):
        logger.info(
            "comment command refused: the commenter's role is short of the trigger's command_permission",
            extra={"repository": repository, "role": role or "none"},
        )
    return permitted


def _run_trigger(trigger: dict, candidate: Trigger) -> dict:
    """The delivery's trigger, with the command this candidate's config gave, if any: workflows
    with different commands each see their own."""
    command = command_invocation(candidate.config, trigger["payload"])
    return {**trigger, "command": command} if command else trigger


def _run_started(workflow: Workflow, trigger: dict, delivery: WebhookDelivery) -> bool:
    try:
        run_start(workflow=workflow, trigger=trigger, delivery=delivery)
    except RunAlreadyStarted:  # a redelivery, or a retried attempt that had started it
        return False
    metrics.TRIGGERS_EXECUTED.inc()
    return True


def workflow_event_dispatch(sender, *, delivery: WebhookDelivery, payload: dict, **kwargs) -> int:
    """The receiver of the GitHub App's `workflow_event` signal."""
    return delivery_dispatch(delivery, payload)
