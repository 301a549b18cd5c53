"""Concurrency groups: at most one run of a group in progress; a newer run waits, or cancels the
one in progress; only the newest pending run is kept. Runs are executed one call at a time here
(`run_execute`), eagerly, so that each rule is seen at the moment it decides."""

import threading
from collections.abc import Iterator

import pytest
from django.db import connection

from tests.conftest import github_connection
from tests.github_double import Served, changed_file, served
from tests.worker import wait_until, worker_process
from tests.workflows.test_engine import INSTALLATION, REPO, REVIEW, pull_request_to_review, trigger
from workflows.concurrency import CANCELLED_IN_PROGRESS, SUPERSEDED
from workflows.definitions import DefinitionInvalid, definition_validate
from workflows.engine import run_execute
from workflows.models import Conclusion, Status, WorkflowRun
from workflows.nodes import NODE_TYPES, NodeType
from workflows.services import run_start, workflow_create

LLM = ("POST", "/chat/completions")
COMMENTS = ("POST", f"/repos/{REPO}/issues/2/comments")
PR_GROUP = "pr-{{ trigger.payload.pull_request.number }}"
BUSY = {"error": {"message": "busy"}}


@pytest.fixture(autouse=True)
def llm_settings(settings):
    settings.AI_BASE_URL = "https://llm.test/v1"
    settings.AI_API_KEY = "sk-test-key"
    settings.AI_MODEL = "gpt-test"
    settings.WORKFLOW_STEP_RETRY_BASE_SECONDS = 0


def grouped(definition: dict, *, cancel_in_progress: bool = False, group: str = PR_GROUP) -> dict:
    return {**definition, "concurrency": {"group": group, "cancel_in_progress": cancel_in_progress}}


def review_workflow(user, *, name: str = "AI review", **concurrency):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    return workflow_create(owner=user, name=name, definition=grouped(REVIEW, **concurrency))


def push(workflow, *, number: int = 2) -> WorkflowRun:
    """A run for a push to pull request `number`, created and left queued (not executed)."""
    event = trigger()
    event["payload"]["pull_request"]["number"] = number
    return run_start(workflow=workflow, trigger=event)


def execute(run: WorkflowRun) -> float | None:
    delay = run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    return delay


def held_in_progress(run: WorkflowRun, llm) -> None:
    """Execute the run up to its LLM step, which GitHub's 503 sends back for a retry: the run
    stays in progress, as while its worker waits to try again."""
    llm.fail(*LLM, 503, json=BUSY)
    assert execute(run) is not None
    assert run.status == Status.IN_PROGRESS


def conclusions(run: WorkflowRun) -> dict[str, str | None]:
    return dict(run.steps.values_list("node_id", "conclusion"))


@pytest.fixture
def pull_request(github):
    return pull_request_to_review(github)


class TestDefinition:
    @pytest.mark.parametrize(
        "concurrency, field",
        [
            ("pr", "concurrency"),
            ({}, "concurrency"),
            ({"group": "pr", "cancel": True}, "concurrency"),
            ({"group": ""}, "concurrency.group"),
            ({"group": 7}, "concurrency.group"),
            ({"group": "x" * 201}, "concurrency.group"),
            ({"group": "{{ trigger.__class__ }}"}, "concurrency.group"),
            ({"group": "{{ unclosed"}, "concurrency.group"),
            ({"group": "pr", "cancel_in_progress": "yes"}, "concurrency.cancel_in_progress"),
        ],
    )
    def test_a_malformed_concurrency_is_refused_naming_the_field(self, concurrency, field):
        with pytest.raises(DefinitionInvalid) as refused:
            definition_validate({**REVIEW, "concurrency": concurrency})

        assert refused.value.detail["field"] == field

    def test_a_group_template_with_cancel_in_progress_is_accepted(self):
        definition_validate(grouped(REVIEW, cancel_in_progress=True))


def test_a_newer_run_waits_for_the_one_in_progress_then_runs_when_it_finishes(
    user, github, llm, pull_request, django_capture_on_commit_callbacks
):
    workflow = review_workflow(user)
    first, second = push(workflow), push(workflow)
    held_in_progress(first, llm)

    assert execute(second) is None
    assert (second.status, second.concurrency_group) == (Status.QUEUED, f"{workflow.pk}:pr-2")
    assert set(conclusions(second).values()) == {None}, "no step of the waiting run ran"

    with django_capture_on_commit_callbacks(execute=True):
        assert execute(first) is None
    second.refresh_from_db()

    assert (first.conclusion, second.conclusion) == (Conclusion.SUCCESS, Conclusion.SUCCESS)
    assert second.started_at >= first.finished_at, "the waiting run started once the first had finished"
    assert len(pull_request.comments) == 2


def test_cancel_in_progress_cancels_the_older_run_which_writes_nothing_more(user, github, llm, pull_request):
    workflow = review_workflow(user, cancel_in_progress=True)
    older, newer = push(workflow), push(workflow)
    held_in_progress(older, llm)
    asked_llm = llm.count(*LLM)

    execute(newer)
    older.refresh_from_db()

    assert newer.conclusion == Conclusion.SUCCESS
    assert (older.status, older.conclusion, older.error) == (
        Status.COMPLETED,
        Conclusion.CANCELLED,
        CANCELLED_IN_PROGRESS,
    )
    assert conclusions(older) == {"pr": "success", "review": "cancelled", "comment": "cancelled"}

    assert execute(older) is None, "its retry finds it cancelled"
    assert llm.count(*LLM) == asked_llm + 1, "only the newer run asked the LLM"
    assert len(pull_request.comments) == 1 and github.count(*COMMENTS) == 1


@pytest.mark.parametrize("admitted_first", ["older", "newer"])
def test_only_the_newest_pending_run_is_kept(
    user, github, llm, pull_request, django_capture_on_commit_callbacks, admitted_first
):
    workflow = review_workflow(user)
    running, older_pending, newest_pending = push(workflow), push(workflow), push(workflow)
    held_in_progress(running, llm)

    order = [older_pending, newest_pending] if admitted_first == "older" else [newest_pending, older_pending]
    for run in order:
        execute(run)
    older_pending.refresh_from_db()
    newest_pending.refresh_from_db()

    assert (older_pending.conclusion, older_pending.error) == (Conclusion.CANCELLED, SUPERSEDED)
    assert set(conclusions(older_pending).values()) == {"cancelled"}
    assert newest_pending.status == Status.QUEUED

    with django_capture_on_commit_callbacks(execute=True):
        execute(running)
    newest_pending.refresh_from_db()

    assert (running.conclusion, newest_pending.conclusion) == (Conclusion.SUCCESS, Conclusion.SUCCESS)
    assert older_pending.steps.filter(attempts__gt=0).count() == 0, "the superseded run never ran a step"


def test_groups_are_per_workflow_and_per_rendered_value(user, github, llm):
    repository = github.repository(REPO, id=186853002)
    github.installation(INSTALLATION, repositories=[repository])
    for number in (2, 3):
        repository.pull_request(number, files=[changed_file("README.md")])
    one = review_workflow(user, name="One", group="review")
    other = workflow_create(owner=user, name="Other", definition=grouped(REVIEW, group="review"))
    per_pr = workflow_create(owner=user, name="Per PR", definition=grouped(REVIEW))

    runs = [push(one), push(other), push(per_pr, number=2), push(per_pr, number=3)]
    for run in runs:
        held_in_progress(run, llm)

    assert [run.status for run in runs] == [Status.IN_PROGRESS] * 4
    assert [run.concurrency_group for run in runs] == [
        f"{one.pk}:review",
        f"{other.pk}:review",
        f"{per_pr.pk}:pr-2",
        f"{per_pr.pk}:pr-3",
    ]


def test_a_group_that_does_not_render_fails_the_run_before_any_step(user, github_http):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    workflow = workflow_create(
        owner=user, name="Bad group", definition=grouped(REVIEW, group="{{ trigger.payload.nothing.here }}")
    )
    run = push(workflow)

    execute(run)

    assert (run.conclusion, run.concurrency_group) == (Conclusion.FAILURE, "")
    assert run.error.startswith("Concurrency group template error")
    assert set(conclusions(run).values()) == {"cancelled"}
    assert len(github_http.calls) == 0


def test_a_run_without_concurrency_is_not_grouped(user, github, llm, pull_request):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    workflow = workflow_create(owner=user, name="Free", definition=REVIEW)
    first, second = push(workflow), push(workflow)
    held_in_progress(first, llm)

    execute(second)

    assert (second.conclusion, second.concurrency_group) == (Conclusion.SUCCESS, "")


class TestOnCancel:
    """The node types' `on_cancel` closes what a cancelled run's successful steps opened."""

    cancel_during: dict[str, WorkflowRun] = {}  # run id -> the newer run that cancels it mid-step

    @pytest.fixture
    def closed(self, monkeypatch) -> list[tuple[dict, str, str]]:
        """A node type that opens something (a check run, say) and closes it on cancel; inside
        a run named in CANCEL_DURING, its step lets the newer run start while it runs. Returns
        what was closed: (output, run id, node id)."""
        closed: list[tuple[dict, str, str]] = []
        monkeypatch.setattr(TestOnCancel, "cancel_during", {})

        def open_thing(params: dict, context) -> dict:
            newer = TestOnCancel.cancel_during.pop(context.run_id, None)
            if newer is not None:
                execute(newer)
            return {"opened": context.run_id}

        def close_thing(output: dict, context) -> None:
            closed.append((output, context.run_id, context.node_id))

        schema = {"type": "object", "properties": {}, "additionalProperties": False}
        node = NodeType(name="test.open", schema=schema, execute=open_thing, writes=True, on_cancel=close_thing)
        monkeypatch.setitem(NODE_TYPES, "test.open", node)
        return closed

    def workflow(self, user, nodes: list[dict], edges: list[dict]):
        github_connection(user, INSTALLATION, repositories={186853002: REPO})
        definition = grouped({"nodes": nodes, "edges": edges}, cancel_in_progress=True)
        return workflow_create(owner=user, name="Checks", definition=definition)

    def test_steps_that_succeeded_before_the_cancel_are_closed(self, user, github, llm, pull_request, closed):
        nodes = [{"id": "check", "type": "test.open", "params": {}}, *REVIEW["nodes"]]
        edges = [{"from": "check", "to": "pr"}, *REVIEW["edges"]]
        workflow = self.workflow(user, nodes, edges)
        older, newer = push(workflow), push(workflow)
        held_in_progress(older, llm)

        execute(newer)

        assert closed == [({"opened": str(older.pk)}, str(older.pk), "check")]

    def test_a_run_cancelled_mid_step_stops_before_its_next_step_and_closes_that_step(
        self, user, github, pull_request, closed
    ):
        nodes = [
            {"id": "check", "type": "test.open", "params": {}},
            {"id": "comment", "type": "github.create_comment", "params": {"body": "Done."}},
        ]
        workflow = self.workflow(user, nodes, [{"from": "check", "to": "comment"}])
        older, newer = push(workflow), push(workflow)
        TestOnCancel.cancel_during[str(older.pk)] = newer

        execute(older)
        newer.refresh_from_db()

        assert (older.conclusion, newer.conclusion) == (Conclusion.CANCELLED, Conclusion.SUCCESS)
        assert conclusions(older) == {"check": "success", "comment": "cancelled"}
        assert len(pull_request.comments) == 1, "the cancelled run posted nothing after its step"
        assert closed == [({"opened": str(older.pk)}, str(older.pk), "check")]

    def test_a_dry_run_has_nothing_to_close(self, user, github, llm, pull_request, closed):
        nodes = [{"id": "check", "type": "test.open", "params": {}}, *REVIEW["nodes"]]
        workflow = self.workflow(user, nodes, [{"from": "check", "to": "pr"}, *REVIEW["edges"]])
        older = run_start(workflow=workflow, trigger=trigger(), dry_run=True)
        newer = push(workflow)
        held_in_progress(older, llm)

        execute(newer)
        older.refresh_from_db()

        assert older.conclusion == Conclusion.CANCELLED and closed == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_runs_admitted_at_the_same_moment_never_both_start(user, monkeypatch, broker):
    """Two executions of one group's runs at once, each in its own thread and connection: one
    starts (and is held inside its step), the other waits or is superseded; never both. Run
    messages go to the broker, where no worker takes them: only the threads execute runs."""
    entered, release = [], threading.Event()

    def hold(params: dict, context) -> dict:
        entered.append(context.run_id)
        release.wait(timeout=30)
        return {}

    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    monkeypatch.setitem(NODE_TYPES, "test.hold", NodeType(name="test.hold", schema=schema, execute=hold))
    definition = grouped({"nodes": [{"id": "hold", "type": "test.hold", "params": {}}], "edges": []}, group="one")
    workflow = workflow_create(owner=user, name="Held", definition=definition)
    runs = [run_start(workflow=workflow, trigger=trigger()) for _ in range(2)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(runs))

    def execute_at_once(run: WorkflowRun) -> None:
        barrier.wait()
        try:
            run_execute(run_id=str(run.pk))
        except BaseException as exc:  # reported below, with the thread's own failure
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=execute_at_once, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: len(entered) == 1 and sum(thread.is_alive() for thread in threads) == 1, timeout=20)
    in_progress, entered_at_once = WorkflowRun.objects.filter(status=Status.IN_PROGRESS).count(), len(entered)
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert (in_progress, entered_at_once) == (1, 1)
    # The older run admitted first: the newer waits, enqueued again once the older finished; the
    # newer first: the older was superseded.
    older, newer = (WorkflowRun.objects.get(pk=run.pk) for run in runs)
    assert (older.conclusion, newer.status) == (Conclusion.SUCCESS, Status.QUEUED) or (
        older.conclusion,
        newer.conclusion,
    ) == (Conclusion.CANCELLED, Conclusion.SUCCESS)


@pytest.fixture
def served_github(settings) -> Iterator[Served]:
    with served() as server:
        settings.GITHUB_API_BASE_URL = server.url
        pull_request_to_review(server.github)
        server.llm.answers((200, "Looks good."))
        yield server


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_pushes_to_one_pull_request_with_two_workers_leave_one_run_and_one_comment(user, broker, served_github):
    """Two pushes in quick succession, each run taken up at once by its own Celery worker: the
    newer wins, whichever is admitted first; the older writes nothing; never two in progress."""
    workflow = review_workflow(user, cancel_in_progress=True)
    gate = served_github.llm.hold(*LLM)  # the first run to reach the LLM stays in its step
    settings_of_workers = {
        "GITHUB_API_BASE_URL": served_github.url,
        "AI_BASE_URL": f"{served_github.url}/v1",
        "AI_MODEL": "gpt-test",
    }
    with worker_process(**settings_of_workers) as one, worker_process(**settings_of_workers) as other:
        older, newer = push(workflow), push(workflow)
        assert gate.held.wait(timeout=30), one.log + other.log
        in_progress_seen: set[int] = set()

        def completed(run: WorkflowRun) -> bool:
            in_progress_seen.add(WorkflowRun.objects.filter(status=Status.IN_PROGRESS).count())
            return WorkflowRun.objects.filter(pk=run.pk, status=Status.COMPLETED).exists()

        # Either the older started and the newer cancelled it mid-step, or the newer started first
        # and superseded the older: the older is done while the first LLM request is still held.
        assert wait_until(lambda: completed(older), timeout=30, interval=0.02), one.log + other.log
        gate.release()
        assert wait_until(lambda: completed(newer), timeout=30, interval=0.02), one.log + other.log

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.conclusion, newer.conclusion) == (Conclusion.CANCELLED, Conclusion.SUCCESS)
    assert max(in_progress_seen) <= 1
    assert served_github.github.count(*COMMENTS) == 1
    assert served_github.github.requests(*COMMENTS)[0].json()["body"].startswith("Looks good.")
