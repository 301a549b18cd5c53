"""`github.create_check_run`: one check run per run and name on a commit, created or updated,
its annotations sent 50 to a request, through the engine with GitHub played by the double."""

import itertools
import json

import pytest
import requests

from tests.conftest import github_connection, load_fixture
from tests.github_double import GitHub, Repository
from tests.workflows.test_engine import trigger as pull_request_trigger
from workflows.definitions import DefinitionInvalid
from workflows.models import Conclusion, WorkflowRun
from workflows.nodes import NODE_TYPES, StepContext
from workflows.services import run_start, workflow_create

INSTALLATION = 5150
REPO = "Codertocat/Hello-World"
HIDDEN = "Codertocat/secret"
HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"  # the recorded pull request's head
CHECK_RUNS = f"/repos/{REPO}/check-runs"


@pytest.fixture(autouse=True)
def engine_settings(settings):
    settings.WORKFLOW_STEP_RETRY_BASE_SECONDS = 0


@pytest.fixture
def connected(user):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})


def push_trigger() -> dict:
    payload = load_fixture("push")
    return {**pull_request_trigger(), "event": "push", "action": "", "payload": payload}


def repository_to_check(github: GitHub) -> Repository:
    repository = github.repository(REPO, id=186853002)
    github.installation(INSTALLATION, repositories=[repository, github.repository(HIDDEN, id=777)])
    return repository


@pytest.fixture
def run_nodes(user, connected, django_capture_on_commit_callbacks):
    """Run a workflow of `github.create_check_run` steps, one per params given, in that order."""

    def run(*steps: dict, dry_run: bool = False, trigger: dict | None = None) -> WorkflowRun:
        nodes = [
            {"id": f"check_{index}", "type": "github.create_check_run", "params": params}
            for index, params in enumerate(steps)
        ]
        edges = [{"from": first["id"], "to": second["id"]} for first, second in zip(nodes, nodes[1:], strict=False)]
        workflow = workflow_create(owner=user, name="Checks", definition={"nodes": nodes, "edges": edges})
        with django_capture_on_commit_callbacks(execute=True):
            created = run_start(workflow=workflow, trigger=trigger or pull_request_trigger(), dry_run=dry_run)
        created.refresh_from_db()
        return created

    return run


def annotations(count: int) -> list[dict]:
    return [
        {
            "path": "app/load.py",
            "start_line": number + 1,
            "end_line": number + 1,
            "annotation_level": "warning",
            "message": f"Line {number + 1} is too long.",
        }
        for number in range(count)
    ]


def test_a_completed_check_run_on_the_pull_requests_head(github, run_nodes):
    repository = repository_to_check(github)
    output = {"title": "AI review", "summary": "Two remarks.", "text": "Details"}

    run = run_nodes({"name": "AI review", "conclusion": "neutral", "output": output})

    step = run.steps.get(node_id="check_0")
    assert run.conclusion == Conclusion.SUCCESS, step.error
    [check_run] = repository.check_runs
    assert (check_run["name"], check_run["head_sha"], check_run["external_id"]) == (
        "AI review",
        HEAD_SHA,
        f"run:{run.pk}:AI review",
    )
    assert (check_run["status"], check_run["conclusion"]) == ("completed", "neutral")
    assert check_run["output"]["summary"] == "Two remarks."
    assert step.output["check_run_id"] == check_run["id"]
    assert {key: step.output[key] for key in ("html_url", "status", "conclusion", "annotations_sent")} == {
        "html_url": check_run["html_url"],
        "status": "completed",
        "conclusion": "neutral",
        "annotations_sent": 0,
    }


def test_in_progress_at_the_start_and_completed_at_the_end_is_one_check_run(github, run_nodes):
    repository = repository_to_check(github)

    run = run_nodes(
        {"name": "AI review", "status": "in_progress"},
        {"name": "AI review", "conclusion": "success", "output": {"title": "Done", "summary": "All good."}},
    )

    [check_run] = repository.check_runs
    assert (check_run["status"], check_run["conclusion"]) == ("completed", "success")
    first, second = (run.steps.get(node_id=f"check_{index}").output for index in range(2))
    assert (first["created"], first["status"]) == (True, "in_progress")
    assert (second["created"], second["check_run_id"]) == (False, first["check_run_id"])
    assert github.count("POST", CHECK_RUNS) == 1
    assert github.count("PATCH", f"{CHECK_RUNS}/{check_run['id']}") == 1


def test_a_hundred_and_twenty_annotations_take_three_requests(github, run_nodes):
    repository = repository_to_check(github)

    run = run_nodes({"name": "Lint", "conclusion": "failure", "annotations": annotations(120)})

    [check_run] = repository.check_runs
    writes = github.requests("POST", CHECK_RUNS) + github.requests("PATCH", f"{CHECK_RUNS}/{check_run['id']}")
    sent = [len(request.json()["output"]["annotations"]) for request in writes]
    assert sent == [50, 50, 20]
    assert [request.json().get("status") for request in writes] == ["in_progress", None, "completed"], (
        "completed only once every annotation is on it"
    )
    assert len(repository.check_run_annotations[check_run["id"]]) == 120
    assert check_run["output"]["annotations_count"] == 120 and check_run["conclusion"] == "failure"
    assert run.steps.get(node_id="check_0").output["annotations_sent"] == 120


def test_a_retry_after_github_created_the_check_run_updates_it(github, run_nodes):
    repository = repository_to_check(github)
    github.fail("POST", CHECK_RUNS, error=requests.ConnectionError("reset after creating"), after_applying=True)

    run = run_nodes({"name": "AI review", "conclusion": "success"})

    assert (run.conclusion, run.steps.get(node_id="check_0").attempts) == (Conclusion.SUCCESS, 2)
    assert len(repository.check_runs) == 1
    assert github.count("POST", CHECK_RUNS) == 1


def test_a_retry_after_part_of_the_annotations_sends_only_the_rest(github, run_nodes):
    repository = repository_to_check(github)
    github.installations[INSTALLATION].token = "ghs_" + "1" * 36  # minting takes no id from the double
    check_run_id = 9000
    github.ids = itertools.count(check_run_id)
    # Created with 50 annotations; the update with 50 more is stored, but its answer is lost.
    github.fail("PATCH", f"{CHECK_RUNS}/{check_run_id}", error=requests.ConnectionError("reset"), after_applying=True)

    run = run_nodes({"name": "Lint", "conclusion": "failure", "annotations": annotations(120)})

    assert run.conclusion == Conclusion.SUCCESS, run.steps.get(node_id="check_0").error
    [check_run] = repository.check_runs
    assert check_run["id"] == check_run_id
    held = repository.check_run_annotations[check_run_id]
    assert sorted(annotation["start_line"] for annotation in held) == list(range(1, 121)), "each one once"
    assert check_run["status"] == "completed"


def test_the_head_sha_of_a_push(github, run_nodes):
    repository = repository_to_check(github)

    run_nodes({"name": "Build"}, trigger=push_trigger())

    [check_run] = repository.check_runs
    assert (check_run["head_sha"], check_run["status"]) == (load_fixture("push")["after"], "in_progress")


def cancel(run: WorkflowRun, node_id: str, user) -> None:
    """What the engine does for a step of a cancelled run: its type's on_cancel, with its output."""
    context = StepContext(
        run_id=str(run.pk),
        node_id=node_id,
        owner_id=user.pk,
        installation_id=INSTALLATION,
        repository=REPO,
        trigger=pull_request_trigger(),
        dry_run=False,
    )
    on_cancel = NODE_TYPES["github.create_check_run"].on_cancel
    assert on_cancel is not None
    on_cancel(run.steps.get(node_id=node_id).output or {}, context)


def test_a_cancelled_run_completes_the_check_run_its_step_left_in_progress(github, run_nodes, user):
    repository = repository_to_check(github)
    run = run_nodes({"name": "AI review", "status": "in_progress"})

    cancel(run, "check_0", user)

    [check_run] = repository.check_runs
    assert (check_run["status"], check_run["conclusion"]) == ("completed", "cancelled")


def test_cancelling_leaves_a_check_run_a_later_step_completed(github, run_nodes, user):
    repository = repository_to_check(github)
    run = run_nodes({"name": "AI review", "status": "in_progress"}, {"name": "AI review", "conclusion": "success"})
    github.forget_requests()

    cancel(run, "check_0", user)

    assert repository.check_runs[0]["conclusion"] == "success"
    assert github.requests("PATCH") == []


def test_cancelling_a_dry_run_step_calls_nothing(github, run_nodes, user):
    repository_to_check(github)
    run = run_nodes({"name": "AI review", "status": "in_progress"}, dry_run=True)

    cancel(run, "check_0", user)

    assert github.requests() == []


def test_dry_run_records_the_check_run_and_writes_nothing(github, run_nodes):
    repository = repository_to_check(github)

    run = run_nodes({"name": "AI review", "conclusion": "success"}, dry_run=True)

    assert run.conclusion == Conclusion.SUCCESS
    assert github.requests() == [] and repository.check_runs == []
    assert run.steps.get(node_id="check_0").output == {
        "dry_run": True,
        "would": {"type": "github.create_check_run", "params": {"name": "AI review", "conclusion": "success"}},
    }


def test_a_repository_the_owner_does_not_reach_is_refused_before_any_request(github, run_nodes):
    repository_to_check(github)

    run = run_nodes({"name": "AI review", "conclusion": "success", "repository": HIDDEN})

    step = run.steps.get(node_id="check_0")
    assert step.conclusion == Conclusion.FAILURE and f"{HIDDEN} is not among the repositories" in step.error
    assert github.requests() == [] and github.repository(HIDDEN).check_runs == []


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"status": "completed"}, "`conclusion` is given exactly when `status` is completed"),
        ({"status": "in_progress", "conclusion": "success"}, "`conclusion` is given exactly when"),
        ({"status": "running"}, "`status` 'running' is not one of queued, in_progress, completed"),
        ({"conclusion": "stale"}, "`conclusion` 'stale' is not one of"),
        ({"annotations": "[{"}, "`annotations` is a string but not JSON"),
        (
            {"annotations": json.dumps([{**annotations(1)[0], "annotation_level": "error"}])},
            "`annotations[0].annotation_level`",
        ),
        ({"annotations": json.dumps([{**annotations(1)[0], "end_line": 0}])}, "`annotations[0].end_line`"),
        ({"annotations": [{**annotations(1)[0], "path": "/etc/passwd"}]}, "`annotations[0].path` '/etc/passwd'"),
        ({"head_sha": "main; rm -rf"}, "is not a commit SHA"),
        ({"name": "{{ 'x' * 300 }}"}, "`name` must be between 1 and 255 characters"),
    ],
)
def test_bad_input_fails_the_step_clearly(github, run_nodes, params, error):
    repository = repository_to_check(github)

    run = run_nodes({"name": "AI review", **params})

    step = run.steps.get(node_id="check_0")
    assert (step.conclusion, step.attempts) == (Conclusion.FAILURE, 1)
    assert error in step.error
    assert github.requests() == [] and repository.check_runs == []


def test_a_literal_list_of_bad_annotations_is_refused_when_the_workflow_is_saved(user, connected):
    bad = [{**annotations(1)[0], "annotation_level": "error"}]
    node = {"id": "check", "type": "github.create_check_run", "params": {"name": "Lint", "annotations": bad}}

    with pytest.raises(DefinitionInvalid) as refused:
        workflow_create(owner=user, name="Checks", definition={"nodes": [node], "edges": []})

    assert refused.value.detail == {"node": "check", "field": "annotations"}
