import uuid

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404

from github_app.webhooks.selectors import delivery_payload
from workflows.models import Workflow, WorkflowRun


def workflow_list(*, user: User) -> QuerySet[Workflow]:
    return Workflow.objects.filter(owner=user, deleted_at__isnull=True).select_related("current_version")


def workflow_get(*, user: User, workflow_id: uuid.UUID) -> Workflow:
    """The user's own workflow; any other id is answered as if it did not exist."""
    try:
        return workflow_list(user=user).get(pk=workflow_id)
    except Workflow.DoesNotExist:
        raise Http404 from None


def run_list(*, workflow: Workflow) -> QuerySet[WorkflowRun]:
    return workflow.runs.select_related("version")


def run_get(*, user: User, run_id: uuid.UUID) -> WorkflowRun:
    try:
        return (
            WorkflowRun.objects.select_related("workflow", "version")
            .prefetch_related("steps")
            .get(pk=run_id, workflow__owner=user)
        )
    except WorkflowRun.DoesNotExist:
        raise Http404 from None


def run_workflow_id(*, run_id: str) -> str:
    """The id of the workflow a run belongs to, for what a node keeps across the workflow's runs."""
    return str(WorkflowRun.objects.values_list("workflow_id", flat=True).get(pk=run_id))


def run_payload(*, run: WorkflowRun) -> dict:
    """The triggering event's payload: the run's own copy, else its delivery's stored one; empty
    once retention has purged it."""
    if run.payload is not None:
        return run.payload
    if run.payload_delivery_id is None:
        return {}
    return delivery_payload(delivery_pk=run.payload_delivery_id) or {}
