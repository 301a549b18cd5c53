"""Whole runs through the engine, eagerly, with GitHub and the LLM played by the GitHub double."""

import json

import pytest
import requests

from github_app.api.writes import comment_marker
from tests.conftest import github_connection, load_fixture
from tests.github_double import GitHub, PullRequest, changed_file
from workflows.models import Conclusion, Status, WorkflowRun
from workflows.services import RunAlreadyStarted, run_start, workflow_create, workflow_update

INSTALLATION = 5150
REPO = "Codertocat/Hello-World"
COMMENTS = f"/repos/{REPO}/issues/2/comments"
REVIEW = {
    "nodes": [
        {"id": "pr", "type": "github.get_pull_request", "params": {}},
        {"id": "review", "type": "ai.prompt", "params": {"prompt": "Review:\n{{ nodes.pr.diff }}"}},
        {"id": "comment", "type": "github.create_comment", "params": {"body": "{{ nodes.review.text }}"}},
    ],
    "edges": [{"from": "pr", "to": "review"}, {"from": "review", "to": "comment"}],
}


@pytest.fixture(autouse=True)
def llm_settings(settings):
    settings.AI_BASE_URL = "https://llm.test/v1"
    settings.AI_API_KEY = "sk-test-key"
    settings.AI_MODEL = "gpt-test"
    settings.WORKFLOW_STEP_RETRY_BASE_SECONDS = 0


def trigger() -> dict:
    payload = load_fixture("pull_request__opened")
    payload["installation"] = {"id": INSTALLATION}
    return {
        "event": "pull_request",
        "action": "opened",
        "delivery_id": "d-1",
        "installation_id": INSTALLATION,
        "repository": REPO,
        "sender": payload["sender"]["login"],
        "payload": payload,
    }


def pull_request_to_review(github: GitHub) -> PullRequest:
    """GitHub's side of a review: pull request 2 of REPO, changing README.md, on the installation
    the workflows run on; its comments are those posted."""
    repository = github.repository(REPO, id=186853002)
    github.installation(INSTALLATION, repositories=[repository])
    return repository.pull_request(2, files=[changed_file("README.md")])


@pytest.fixture
def workflow(user):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    return workflow_create(owner=user, name="AI review", definition=REVIEW)


@pytest.fixture
def run_now(django_capture_on_commit_callbacks):
    """Start a run and execute it (eagerly) before returning it."""

    def run(workflow, **kwargs) -> WorkflowRun:
        with django_capture_on_commit_callbacks(execute=True):
            created = run_start(workflow=workflow, trigger=trigger(), **kwargs)
        created.refresh_from_db()
        return created

    return run


def test_get_pull_request_then_ai_then_comment(workflow, github, llm, run_now):
    pull_request = pull_request_to_review(github)
    llm.answers((200, "Looks good to me."))

    run = run_now(workflow)

    assert (run.status, run.conclusion) == (Status.COMPLETED, Conclusion.SUCCESS)
    steps = {step.node_id: step for step in run.steps.all()}
    assert [step.conclusion for step in steps.values()] == ["success"] * 3
    assert steps["pr"].output["diff"].startswith("diff --git")
    assert steps["review"].output == {
        "text": "Looks good to me.",
        "model": "gpt-test",
        "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42},
        "prompt_clipped": False,
    }
    assert len(pull_request.comments) == 1
    assert pull_request.comments[0]["body"] == f"Looks good to me.\n\n{comment_marker(f'{run.pk}:comment')}"
    [llm_request] = llm.requests()
    assert llm_request.headers["Authorization"] == "Bearer sk-test-key"
    assert "diff --git a/README.md" in llm_request.json()["messages"][0]["content"]


def test_a_comment_step_retried_after_a_failure_posts_one_comment(workflow, github, llm, run_now):
    pull_request = pull_request_to_review(github)
    reset = requests.ConnectionError("connection reset after GitHub stored the comment")
    github.fail("POST", COMMENTS, error=reset, after_applying=True)
    llm.answers((200, "Review text"))

    run = run_now(workflow)

    assert run.conclusion == Conclusion.SUCCESS
    assert len(pull_request.comments) == 1, "the retry found its marker and edited instead of posting"
    assert github.count("PATCH", f"/repos/{REPO}/issues/comments/{pull_request.comments[0]['id']}") == 1
    assert run.steps.get(node_id="comment").attempts == 2


def test_a_retried_run_does_not_repeat_completed_steps(workflow, github, llm, run_now):
    pull_request = pull_request_to_review(github)
    llm.answers((503, ""), (429, ""), (200, "Third time lucky"))

    run = run_now(workflow)

    assert run.conclusion == Conclusion.SUCCESS
    assert github.count("GET", f"/repos/{REPO}/pulls/2/files") == 1, "step 1 ran once across three executions"
    assert run.steps.get(node_id="review").attempts == 3
    assert len(pull_request.comments) == 1


def test_a_step_out_of_attempts_fails_the_run_and_skips_what_follows(workflow, github, llm, run_now, settings):
    settings.WORKFLOW_STEP_MAX_ATTEMPTS = 2
    pull_request = pull_request_to_review(github)
    llm.answers((503, ""), (503, ""))

    run = run_now(workflow)

    assert run.conclusion == Conclusion.FAILURE
    steps = {step.node_id: step for step in run.steps.all()}
    assert (steps["review"].conclusion, steps["comment"].conclusion) == ("failure", "skipped")
    assert steps["review"].error == "The AI provider answered 503."
    assert pull_request.comments == []


def test_a_client_error_is_not_retried(workflow, github, llm, run_now):
    pull_request_to_review(github)
    llm.answers((400, ""))

    run = run_now(workflow)

    review = run.steps.get(node_id="review")
    assert (review.conclusion, review.attempts) == ("failure", 1)


def test_dry_run_makes_no_write_request(workflow, github, llm, run_now):
    pull_request = pull_request_to_review(github)
    llm.answers((200, "Would say this"))

    run = run_now(workflow, dry_run=True)

    assert run.conclusion == Conclusion.SUCCESS
    assert github.requests("POST", COMMENTS) == [] and pull_request.comments == []
    output = run.steps.get(node_id="comment").output
    assert output == {"dry_run": True, "would": {"type": "github.create_comment", "params": {"body": "Would say this"}}}


def test_a_false_condition_skips_its_downstream(user, github, run_now):
    definition = {
        "nodes": [
            {
                "id": "only_on_close",
                "type": "logic.condition",
                "params": {"condition": "{{ trigger.action == 'closed' }}"},
            },
            {"id": "comment", "type": "github.create_comment", "params": {"body": "closed"}},
        ],
        "edges": [{"from": "only_on_close", "to": "comment"}],
    }
    pull_request = pull_request_to_review(github)

    run = run_now(workflow_create(owner=user, name="On close", definition=definition))

    assert run.conclusion == Conclusion.SUCCESS
    assert run.steps.get(node_id="comment").conclusion == Conclusion.SKIPPED
    assert pull_request.comments == []


def test_a_missing_template_variable_fails_the_step_naming_it(user, github_http, run_now):
    definition = {
        "nodes": [{"id": "say", "type": "logic.condition", "params": {"condition": "{{ nodes.nowhere.text }}"}}],
        "edges": [],
    }

    run = run_now(workflow_create(owner=user, name="Broken", definition=definition))

    step = run.steps.get(node_id="say")
    assert step.conclusion == Conclusion.FAILURE
    assert "nowhere" in step.error and step.error.startswith("Template error")


def test_the_sandbox_refuses_unsafe_access_at_run_time(user, github_http, run_now):
    # A format string reaches attributes the save-time check cannot see: only the sandbox stops it.
    escape = "{{ '{0.__class__.__mro__}'.format(trigger) }}"
    definition = {"nodes": [{"id": "x", "type": "logic.condition", "params": {"condition": escape}}], "edges": []}

    run = run_now(workflow_create(owner=user, name="Escape", definition=definition))

    step = run.steps.get(node_id="x")
    assert step.conclusion == Conclusion.FAILURE
    assert step.error.startswith("Template error") and "is unsafe" in step.error


def test_a_run_past_its_deadline_is_timed_out(workflow, github, run_now, settings):
    settings.WORKFLOW_RUN_TIMEOUT_SECONDS = 0
    pull_request_to_review(github)

    run = run_now(workflow)

    assert run.conclusion == Conclusion.TIMED_OUT
    assert {step.conclusion for step in run.steps.all()} == {"cancelled"}


def test_no_ai_provider_fails_clearly(workflow, github, run_now, settings):
    settings.AI_BASE_URL = ""
    pull_request_to_review(github)

    run = run_now(workflow)

    assert "No AI provider is configured" in run.steps.get(node_id="review").error


def test_a_long_prompt_is_clipped_with_a_note(user, llm, run_now, settings):
    settings.AI_MAX_PROMPT_CHARS = 200
    llm.answers((200, "ok"))
    definition = {"nodes": [{"id": "ask", "type": "ai.prompt", "params": {"prompt": "x" * 1000}}], "edges": []}

    run = run_now(workflow_create(owner=user, name="Long", definition=definition))

    sent = llm.requests()[-1].json()["messages"][0]["content"]
    assert len(sent) == 200 and "clipped to 200 of its 1000 characters" in sent
    assert run.steps.get(node_id="ask").output["prompt_clipped"] is True


def test_large_outputs_are_stored_truncated(user, llm, run_now, settings):
    settings.WORKFLOW_STEP_OUTPUT_MAX_BYTES = 2000
    llm.answers((200, "y" * 10_000))
    definition = {"nodes": [{"id": "ask", "type": "ai.prompt", "params": {"prompt": "go"}}], "edges": []}

    step = run_now(workflow_create(owner=user, name="Big", definition=definition)).steps.get(node_id="ask")

    assert step.output_truncated is True
    assert len(json.dumps(step.output)) <= 2000 and "more characters" in step.output["text"]


def test_a_run_is_unique_per_workflow_and_delivery(workflow, github_http):
    from github_app.models import WebhookDelivery

    delivery = WebhookDelivery.objects.create(delivery_id="once", event="pull_request", payload=b"{}")

    run_start(workflow=workflow, trigger=trigger(), delivery=delivery)
    with pytest.raises(RunAlreadyStarted):
        run_start(workflow=workflow, trigger=trigger(), delivery=delivery)
    assert WorkflowRun.objects.count() == 1


def test_a_run_keeps_the_version_it_started_with(workflow, github_http):
    run = run_start(workflow=workflow, trigger=trigger())
    changed = {
        **REVIEW,
        "nodes": [*REVIEW["nodes"][:2], {"id": "comment", "type": "github.create_comment", "params": {"body": "v2"}}],
    }

    workflow_update(workflow=workflow, definition=changed)

    run.refresh_from_db()
    workflow.refresh_from_db()
    assert (run.version.number, workflow.current_version.number) == (1, 2)
    with pytest.raises(ValueError, match="immutable"):
        run.version.save()
