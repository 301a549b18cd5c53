from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from workflows.definitions import definition_validate
from workflows.models import Workflow, WorkflowVersion


def _version_add(workflow: Workflow, definition: dict) -> WorkflowVersion:
    number = (workflow.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = WorkflowVersion.objects.create(workflow=workflow, number=number, definition=definition)
    workflow.current_version = version
    workflow.save(update_fields=["current_version", "updated_at"])
    return version


@transaction.atomic
def workflow_create(*, owner: AbstractBaseUser, name: str, definition: dict, is_active: bool = True) -> Workflow:
    definition_validate(definition)
    workflow = Workflow.objects.create(owner=owner, name=name, is_active=is_active)
    _version_add(workflow, definition)
    return workflow


@transaction.atomic
def workflow_update(
    *, workflow: Workflow, name: str | None = None, definition: dict | None = None, is_active: bool | None = None
) -> Workflow:
    """Change a workflow; a changed definition becomes a new version, and runs keep theirs."""
    if definition is not None and definition != workflow.current_version.definition:
        definition_validate(definition)
        _version_add(workflow, definition)
    if name is not None:
        workflow.name = name
    if is_active is not None:
        workflow.is_active = is_active
    workflow.save(update_fields=["name", "is_active", "updated_at"])
    return workflow
