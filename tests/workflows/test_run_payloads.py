"""One copy of a payload: runs read their delivery's stored payload instead of copying it, and
the copies that runs do keep (test runs) are purged by retention like deliveries' payloads."""

import importlib
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from github_app.models import WebhookDelivery
from tests.conftest import github_connection, load_fixture
from tests.github_app.webhooks import post_webhook
from triggers.services import workflow_save
from workflows.models import Conclusion, WorkflowRun
from workflows.services import run_payloads_purge, run_rerun

INSTALLATION = 5150
REPO = "Codertocat/Hello-World"
# The condition reads the payload, so a run that lost it fails its template.
READS_PAYLOAD = {
    "nodes": [
        {
            "id": "number",
            "type": "logic.condition",
            "params": {"condition": "{{ trigger.payload.pull_request.number == 2 }}"},
        }
    ],
    "edges": [],
}


@pytest.fixture
def workflows(user):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    trigger = {"repository": REPO, "events": ["pull_request"]}
    return [workflow_save(owner=user, name=f"w{n}", definition=READS_PAYLOAD, triggers=[trigger]) for n in range(3)]


@pytest.fixture
def delivered(client, workflows, django_capture_on_commit_callbacks) -> WebhookDelivery:
    payload = load_fixture("pull_request__opened")
    payload["installation"] = {"id": INSTALLATION}
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(client, json.dumps(payload).encode(), event="pull_request")
    return WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])


def condition_of(run: WorkflowRun):
    output = run.steps.get().output
    assert output is not None, "the step succeeded"
    return output["result"]


def test_runs_of_one_delivery_read_its_payload_and_copy_none(delivered):
    runs = list(WorkflowRun.objects.all())

    assert len(runs) == 3
    for run in runs:
        assert (run.payload, run.payload_delivery_id, run.conclusion) == (None, delivered.pk, Conclusion.SUCCESS)
        assert "payload" not in run.trigger
        assert condition_of(run) is True


def test_a_rerun_reads_the_same_stored_payload(delivered, django_capture_on_commit_callbacks):
    original = WorkflowRun.objects.first()

    with django_capture_on_commit_callbacks(execute=True):
        rerun = run_rerun(run=original)

    rerun.refresh_from_db()
    assert (rerun.payload, rerun.payload_delivery_id, rerun.delivery_id) == (None, delivered.pk, None)
    assert condition_of(rerun) is True


def test_a_rerun_after_retention_purged_the_payload_is_a_409(api, delivered):
    WebhookDelivery.objects.filter(pk=delivered.pk).update(payload=b"", payload_purged_at=timezone.now())
    original = WorkflowRun.objects.first()

    response = api.post(f"/api/v1/app/runs/{original.pk}/rerun")

    assert response.status_code == 409 and "purged" in response.json()["error"]
    assert WorkflowRun.objects.count() == 3


def test_a_test_run_keeps_its_own_payload_until_retention(api, workflows, settings, django_capture_on_commit_callbacks):
    payload = {**load_fixture("pull_request__opened"), "installation": {"id": INSTALLATION}}
    with django_capture_on_commit_callbacks(execute=True):
        run_id = api.post(
            f"/api/v1/app/workflows/{workflows[0].pk}/test",
            {"event": "pull_request", "payload": payload},
            format="json",
        ).json()["id"]
    run = WorkflowRun.objects.get(pk=run_id)
    assert run.payload["pull_request"]["number"] == 2 and condition_of(run) is True

    assert run_payloads_purge() == 0
    WorkflowRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timedelta(days=settings.WEBHOOK_PAYLOAD_RETENTION_DAYS + 1)
    )
    assert run_payloads_purge() == 1

    run.refresh_from_db()
    assert run.payload is None and run.payload_purged_at is not None
    assert api.post(f"/api/v1/app/runs/{run.pk}/rerun").status_code == 409


def test_existing_runs_are_migrated_to_reference_their_delivery(user, workflows):
    delivery = WebhookDelivery.objects.create(delivery_id="old", event="pull_request", payload=b"{}")
    of_delivery = WorkflowRun.objects.create(
        workflow=workflows[0],
        version=workflows[0].current_version,
        owner=user,
        delivery=delivery,
        trigger={"event": "pull_request", "payload": {"big": "x" * 1000}},
    )
    of_test = WorkflowRun.objects.create(
        workflow=workflows[1],
        version=workflows[1].current_version,
        owner=user,
        trigger={"event": "push", "payload": {"ref": "main"}},
    )
    migration = importlib.import_module("workflows.migrations.0003_run_payload_reference")

    migration.runs_reference_their_payload(apps, None)

    of_delivery.refresh_from_db()
    of_test.refresh_from_db()
    assert (of_delivery.trigger, of_delivery.payload, of_delivery.payload_delivery_id) == (
        {"event": "pull_request"},
        None,
        delivery.pk,
    )
    assert (of_test.trigger, of_test.payload, of_test.payload_delivery_id) == ({"event": "push"}, {"ref": "main"}, None)
