"""Tenant attacks that cross into the worker, run by a real Celery worker process over the
configured broker, with GitHub served over HTTP by the GitHub double, which records every request."""

from collections.abc import Iterator

import pytest

from github_app.models import Installation, InstallationRepository
from tests.conftest import github_connection
from tests.github_double import Served, served
from tests.worker import wait_until, worker_process
from tests.workflows.test_tenancy import (
    HIDDEN,
    INSTALLATION,
    REPO,
    VICTIM_INSTALLATION,
    VICTIM_REPO,
    github_tenants,
    sample,
)
from workflows.models import WorkflowRun
from workflows.services import workflow_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
WORKFLOWS = "/api/v1/app/workflows"


@pytest.fixture
def github_server(settings) -> Iterator[Served]:
    with served() as server:
        settings.GITHUB_API_BASE_URL = server.url
        github_tenants(server.github, path="SECRET.md")
        yield server


@pytest.fixture
def tenants(user, other_user):
    connection = github_connection(user, INSTALLATION, repositories={186853002: REPO})
    InstallationRepository.objects.create(
        installation=Installation.objects.get(installation_id=INSTALLATION), repository_id=777, full_name=HIDDEN
    )
    github_connection(other_user, VICTIM_INSTALLATION, repositories={999: VICTIM_REPO})
    return connection


def finished(run_id: str) -> WorkflowRun | None:
    return WorkflowRun.objects.filter(pk=run_id, status="completed").first()


def foreign_requests(github) -> list[str]:
    return [
        request.path
        for request in github.requests()
        if str(VICTIM_INSTALLATION) in request.path or "victimorg" in request.path or HIDDEN in request.path
    ]


def test_a_template_rewriting_the_trigger_reaches_no_other_tenant(api, user, tenants, broker, github_server):
    path = "{{ trigger.update({'installation_id': 222, 'repository': 'victimorg/secret'}) or 'SECRET.md' }}"
    definition = {
        "nodes": [
            {"id": "rewrite", "type": "logic.condition", "params": {"condition": path}},
            {"id": "read", "type": "github.get_file", "params": {"path": "SECRET.md"}},
        ],
        "edges": [],
    }
    workflow = workflow_create(owner=user, name="Rewrite", definition=definition)

    with worker_process(GITHUB_API_BASE_URL=github_server.url) as worker:
        response = api.post(
            f"{WORKFLOWS}/{workflow.pk}/test",
            {"event": "pull_request", "payload": sample(), "dry_run": True},
            format="json",
        )
        assert response.status_code == 202
        assert wait_until(lambda: finished(response.json()["id"])), worker.log

    run = finished(response.json()["id"])
    steps = {step.node_id: step for step in run.steps.all()}
    assert "Template error" in steps["rewrite"].error
    assert (run.installation_id, run.repository, run.trigger["installation_id"]) == (INSTALLATION, REPO, INSTALLATION)
    assert foreign_requests(github_server.github) == []
    assert github_server.github.count("GET", f"/repos/{REPO}/contents/SECRET.md") == 1, (
        "the untouched step read its own tenant"
    )


def test_a_collaborator_cannot_read_the_installations_other_repository(api, user, tenants, broker, github_server):
    definition = {
        "nodes": [{"id": "read", "type": "github.get_file", "params": {"repository": HIDDEN, "path": "SECRET.md"}}],
        "edges": [],
    }
    workflow = workflow_create(owner=user, name="Spy", definition=definition)

    with worker_process(GITHUB_API_BASE_URL=github_server.url) as worker:
        response = api.post(
            f"{WORKFLOWS}/{workflow.pk}/test", {"event": "pull_request", "payload": sample()}, format="json"
        )
        assert wait_until(lambda: finished(response.json()["id"])), worker.log

    run = finished(response.json()["id"])
    assert run.conclusion == "failure" and "is not among the repositories" in run.steps.get().error
    assert github_server.github.requests() == []


def test_a_rerun_after_revoke_writes_nothing(api, user, tenants, broker, github_server):
    definition = {"nodes": [{"id": "read", "type": "github.get_file", "params": {"path": "SECRET.md"}}], "edges": []}
    workflow = workflow_create(owner=user, name="Read", definition=definition)

    with worker_process(GITHUB_API_BASE_URL=github_server.url) as worker:
        first = api.post(
            f"{WORKFLOWS}/{workflow.pk}/test",
            {"event": "pull_request", "payload": sample(), "dry_run": False},
            format="json",
        ).json()
        assert wait_until(lambda: finished(first["id"])), worker.log
        calls_before = github_server.github.count()
        assert api.delete(f"/api/v1/app/integrations/{tenants.pk}").status_code == 200
        rerun = api.post(f"/api/v1/app/runs/{first['id']}/rerun").json()
        assert wait_until(lambda: finished(rerun["id"])), worker.log

    assert finished(first["id"]).conclusion == "success"
    assert finished(rerun["id"]).conclusion == "failure"
    assert "no longer connected" in finished(rerun["id"]).steps.get().error
    assert github_server.github.count() == calls_before
