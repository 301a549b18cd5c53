"""Runs whose worker goes away mid-step, with real Celery worker processes over the configured
broker (Redis in CI), on the test database; GitHub and the LLM are served over HTTP by the GitHub
double, which records every request."""

import re
import signal
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from aiworkflow.celery import app as celery_app
from tests.conftest import github_connection
from tests.github_double import Served, served
from tests.worker import wait_until, worker_process
from tests.workflows.test_engine import COMMENTS, INSTALLATION, REPO, REVIEW, pull_request_to_review, trigger
from workflows.models import Conclusion, Status, WorkflowRun
from workflows.services import run_start, workflow_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

STALE_SECONDS = 2
LLM = ("POST", "/chat/completions")
COMMENT = ("POST", COMMENTS)
PULL_REQUEST_FILES = ("GET", f"/repos/{REPO}/pulls/2/files")


@pytest.fixture
def github(settings) -> Iterator[Served]:
    with served() as server:
        settings.GITHUB_API_BASE_URL = server.url
        settings.WORKFLOW_RUN_STALE_SECONDS = STALE_SECONDS
        pull_request_to_review(server.github)
        server.llm.answers((200, "Looks good."))
        yield server


@pytest.fixture
def review(user):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    return workflow_create(owner=user, name="AI review", definition=REVIEW)


def worker_settings(github: Served, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_API_BASE_URL": github.url,
        "AI_BASE_URL": f"{github.url}/v1",
        "AI_MODEL": "gpt-test",
        "WORKFLOW_RUN_STALE_SECONDS": str(STALE_SECONDS),
        **extra,
    }


def finished(run: WorkflowRun) -> bool:
    return WorkflowRun.objects.filter(pk=run.pk, status=Status.COMPLETED).exists()


def step_of(run: WorkflowRun, node_id: str):
    return run.steps.get(node_id=node_id)


def test_a_worker_killed_mid_step_is_relayed_and_the_run_completes_once(review, broker, github):
    gate = github.llm.hold(*LLM)
    with worker_process(**worker_settings(github)) as doomed:
        run = run_start(workflow=review, trigger=trigger())
        assert gate.held.wait(timeout=30), doomed.log
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(timeout=10)
    gate.release()
    assert step_of(run, "review").status == Status.IN_PROGRESS, "the dead worker left the step cut short"

    with worker_process(**worker_settings(github)) as survivor:
        assert wait_until(
            lambda: WorkflowRun.objects.filter(pk=run.pk, stale_after__lt=timezone.now()).exists(), timeout=10
        )
        celery_app.send_task(django_settings.CELERY_BEAT_SCHEDULE["relay-workflow-runs"]["task"])  # as beat does
        assert wait_until(lambda: finished(run), timeout=30), survivor.log
        assert re.search(r"runs_relay\[[^]]+\] succeeded in [\d.]+s: 1\s", survivor.log), "the relay enqueued the run"

    run.refresh_from_db()
    assert (run.conclusion, run.deliveries, run.claimed_by) == (Conclusion.SUCCESS, 0, "")
    assert github.github.count(*COMMENT) == 1, "exactly one comment was posted"
    assert github.llm.count(*LLM) == 2, "the cut-short step ran again"
    assert github.github.count(*PULL_REQUEST_FILES) == 1, "the completed step was not repeated"
    assert step_of(run, "review").attempts == 2


def test_a_worker_stopped_warm_mid_step_finishes_its_run(review, broker, github):
    gate = github.llm.hold(*LLM)
    with worker_process(**worker_settings(github)) as stopping:
        run = run_start(workflow=review, trigger=trigger())
        assert gate.held.wait(timeout=30), stopping.log
        stopping.process.send_signal(signal.SIGTERM)
        assert wait_until(lambda: "Warm shutdown" in stopping.log), stopping.log
        gate.release()
        assert stopping.process.wait(timeout=30) == 0, stopping.log

    run.refresh_from_db()
    assert (run.status, run.conclusion, run.deliveries, run.claimed_by) == (Status.COMPLETED, Conclusion.SUCCESS, 0, "")
    assert github.github.count(*COMMENT) == 1 and github.llm.count(*LLM) == 1


def test_a_run_requeued_while_its_worker_stops_warm_is_completed_by_another(review, broker, github):
    gate = github.llm.hold(*LLM)
    github.llm.fail(*LLM, 503, json={"error": {"message": "busy"}})
    with worker_process(**worker_settings(github, WORKFLOW_STEP_RETRY_BASE_SECONDS="1")) as stopping:
        run = run_start(workflow=review, trigger=trigger())
        assert gate.held.wait(timeout=30), stopping.log
        stopping.process.send_signal(signal.SIGTERM)
        assert wait_until(lambda: "Warm shutdown" in stopping.log), stopping.log
        gate.release()
        assert stopping.process.wait(timeout=30) == 0, stopping.log
    assert not finished(run)
    assert step_of(run, "review").status == Status.QUEUED, "the step asked to be tried again later"

    with worker_process(**worker_settings(github)) as successor:
        assert wait_until(lambda: finished(run), timeout=30), successor.log

    run.refresh_from_db()
    assert (run.conclusion, run.deliveries) == (Conclusion.SUCCESS, 0)
    assert github.github.count(*COMMENT) == 1 and github.llm.count(*LLM) == 2
    assert github.github.count(*PULL_REQUEST_FILES) == 1


def test_a_second_message_for_a_run_in_progress_backs_off(review, broker, github):
    from workflows.tasks import execute_run

    gate = github.llm.hold(*LLM)
    env = worker_settings(github, WORKFLOW_RUN_STALE_SECONDS="60")  # the first execution stays fresh throughout
    with worker_process(**env) as first, worker_process(**env) as second:
        run = run_start(workflow=review, trigger=trigger())
        assert gate.held.wait(timeout=30), first.log + second.log
        execute_run.delay(str(run.pk))  # the relay's, or a late redelivery of the original
        assert wait_until(lambda: first.log.count("succeeded") + second.log.count("succeeded") == 1), (
            first.log + second.log
        )
        gate.release()
        assert wait_until(lambda: finished(run), timeout=30), first.log + second.log

    run.refresh_from_db()
    assert (run.conclusion, run.deliveries) == (Conclusion.SUCCESS, 0)
    assert github.github.count(*COMMENT) == 1 and github.llm.count(*LLM) == 1
    assert step_of(run, "review").attempts == 1
