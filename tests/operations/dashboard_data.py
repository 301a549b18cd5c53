"""Rows the dashboard reads, made directly: deliveries, runs, steps and installations at chosen
times."""

import itertools
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model

from github_app.models import Installation, WebhookDelivery
from workflows.models import StepRun, Workflow, WorkflowRun
from workflows.services import workflow_create

_numbers = itertools.count(1)


def deliveries_add(count: int, *, at: datetime, event: str = "push", status: str = "processed", **fields) -> None:
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(delivery_id=f"delivery-{next(_numbers)}", event=event, status=status, received_at=at, **fields)
        for _ in range(count)
    )


def workflow_add(name: str = "AI review") -> Workflow:
    owner, _ = get_user_model().objects.get_or_create(username="workflow-owner")
    definition = {"nodes": [{"id": "review", "type": "ai.prompt", "params": {"prompt": "Review"}}], "edges": []}
    return workflow_create(owner=owner, name=name, definition=definition)


def run_add(workflow: Workflow, *, finished_at: datetime, seconds: float, conclusion: str = "success", **fields):
    return WorkflowRun.objects.create(
        workflow=workflow,
        version=workflow.versions.get(),
        owner=workflow.owner,
        trigger={"event": "push"},
        status="completed",
        conclusion=conclusion,
        started_at=finished_at - timedelta(seconds=seconds),
        finished_at=finished_at,
        **fields,
    )


def prompt_step_add(run: WorkflowRun, *, finished_at: datetime, model: str | None, usage: dict | None) -> StepRun:
    output: dict = {"text": "Looks good."}
    if model is not None:
        output["model"] = model
    if usage is not None:
        output["usage"] = usage
    return StepRun.objects.create(
        run=run,
        node_id=f"review-{next(_numbers)}",
        node_type="ai.prompt",
        position=0,
        status="completed",
        conclusion="success",
        output=output,
        finished_at=finished_at,
    )


def installation_add(*, created_at: datetime, suspended_at=None, deleted_at=None, login: str = "octo") -> Installation:
    number = next(_numbers)
    installation = Installation.objects.create(
        installation_id=number,
        account_id=number,
        account_login=login,
        account_type="Organization",
        repository_selection="all",
        suspended_at=suspended_at,
        deleted_at=deleted_at,
    )
    Installation.objects.filter(pk=installation.pk).update(created_at=created_at)  # auto_now_add ignores a value
    return installation
