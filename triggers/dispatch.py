"""The dispatcher: which workflows a processed delivery starts (GITHUB_WEBHOOK_DISPATCHER).

Candidates come from the trigger index by (repository, event), restricted to the owners who
reach the repository through the delivery's installation (their own GitHub token sees it), and
only if that installation (not suspended or deleted) covers the repository: nobody receives
events of a repository they cannot see.
Filters then run on the candidates only.
"""

import logging

from github_app.models import Installation, WebhookDelivery
from github_app.repository_context import compare_changed_files, pull_request_files
from github_app.selectors import repository_owner_ids
from triggers.filters import PULL_REQUEST_EVENTS, payload_changed_files, trigger_evaluate
from triggers.models import Trigger
from workflows.engine import run_start
from workflows.services import run_trigger_build

logger = logging.getLogger(__name__)
NO_COMMIT = "0" * 40


def trigger_candidates(*, installation_id: int | None, repository_id: int | None, repository: str, event: str) -> list[Trigger]:
    if not installation_id or not repository:
        return []
    covered = Installation.objects.filter(
        installation_id=installation_id, deleted_at__isnull=True, suspended_at__isnull=True,
        repositories__full_name__iexact=repository,
    ).exists()
    if not covered:
        return []
    owners = repository_owner_ids(installation_id=installation_id, repository_id=repository_id, repository=repository)
    return list(
        Trigger.objects.filter(
            index_rows__repository=repository.lower(), index_rows__event=event, index_rows__owner_id__in=owners,
            is_active=True, workflow__is_active=True, workflow__deleted_at__isnull=True,
        ).select_related("workflow__current_version")
    )


def _changed_files(event: str, payload: dict, installation_id: int, repository: str) -> list[str] | None:
    """The changed files, from the payload or, when it cannot tell, from the API; None when
    the API cannot say either (path filters then pass, as in Actions)."""
    known = payload_changed_files(event, payload)
    if known is not None:
        return known
    try:
        if event == "push" and payload.get("before") and payload.get("before") != NO_COMMIT and payload.get("after"):
            return compare_changed_files(installation_id=installation_id, repo=repository, base=payload["before"], head=payload["after"])
        if event in PULL_REQUEST_EVENTS and payload.get("pull_request"):
            files = pull_request_files(installation_id=installation_id, repo=repository, number=payload["pull_request"]["number"])
            return [name for item in files for name in (item.get("previous_filename"), item["filename"]) if name]
    except Exception:  # the diff is unavailable: path filters pass, as in Actions
        logger.warning("changed files unavailable", exc_info=True, extra={"repository": repository})
    return None


def delivery_dispatch(delivery: WebhookDelivery, payload: dict) -> int:
    """Start a run of every workflow one of whose triggers matches; returns how many started."""
    candidates = trigger_candidates(
        installation_id=delivery.installation_id, repository_id=delivery.repository_id,
        repository=delivery.repository_full_name, event=delivery.event,
    )
    if not candidates:
        return 0
    needs_files = any("paths" in trigger.config or "paths_ignore" in trigger.config for trigger in candidates)
    changed = _changed_files(delivery.event, payload, delivery.installation_id, delivery.repository_full_name) if needs_files else None
    trigger = run_trigger_build(event=delivery.event, payload=payload, delivery_id=delivery.delivery_id)
    started = 0
    for candidate in candidates:
        if trigger_evaluate(candidate.config, delivery.event, payload, changed).matched:
            started += run_start(workflow=candidate.workflow, trigger=trigger, delivery=delivery) is not None
    return started
