import copy
import functools
import json
import uuid
from pathlib import Path

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404

from aiworkflow.errors import ApplicationError
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


class WorkflowTemplateUnknown(ApplicationError):
    status_code = 400
    default_message = "No such workflow template."


# Shipped workflow templates: one JSON file each, read once per process. A requested name is
# looked up among these files' own names, never joined into a path.
WORKFLOW_TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


@functools.cache
def _workflow_templates() -> dict[str, dict]:
    templates = (json.loads(path.read_text()) for path in sorted(WORKFLOW_TEMPLATES_DIR.glob("*.json")))
    return {template["name"]: template for template in templates}


def workflow_template_list() -> list[dict]:
    """Every shipped template (`name`, `version`, `title`, `description`, `definition`, and
    `triggers` without their `repository`), in name order; copies, for callers to change freely."""
    return copy.deepcopy(list(_workflow_templates().values()))


def workflow_template_get(*, name: str) -> dict:
    try:
        return copy.deepcopy(_workflow_templates()[name])
    except KeyError:
        raise WorkflowTemplateUnknown(
            f"There is no workflow template {name[:100]!r}.", detail={"template": name[:100]}
        ) from None
