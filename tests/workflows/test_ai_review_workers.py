"""The README's AI review (a check run opened, the pull request read, the LLM's structured answer
posted as a review with inline comments, the check run completed) end to end: a signed delivery
through the webhook endpoint, the trigger, and a real Celery worker process over the configured
broker, with GitHub and the LLM served over HTTP by the double. Then the same workflow's dry run."""

import json
from collections.abc import Iterator

import pytest

from tests.conftest import github_connection, load_fixture
from tests.github_app.webhooks import post_webhook
from tests.github_double import Served, served
from tests.github_double.served import LLM_PREFIX
from tests.worker import wait_until, worker_process
from tests.workflows.test_node_reviews import AI_REVIEW, INSTALLATION, REPO, pull_request_to_review
from triggers.services import workflow_save
from workflows.models import Conclusion, WorkflowRun

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ANSWER = {
    "summary": "One bug, one nit.",
    "verdict": "REQUEST_CHANGES",
    "comments": [
        {"path": "app/load.py", "line": 28, "side": "RIGHT", "body": "`data or {}` hides a missing file."},
        {"path": "app/load.py", "line": 90, "side": "RIGHT", "body": "A line the diff does not show."},
    ],
}


@pytest.fixture
def double_server(settings) -> Iterator[Served]:
    with served() as server:
        settings.GITHUB_API_BASE_URL = server.url
        settings.AI_BASE_URL = f"{server.url}{LLM_PREFIX}"
        settings.AI_MODEL = "gpt-test"
        server.llm.answers((200, json.dumps(ANSWER)))
        yield server


@pytest.fixture
def ai_review(user):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    trigger = {"repository": REPO, "events": ["pull_request"], "action_filter": ["opened"]}
    return workflow_save(owner=user, name="AI review", definition=AI_REVIEW, triggers=[trigger])


def finished(**filters) -> WorkflowRun | None:
    return WorkflowRun.objects.filter(status="completed", **filters).first()


def worker(server: Served):
    return worker_process(GITHUB_API_BASE_URL=server.url, AI_BASE_URL=f"{server.url}{LLM_PREFIX}", AI_MODEL="gpt-test")


def test_an_opened_pull_request_gets_an_ai_review_with_inline_comments_and_a_check_run(
    client, broker, double_server, ai_review
):
    pull_request = pull_request_to_review(double_server.github)
    payload = load_fixture("pull_request__opened")
    payload["installation"] = {"id": INSTALLATION}

    with worker(double_server) as process:
        response = post_webhook(client, json.dumps(payload).encode(), event="pull_request")
        assert response.status_code == 202
        assert wait_until(lambda: finished(workflow=ai_review), timeout=60), process.log

    run = finished(workflow=ai_review)
    errors = {step.node_id: step.error for step in run.steps.all() if step.error}
    assert run.conclusion == Conclusion.SUCCESS, errors
    [review] = pull_request.reviews
    assert review["state"] == "CHANGES_REQUESTED"
    assert "One bug, one nit." in review["body"] and "app/load.py:90" in review["body"]
    [inline] = pull_request.review_comments
    assert (inline["path"], inline["line"]) == ("app/load.py", 28)
    [check_run] = double_server.github.repository(REPO).check_runs
    assert (check_run["status"], check_run["conclusion"]) == ("completed", "failure")
    assert check_run["external_id"] == f"run:{run.pk}:AI review"
    [asked] = double_server.llm.requests("POST", "/chat/completions")
    assert json.loads(asked.body)["response_format"]["type"] == "json_schema"


def test_the_dry_run_reads_and_asks_but_writes_nothing(api, broker, double_server, ai_review):
    pull_request = pull_request_to_review(double_server.github)
    payload = load_fixture("pull_request__opened")
    payload["installation"] = {"id": INSTALLATION}

    with worker(double_server) as process:
        response = api.post(
            f"/api/v1/app/workflows/{ai_review.pk}/test",
            {"event": "pull_request", "payload": payload, "dry_run": True},
            format="json",
        )
        assert response.status_code == 202
        assert wait_until(lambda: finished(pk=response.json()["id"]), timeout=60), process.log

    run = finished(pk=response.json()["id"])
    steps = {step.node_id: step for step in run.steps.all()}
    assert run.conclusion == Conclusion.SUCCESS, {node: (step.conclusion, step.error) for node, step in steps.items()}
    assert pull_request.reviews == [] and double_server.github.repository(REPO).check_runs == []
    writes = [request for request in double_server.github.requests() if request.method in ("POST", "PATCH")]
    assert [request.path for request in writes] == [f"/app/installations/{INSTALLATION}/access_tokens"]
    assert steps["post"].output["dry_run"] is True
    assert steps["review"].output["json"] == ANSWER
