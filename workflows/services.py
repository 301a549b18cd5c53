from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from aiworkflow.errors import ApplicationError
from github_app.install.selectors import repository_access_find, user_installation_ids
from github_app.models import WebhookDelivery
from github_app.webhooks.payloads import payload_value
from github_app.webhooks.selectors import delivery_payload_kept
from workflows.definitions import definition_validate
from workflows.models import Workflow, WorkflowRun, WorkflowVersion
from workflows.relay import run_enqueue, run_stale_after


class InstallationNotYours(ApplicationError):
    status_code = 403
    default_message = "The payload names an installation of the GitHub App you are not connected to."


class RunPayloadPurged(ApplicationError):
    status_code = 409
    default_message = "The event of this run has been purged by retention; it cannot be run again."


class RunAlreadyStarted(Exception):
    """The workflow already has a run for this delivery: a redelivered event runs it once."""


class RepositoryNotYours(ApplicationError):
    status_code = 403
    default_message = "The payload names a repository you have not connected through that installation."


def _version_add(workflow: Workflow, definition: dict) -> WorkflowVersion:
    number = (workflow.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = WorkflowVersion.objects.create(workflow=workflow, number=number, definition=definition)
    workflow.current_version = version
    workflow.save(update_fields=["current_version", "updated_at"])
    return version


@transaction.atomic
def workflow_create(*, owner: User, name: str, definition: dict, is_active: bool = True) -> Workflow:
    definition_validate(definition)
    workflow = Workflow.objects.create(owner=owner, name=name, is_active=is_active)
    _version_add(workflow, definition)
    return workflow


@transaction.atomic
def workflow_update(
    *,
    workflow: Workflow,
    name: str | None = None,
    definition: dict | None = None,
    is_active: bool | None = None,
) -> Workflow:
    """Change a workflow; a changed definition becomes a new version, and runs keep theirs."""
    current = workflow.current_version
    if definition is not None and (current is None or definition != current.definition):
        definition_validate(definition)
        _version_add(workflow, definition)
    if name is not None:
        workflow.name = name
    if is_active is not None:
        workflow.is_active = is_active
    workflow.save(update_fields=["name", "is_active", "updated_at"])
    return workflow


def workflow_delete(*, workflow: Workflow) -> None:
    """Soft delete: the workflow stops running and disappears, its runs stay."""
    workflow.is_active = False
    workflow.deleted_at = timezone.now()
    workflow.save(update_fields=["is_active", "deleted_at", "updated_at"])


def run_start(
    *,
    workflow: Workflow,
    trigger: dict,
    delivery: WebhookDelivery | None = None,
    payload_delivery: WebhookDelivery | None = None,
    dry_run: bool = False,
    rerun_of: WorkflowRun | None = None,
    version: WorkflowVersion | None = None,
) -> WorkflowRun:
    """Create a run of a version (the workflow's current one by default) and enqueue it after
    commit; RunAlreadyStarted when the workflow already ran for this delivery. The run's tenant (owner,
    installation, repository) is fixed here, from the event, and nothing later changes it.

    The trigger's payload is not copied when a delivery holds it (the run's own `delivery`, or
    `payload_delivery` for a rerun): N runs of one 25 MiB delivery keep one copy. The run is due
    for the relay from the start, should its message never be sent or never be run."""
    payload = trigger.get("payload")
    payload_delivery = payload_delivery or delivery
    version = version or workflow.current_version
    assert version is not None, "workflow_create gives every workflow its first version"
    try:
        with transaction.atomic():
            run = WorkflowRun.objects.create(
                workflow=workflow,
                version=version,
                delivery=delivery,
                trigger={key: value for key, value in trigger.items() if key != "payload"},
                payload_delivery=payload_delivery,
                payload=None if payload_delivery else payload,
                dry_run=dry_run,
                rerun_of=rerun_of,
                owner_id=workflow.owner_id,
                installation_id=trigger.get("installation_id"),
                repository=trigger.get("repository") or "",
                stale_after=run_stale_after(),
            )
    except IntegrityError:
        raise RunAlreadyStarted() from None
    transaction.on_commit(lambda: run_enqueue(run_id=str(run.pk)))
    return run


def run_trigger_build(*, event: str, payload: dict, delivery_id: str | None = None) -> dict:
    """The `trigger` a run's templates see, from a GitHub event."""
    return {
        "event": event,
        "action": payload.get("action", ""),
        "delivery_id": delivery_id,
        "installation_id": payload_value(payload, "installation", "id"),
        "repository": payload_value(payload, "repository", "full_name"),
        "sender": payload_value(payload, "sender", "login"),
        "payload": payload,
    }


def workflow_test(*, workflow: Workflow, user: User, event: str, payload: dict, dry_run: bool) -> WorkflowRun:
    """Run the workflow on a sample event. Its installation must be one of the user's, and its
    repository one they reach there: a test run reads, and unless dry, writes, with that
    installation's token, and the run stays within what the sample names."""
    trigger = run_trigger_build(event=event, payload=payload)
    installation_id, repository = trigger["installation_id"], trigger["repository"]
    if installation_id is not None and (
        type(installation_id) is not int or installation_id not in user_installation_ids(user)
    ):
        raise InstallationNotYours(detail={"installation_id": installation_id})
    if repository is not None and (
        installation_id is None
        or not isinstance(repository, str)
        or repository_access_find(user_id=user.pk, installation_id=installation_id, repository=repository) is None
    ):
        raise RepositoryNotYours(detail={"repository": repository})
    return run_start(workflow=workflow, trigger=trigger, dry_run=dry_run)


def run_rerun(*, run: WorkflowRun) -> WorkflowRun:
    """Run the same version on the same event again, as a new run in the same tenant; its
    steps check the owner's access again when they execute. It reads the same stored payload;
    once retention has purged that, the event can no longer be run again."""
    trigger = {**run.trigger, "installation_id": run.installation_id, "repository": run.repository or None}
    if run.payload is not None:
        trigger["payload"] = run.payload
    elif run.payload_delivery_id is None or not delivery_payload_kept(delivery_pk=run.payload_delivery_id):
        raise RunPayloadPurged()
    return run_start(
        workflow=run.workflow,
        version=run.version,
        trigger=trigger,
        payload_delivery=run.payload_delivery,
        dry_run=run.dry_run,
        rerun_of=run,
    )


def run_payloads_purge() -> int:
    """Empty the payloads runs keep of their own (test runs) once older than
    WEBHOOK_PAYLOAD_RETENTION_DAYS, as deliveries' are; returns how many."""
    horizon = timezone.now() - timedelta(days=settings.WEBHOOK_PAYLOAD_RETENTION_DAYS)
    return WorkflowRun.objects.filter(created_at__lt=horizon, payload__isnull=False).update(
        payload=None, payload_purged_at=timezone.now()
    )
