"""The run relay and the claim that keeps a run to one execution at a time, without a worker:
eagerly, or as a worker would run the task where the broker matters."""

import threading
import time
import uuid
from datetime import timedelta

import freezegun
import pytest
from celery.exceptions import Retry
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from tests.conftest import github_connection
from tests.worker import run_at_once
from tests.workflows.test_engine import INSTALLATION, REPO, REVIEW, pull_request_to_review, trigger
from workflows.engine import run_claim, run_release
from workflows.models import Conclusion, Status, WorkflowRun, WorkflowVersion
from workflows.relay import runs_claim_due, runs_relay
from workflows.services import run_start, workflow_create
from workflows.tasks import execute_run

QUICK = {
    "nodes": [{"id": "check", "type": "logic.condition", "params": {"condition": "{{ trigger.event == 'push' }}"}}],
    "edges": [],
}


@pytest.fixture(autouse=True)
def llm_settings(settings):
    settings.AI_BASE_URL = "https://llm.test/v1"
    settings.AI_MODEL = "gpt-test"


@pytest.fixture
def quick(user):
    return workflow_create(owner=user, name="Quick", definition=QUICK)


@pytest.fixture
def review(user):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    return workflow_create(owner=user, name="AI review", definition=REVIEW)


def a_run(workflow, *, stale_in: float, status: str = Status.QUEUED) -> WorkflowRun:
    return WorkflowRun.objects.create(
        workflow=workflow,
        version=workflow.current_version,
        owner=workflow.owner,
        trigger={"event": "push"},
        status=status,
        stale_after=timezone.now() + timedelta(seconds=stale_in),
        deadline_at=timezone.now() + timedelta(hours=1),
    )


def make_stale(run: WorkflowRun) -> None:
    WorkflowRun.objects.filter(pk=run.pk).update(stale_after=timezone.now() - timedelta(seconds=1))


def ids(*runs: WorkflowRun) -> set[str]:
    return {str(run.pk) for run in runs}


class TestRelay:
    def test_it_takes_the_unfinished_runs_past_their_stale_time_and_no_other(self, quick, settings):
        queued, in_progress = a_run(quick, stale_in=-1), a_run(quick, stale_in=-1, status=Status.IN_PROGRESS)
        a_run(quick, stale_in=-1, status=Status.COMPLETED)
        a_run(quick, stale_in=60), a_run(quick, stale_in=60, status=Status.IN_PROGRESS)
        WorkflowRun.objects.filter(pk=in_progress.pk).update(claimed_by="a-lost-worker")
        pushed_to = timezone.now() + timedelta(seconds=settings.WORKFLOW_RUN_STALE_SECONDS)

        assert set(runs_claim_due()) == ids(queued, in_progress)

        in_progress.refresh_from_db()
        assert in_progress.claimed_by == "", "the lost execution no longer holds it"
        assert in_progress.stale_after >= pushed_to
        assert runs_claim_due() == [], "a run taken is not due again until its new stale time"

    def test_a_relayed_run_runs_to_completion_and_a_finished_one_is_left_alone(self, quick):
        due = a_run(quick, stale_in=-1)
        finished = a_run(quick, stale_in=-1, status=Status.COMPLETED)

        assert runs_relay() == 1

        due.refresh_from_db()
        finished.refresh_from_db()
        assert (due.status, due.conclusion) == (Status.COMPLETED, Conclusion.SUCCESS)
        assert (finished.conclusion, finished.deliveries) == (None, 0)

    def test_a_run_started_is_due_for_it_only_after_the_stale_time(self, quick, settings):
        before = timezone.now()
        run = run_start(workflow=quick, trigger={"event": "push"})  # its message is sent on commit

        assert run.stale_after >= before + timedelta(seconds=settings.WORKFLOW_RUN_STALE_SECONDS)
        assert runs_claim_due() == []

    def test_runs_it_cannot_hand_to_the_broker_stay_due(self, quick, broker_unreachable):
        runs = [a_run(quick, stale_in=-1) for _ in range(3)]

        assert runs_relay() == 0

        assert set(runs_claim_due()) == ids(*runs)

    @pytest.mark.django_db(transaction=True, serialized_rollback=True)
    def test_a_run_started_while_the_broker_is_down_is_due_at_once(self, quick, broker_unreachable):
        run = run_start(workflow=quick, trigger={"event": "push"})

        assert runs_claim_due() == [str(run.pk)]

    def test_the_command_runs_one_pass(self, quick, capsys):
        run = a_run(quick, stale_in=-1)

        call_command("relay_runs")

        assert "Enqueued 1 run(s)." in capsys.readouterr().out
        assert WorkflowRun.objects.get(pk=run.pk).conclusion == Conclusion.SUCCESS


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestRelaysAtOnce:
    def test_relays_running_at_once_take_each_due_run_once(self, quick):
        runs = [a_run(quick, stale_in=-1) for _ in range(20)]

        taken = [run_id for batch in run_at_once(runs_claim_due) for run_id in batch]

        assert sorted(taken) == sorted(ids(*runs))

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no row locks to skip")
    def test_rows_another_relay_holds_are_skipped_not_waited_for(self, quick):
        held, free = a_run(quick, stale_in=-1), a_run(quick, stale_in=-1)
        locked, release = threading.Event(), threading.Event()

        def another_relay() -> None:
            try:
                with transaction.atomic():
                    WorkflowRun.objects.select_for_update().get(pk=held.pk)
                    locked.set()
                    release.wait(timeout=10)
            finally:
                connection.close()

        thread = threading.Thread(target=another_relay)
        thread.start()
        try:
            assert locked.wait(timeout=10)
            started = time.monotonic()
            assert runs_claim_due() == [str(free.pk)]
            assert time.monotonic() - started < 2
        finally:
            release.set()
            thread.join()
        assert runs_claim_due() == [str(held.pk)]


class TestRetryCountdown:
    def test_a_run_waiting_on_its_countdown_is_not_relayed_before_the_countdown_and_stale_time(
        self, review, github, llm, broker, settings
    ):
        settings.WORKFLOW_STEP_RETRY_BASE_SECONDS = 60
        pull_request_to_review(github)
        llm.answers((503, ""))
        run = run_start(workflow=review, trigger=trigger())

        # As a worker runs it, not eagerly: the retry goes to the broker, with a countdown.
        execute_run.push_request(id="first", args=[str(run.pk)], kwargs={}, called_directly=False)
        started = timezone.now()
        try:
            with pytest.raises(Retry) as retry:
                execute_run.run(str(run.pk))
        finally:
            execute_run.pop_request()

        run.refresh_from_db()
        assert (run.status, run.claimed_by, run.deliveries) == (Status.IN_PROGRESS, "first", 0)
        countdown_and_stale_time = timedelta(seconds=retry.value.when + settings.WORKFLOW_RUN_STALE_SECONDS)
        with freezegun.freeze_time(started + countdown_and_stale_time - timedelta(seconds=1)):
            assert runs_claim_due() == []
        with freezegun.freeze_time(timezone.now() + countdown_and_stale_time + timedelta(seconds=1)):
            assert runs_claim_due() == [str(run.pk)]

    def test_a_retry_is_not_counted_as_a_lost_worker_and_keeps_the_run_for_its_message(self, quick, settings):
        run = a_run(quick, stale_in=60, status=Status.IN_PROGRESS)
        for _ in range(settings.WORKFLOW_RUN_MAX_DELIVERIES + 1):
            assert run_claim(run_id=str(run.pk), claim="message")
            run_release(run_id=str(run.pk), claim="message", retry_in=5)

        run.refresh_from_db()
        assert (run.deliveries, run.claimed_by) == (0, "message")
        assert not run_claim(run_id=str(run.pk), claim="another-message"), "none other runs it before its countdown"


class TestOneExecutionAtATime:
    def test_a_second_execution_of_a_run_held_by_another_backs_off(self, review, github_http):
        run = run_start(workflow=review, trigger=trigger())
        assert run_claim(run_id=str(run.pk), claim="first")

        execute_run.apply(args=[str(run.pk)])

        run.refresh_from_db()
        assert (run.status, run.claimed_by, run.deliveries) == (Status.QUEUED, "first", 1)
        assert not run.steps.exists() and len(github_http.calls) == 0

    @pytest.mark.django_db(transaction=True, serialized_rollback=True)
    def test_concurrent_claims_give_the_run_to_exactly_one(self, quick):
        run = a_run(quick, stale_in=60)

        claims = run_at_once(lambda: run_claim(run_id=str(run.pk), claim=str(uuid.uuid4())))

        assert claims.count(True) == 1
        assert WorkflowRun.objects.get(pk=run.pk).deliveries == 1

    def test_the_message_of_a_lost_execution_handed_out_again_takes_the_run_over(self, quick):
        run = a_run(quick, stale_in=60, status=Status.IN_PROGRESS)
        assert run_claim(run_id=str(run.pk), claim="original")

        assert not run_claim(run_id=str(run.pk), claim="relayed")
        assert run_claim(run_id=str(run.pk), claim="original"), (
            "the broker gives a message out again only once its worker is gone"
        )
        assert WorkflowRun.objects.get(pk=run.pk).deliveries == 2

    def test_a_finished_run_is_never_run_again(self, quick):
        run = a_run(quick, stale_in=-1, status=Status.COMPLETED)

        assert not run_claim(run_id=str(run.pk), claim="late")
        assert WorkflowRun.objects.get(pk=run.pk).deliveries == 0

    def test_an_execution_cut_short_leaves_the_run_due_for_the_relay_at_once(self, quick):
        """A version stored with a node type this deployment no longer has: the engine raises
        out of the execution, as it would on any error outside a step."""
        version = WorkflowVersion.objects.create(
            workflow=quick,
            number=2,
            definition={"nodes": [{"id": "gone", "type": "retired.node", "params": {}}], "edges": []},
        )
        run = a_run(quick, stale_in=60)
        WorkflowRun.objects.filter(pk=run.pk).update(version=version)

        with pytest.raises(KeyError):
            execute_run.apply(args=[str(run.pk)])

        run.refresh_from_db()
        assert (run.claimed_by, run.deliveries) == ("", 1), "released, and counted as a lost execution"
        assert runs_claim_due() == [str(run.pk)]


class TestWorkersLost:
    def test_a_run_whose_workers_keep_being_lost_ends_failure_however_it_comes_back(
        self, review, github_http, settings
    ):
        run = run_start(workflow=review, trigger=trigger())
        assert run_claim(run_id=str(run.pk), claim="original")  # its worker dies
        assert run_claim(
            run_id=str(run.pk), claim="original"
        )  # the broker gives the message back; that worker dies too
        for lost in range(settings.WORKFLOW_RUN_MAX_DELIVERIES - 2):
            make_stale(run)
            assert runs_claim_due() == [str(run.pk)]
            assert run_claim(run_id=str(run.pk), claim=f"relayed-{lost}")  # and the relay's, and so on

        make_stale(run)
        assert runs_relay() == 1

        run.refresh_from_db()
        assert (run.status, run.conclusion) == (Status.COMPLETED, Conclusion.FAILURE)
        assert run.error.startswith(
            f"Worker lost: the worker running this run was lost {settings.WORKFLOW_RUN_MAX_DELIVERIES} times"
        )
        assert {step.conclusion for step in run.steps.all()} == {Conclusion.CANCELLED}
        assert len(github_http.calls) == 0

    def test_a_relayed_run_that_then_finishes_clears_its_count(self, quick):
        run = a_run(quick, stale_in=60, status=Status.IN_PROGRESS)
        assert run_claim(run_id=str(run.pk), claim="lost")
        make_stale(run)

        assert runs_relay() == 1

        run.refresh_from_db()
        assert (run.conclusion, run.deliveries, run.claimed_by) == (Conclusion.SUCCESS, 0, "")
