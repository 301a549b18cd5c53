"""Whole runs through the engine, eagerly, with GitHub and the LLM stubbed by `responses`."""

import json

import pytest
import requests

from github_app.api.writes import comment_marker
from tests.conftest import github_connection, load_fixture
from tests.github_app.github_stub import api_url
from workflows.models import Conclusion, Status, WorkflowRun
from workflows.services import run_start, workflow_create, workflow_update

INSTALLATION = 5150
REPO = "Codertocat/Hello-World"
LLM = "https://llm.test/v1/chat/completions"
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
        "event": "pull_request", "action": "opened", "delivery_id": "d-1", "installation_id": INSTALLATION,
        "repository": REPO, "sender": payload["sender"]["login"], "payload": payload,
    }


class FakeGitHub:
    """GitHub's side of a review: a pull request, and comments that remember what was posted."""

    def __init__(self, mock, *, fail_first_post: bool = False):
        self.mock = mock
        self.comments: list[dict] = []
        self.fail_first_post = fail_first_post
        mock.post(api_url(f"/app/installations/{INSTALLATION}/access_tokens"), json={"token": "ghs_run", "expires_at": "2099-01-01T00:00:00Z"}, status=201)
        pull_request = load_fixture("pull_request__opened")["pull_request"]
        mock.add_callback("GET", api_url(f"/repos/{REPO}/pulls/2"), callback=self.pull_request)
        mock.get(api_url(f"/repos/{REPO}/pulls/2/files"), json=[{"filename": "README.md", "status": "modified", "patch": "@@ -1 +1 @@\n-a\n+b"}])
        mock.get(api_url(f"/repos/{REPO}/pulls/2/comments"), json=[])
        mock.get(api_url(f"/repos/{REPO}"), json={"full_name": REPO})
        mock.add_callback("GET", api_url(f"/repos/{REPO}/issues/2/comments"), callback=lambda request: (200, {}, json.dumps(self.comments)))
        mock.add_callback("POST", api_url(f"/repos/{REPO}/issues/2/comments"), callback=self.post_comment)
        mock.add_callback("PATCH", api_url(f"/repos/{REPO}/issues/comments/1"), callback=self.edit_comment)
        self._pull_request = json.dumps(pull_request)

    def pull_request(self, request):
        if request.headers.get("Accept") == "application/vnd.github.diff":
            return 200, {}, "diff --git a/README.md b/README.md\n-a\n+b\n"
        return 200, {}, self._pull_request

    def post_comment(self, request):
        comment = {"id": len(self.comments) + 1, "html_url": "https://github.com/c/1", "body": json.loads(request.body)["body"]}
        self.comments.append(comment)
        if self.fail_first_post and len(self.comments) == 1:
            raise requests.ConnectionError("connection reset after GitHub stored the comment")
        return 201, {}, json.dumps(comment)

    def edit_comment(self, request):
        self.comments[0]["body"] = json.loads(request.body)["body"]
        return 200, {}, json.dumps(self.comments[0])

    def requests(self, method: str, fragment: str) -> int:
        return sum(call.request.method == method and fragment in call.request.url for call in self.mock.calls)


def llm_answers(mock, *answers):
    for status, text in answers:
        body = {"model": "gpt-test", "choices": [{"message": {"role": "assistant", "content": text}}], "usage": {"total_tokens": 42}}
        mock.post(LLM, json=body if status == 200 else {"error": {"message": "busy"}}, status=status)


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


def test_get_pull_request_then_ai_then_comment(workflow, github_http, run_now):
    github = FakeGitHub(github_http)
    llm_answers(github_http, (200, "Looks good to me."))

    run = run_now(workflow)

    assert (run.status, run.conclusion) == (Status.COMPLETED, Conclusion.SUCCESS)
    steps = {step.node_id: step for step in run.steps.all()}
    assert [step.conclusion for step in steps.values()] == ["success"] * 3
    assert steps["pr"].output["diff"].startswith("diff --git")
    assert steps["review"].output == {"text": "Looks good to me.", "model": "gpt-test", "usage": {"total_tokens": 42}, "prompt_clipped": False}
    assert len(github.comments) == 1
    assert github.comments[0]["body"] == f"Looks good to me.\n\n{comment_marker(f'{run.pk}:comment')}"
    llm_request = next(call.request for call in github_http.calls if call.request.url == LLM)
    assert llm_request.headers["Authorization"] == "Bearer sk-test-key"
    assert "diff --git a/README.md" in json.loads(llm_request.body)["messages"][0]["content"]


def test_a_comment_step_retried_after_a_failure_posts_one_comment(workflow, github_http, run_now):
    github = FakeGitHub(github_http, fail_first_post=True)
    llm_answers(github_http, (200, "Review text"))

    run = run_now(workflow)

    assert run.conclusion == Conclusion.SUCCESS
    assert len(github.comments) == 1, "the retry found its marker and edited instead of posting"
    assert github.requests("PATCH", "/issues/comments/1") == 1
    assert run.steps.get(node_id="comment").attempts == 2


def test_a_retried_run_does_not_repeat_completed_steps(workflow, github_http, run_now):
    github = FakeGitHub(github_http)
    llm_answers(github_http, (503, ""), (429, ""), (200, "Third time lucky"))

    run = run_now(workflow)

    assert run.conclusion == Conclusion.SUCCESS
    assert github.requests("GET", f"/repos/{REPO}/pulls/2/files") == 1, "step 1 ran once across three executions"
    assert run.steps.get(node_id="review").attempts == 3
    assert len(github.comments) == 1


def test_a_step_out_of_attempts_fails_the_run_and_skips_what_follows(workflow, github_http, run_now, settings):
    settings.WORKFLOW_STEP_MAX_ATTEMPTS = 2
    github = FakeGitHub(github_http)
    llm_answers(github_http, (503, ""), (503, ""))

    run = run_now(workflow)

    assert run.conclusion == Conclusion.FAILURE
    steps = {step.node_id: step for step in run.steps.all()}
    assert (steps["review"].conclusion, steps["comment"].conclusion) == ("failure", "skipped")
    assert steps["review"].error == "The AI provider answered 503."
    assert github.comments == []


def test_a_client_error_is_not_retried(workflow, github_http, run_now):
    FakeGitHub(github_http)
    llm_answers(github_http, (400, ""))

    run = run_now(workflow)

    review = run.steps.get(node_id="review")
    assert (review.conclusion, review.attempts) == ("failure", 1)


def test_dry_run_makes_no_write_request(workflow, github_http, run_now):
    github = FakeGitHub(github_http)
    llm_answers(github_http, (200, "Would say this"))

    run = run_now(workflow, dry_run=True)

    assert run.conclusion == Conclusion.SUCCESS
    assert github.requests("POST", "/comments") == 0 and github.comments == []
    output = run.steps.get(node_id="comment").output
    assert output == {"dry_run": True, "would": {"type": "github.create_comment", "params": {"body": "Would say this"}}}


def test_a_false_condition_skips_its_downstream(user, github_http, run_now):
    definition = {
        "nodes": [
            {"id": "only_on_close", "type": "logic.condition", "params": {"condition": "{{ trigger.action == 'closed' }}"}},
            {"id": "comment", "type": "github.create_comment", "params": {"body": "closed"}},
        ],
        "edges": [{"from": "only_on_close", "to": "comment"}],
    }
    github = FakeGitHub(github_http)

    run = run_now(workflow_create(owner=user, name="On close", definition=definition))

    assert run.conclusion == Conclusion.SUCCESS
    assert run.steps.get(node_id="comment").conclusion == Conclusion.SKIPPED
    assert github.comments == []


def test_a_missing_template_variable_fails_the_step_naming_it(user, github_http, run_now):
    definition = {"nodes": [{"id": "say", "type": "logic.condition", "params": {"condition": "{{ nodes.nowhere.text }}"}}], "edges": []}

    run = run_now(workflow_create(owner=user, name="Broken", definition=definition))

    step = run.steps.get(node_id="say")
    assert step.conclusion == Conclusion.FAILURE
    assert "nowhere" in step.error and step.error.startswith("Template error")


def test_the_sandbox_refuses_unsafe_access_at_run_time(user, github_http, run_now):
    definition = {"nodes": [{"id": "x", "type": "logic.condition", "params": {"condition": "{{ trigger.mro() }}"}}], "edges": []}

    run = run_now(workflow_create(owner=user, name="Escape", definition=definition))

    assert run.steps.get(node_id="x").conclusion == Conclusion.FAILURE


def test_a_run_past_its_deadline_is_timed_out(workflow, github_http, run_now, settings):
    settings.WORKFLOW_RUN_TIMEOUT_SECONDS = 0
    FakeGitHub(github_http)

    run = run_now(workflow)

    assert run.conclusion == Conclusion.TIMED_OUT
    assert {step.conclusion for step in run.steps.all()} == {"cancelled"}


def test_no_ai_provider_fails_clearly(workflow, github_http, run_now, settings):
    settings.AI_BASE_URL = ""
    FakeGitHub(github_http)

    run = run_now(workflow)

    assert "No AI provider is configured" in run.steps.get(node_id="review").error


def test_a_long_prompt_is_clipped_with_a_note(user, github_http, run_now, settings):
    settings.AI_MAX_PROMPT_CHARS = 200
    llm_answers(github_http, (200, "ok"))
    definition = {"nodes": [{"id": "ask", "type": "ai.prompt", "params": {"prompt": "x" * 1000}}], "edges": []}

    run = run_now(workflow_create(owner=user, name="Long", definition=definition))

    sent = json.loads(github_http.calls[-1].request.body)["messages"][0]["content"]
    assert len(sent) == 200 and "clipped to 200 of its 1000 characters" in sent
    assert run.steps.get(node_id="ask").output["prompt_clipped"] is True


def test_large_outputs_are_stored_truncated(user, github_http, run_now, settings):
    settings.WORKFLOW_STEP_OUTPUT_MAX_BYTES = 2000
    llm_answers(github_http, (200, "y" * 10_000))
    definition = {"nodes": [{"id": "ask", "type": "ai.prompt", "params": {"prompt": "go"}}], "edges": []}

    step = run_now(workflow_create(owner=user, name="Big", definition=definition)).steps.get(node_id="ask")

    assert step.output_truncated is True
    assert len(json.dumps(step.output)) <= 2000 and "more characters" in step.output["text"]


def test_a_run_is_unique_per_workflow_and_delivery(workflow, github_http):
    from github_app.models import WebhookDelivery

    delivery = WebhookDelivery.objects.create(delivery_id="once", event="pull_request", payload=b"{}")

    assert run_start(workflow=workflow, trigger=trigger(), delivery=delivery) is not None
    assert run_start(workflow=workflow, trigger=trigger(), delivery=delivery) is None
    assert WorkflowRun.objects.count() == 1


def test_a_run_keeps_the_version_it_started_with(workflow, github_http):
    run = run_start(workflow=workflow, trigger=trigger())
    changed = {**REVIEW, "nodes": [*REVIEW["nodes"][:2], {"id": "comment", "type": "github.create_comment", "params": {"body": "v2"}}]}

    workflow_update(workflow=workflow, definition=changed)

    run.refresh_from_db()
    workflow.refresh_from_db()
    assert (run.version.number, workflow.current_version.number) == (1, 2)
    with pytest.raises(ValueError, match="immutable"):
        run.version.save()
