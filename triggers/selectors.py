"""Reads of triggers, and the answer to "why did (or didn't) this delivery start my workflow?":
each trigger's decision on a stored delivery, with reasons.

The decisions are the dispatcher's, recomputed from what is stored now: the candidates it would
consider and the filters it would apply. GitHub is not asked, so a path filter whose changed
files the payload does not list is reported as depending on them."""

from dataclasses import dataclass

from github_app.install.selectors import installation_covers, repository_owner_ids
from github_app.models import WebhookDelivery
from github_app.webhooks.selectors import delivery_payload, delivery_payload_kept
from triggers.dispatch import trigger_candidates
from triggers.filters import payload_changed_files, trigger_evaluate
from triggers.models import Trigger
from workflows.models import Workflow, WorkflowRun

PATH_FILTERS = ("paths", "paths_ignore")
OTHER_TRIGGERS_SHOWN = 200
MATCHED, NOT_MATCHED, DEPENDS_ON_FILES, UNKNOWN = "yes", "no", "depends on the changed files", "unknown"


@dataclass(frozen=True)
class Decision:
    trigger: Trigger
    matched: str
    reasons: list[str]
    run: WorkflowRun | None = None


def _evaluated(config: dict, event: str, payload: dict, changed_files: list[str] | None) -> tuple[str, list[str]]:
    """The trigger's verdict and reasons; path filters the payload cannot decide are left to the
    files the dispatcher reads from GitHub."""
    if changed_files is not None or not any(key in config for key in PATH_FILTERS):
        evaluation = trigger_evaluate(config, event, payload, changed_files)
        return (MATCHED if evaluation.matched else NOT_MATCHED), evaluation.reasons
    without_paths = {key: value for key, value in config.items() if key not in PATH_FILTERS}
    evaluation = trigger_evaluate(without_paths, event, payload, None)
    if not evaluation.matched:
        return NOT_MATCHED, evaluation.reasons
    files_note = (
        "paths: the payload does not list the changed files; the dispatcher asks GitHub for them "
        "(path filters pass when GitHub cannot tell), and this page does not"
    )
    return DEPENDS_ON_FILES, [*evaluation.reasons, files_note]


def _candidate_decisions(delivery: WebhookDelivery, candidates: list[Trigger]) -> list[Decision]:
    runs = {run.workflow_id: run for run in WorkflowRun.objects.filter(delivery=delivery).defer("payload")}
    payload = delivery_payload(delivery_pk=delivery.pk) if delivery_payload_kept(delivery_pk=delivery.pk) else None
    if payload is None:
        purged = ["the payload has been purged by retention: the filters cannot be applied again"]
        return [Decision(trigger, UNKNOWN, purged, runs.get(trigger.workflow_id)) for trigger in candidates]
    changed_files = payload_changed_files(delivery.event, payload)
    decisions = []
    for trigger in candidates:
        matched, reasons = _evaluated(trigger.config, delivery.event, payload, changed_files)
        decisions.append(Decision(trigger, matched, reasons, runs.get(trigger.workflow_id)))
    return decisions


def _not_a_candidate_because(trigger: Trigger, delivery: WebhookDelivery, *, covered: bool, owners: set[int]) -> str:
    workflow, repository, installation_id = trigger.workflow, delivery.repository_full_name, delivery.installation_id
    events = trigger.config.get("events") or []
    if not trigger.is_active:
        return "the trigger is switched off"
    if workflow.deleted_at is not None:
        return "its workflow is deleted"
    if not workflow.is_active:
        return "its workflow is switched off"
    if delivery.event not in events:
        return f'it listens to {", ".join(events)}, not to "{delivery.event}"'
    if installation_id is None:
        return "the delivery names no installation: an account-wide event starts no workflow"
    if not covered:
        return (
            f"installation {installation_id} does not cover {repository}: "
            "it is uninstalled or suspended, or the repository is not selected"
        )
    if workflow.owner_id not in owners:
        return (
            f'the workflow\'s owner "{workflow.owner}" does not reach {repository} through installation '
            f"{installation_id}: their own GitHub token does not see it, or their connection is revoked"
        )
    return "the trigger index has no row for this repository and event"


def _reach(delivery: WebhookDelivery) -> tuple[bool, set[int]]:
    """Whether the delivery's installation covers its repository, and which users reach it there."""
    installation_id, repository = delivery.installation_id, delivery.repository_full_name
    if installation_id is None:
        return False, set()
    grants = repository_owner_ids(
        installation_id=installation_id, repository_id=delivery.repository_id, repository=repository
    )
    covered = installation_covers(installation_id=installation_id, repository=repository)
    return covered, {grant["connection__user_id"] for grant in grants}


def _other_decisions(delivery: WebhookDelivery, candidates: list[Trigger]) -> list[Decision]:
    """Every other trigger on the delivery's repository, with why the dispatcher left it out."""
    others = (
        Trigger.objects.filter(index_rows__repository=delivery.repository_full_name.lower())
        .exclude(pk__in=[candidate.pk for candidate in candidates])
        .select_related("workflow__owner")
        .distinct()[:OTHER_TRIGGERS_SHOWN]
    )
    covered, owners = _reach(delivery)
    return [
        Decision(trigger, NOT_MATCHED, [_not_a_candidate_because(trigger, delivery, covered=covered, owners=owners)])
        for trigger in others
    ]


def delivery_trigger_decisions(*, delivery: WebhookDelivery) -> tuple[list[Decision], list[Decision]]:
    """The decisions of the delivery's candidate triggers, and of the other triggers on its repository."""
    if not delivery.repository_full_name:
        return [], []
    candidates = trigger_candidates(
        installation_id=delivery.installation_id,
        repository_id=delivery.repository_id,
        repository=delivery.repository_full_name,
        event=delivery.event,
    )
    return _candidate_decisions(delivery, candidates), _other_decisions(delivery, candidates)


def trigger_configs(*, workflow: Workflow) -> list[dict]:
    return [{"config": trigger.config, "is_active": trigger.is_active} for trigger in workflow.triggers.all()]
