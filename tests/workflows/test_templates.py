"""Shipped workflow templates: listed, validated, created through the API for one repository, and
run end to end from a signed delivery against the GitHub double and the LLM stand-in."""

import json
from pathlib import Path

import pytest

from github_app.models import WebhookDelivery
from tests.conftest import github_connection, load_fixture
from tests.github_app.webhooks import recorded_event_deliver
from tests.workflows.node_runs import issue_event
from tests.workflows.test_node_reviews import HIDDEN, INSTALLATION, REPO, pull_request_to_review
from triggers.models import Trigger
from triggers.services import trigger_config_check
from workflows.definitions import definition_validate
from workflows.models import Conclusion, Workflow, WorkflowRun
from workflows.selectors import WORKFLOW_TEMPLATES_DIR, _workflow_templates, workflow_template_list
from workflows.services import run_start, workflow_create

TEMPLATES = "/api/v1/app/workflow-templates"
WORKFLOWS = "/api/v1/app/workflows"
SHIPPED = ["ai-pull-request-review", "issue-triage", "release-notes", "review-command"]
OTHER_INSTALLATION, OTHER_REPO = 6060, "Globex/payroll"


@pytest.fixture(autouse=True)
def engine_settings(settings):
    settings.WORKFLOW_STEP_RETRY_BASE_SECONDS = 0
    settings.GITHUB_HTTP_RETRIES = 0
    settings.AI_API_KEY, settings.AI_MODEL = "sk-test", "gpt-test"


@pytest.fixture
def connected(user):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})


@pytest.fixture
def repository(github, connected, settings):
    """GitHub's side: pull request 2 of REPO with its files; the commenter may write."""
    github.app_slug = settings.GITHUB_APP_SLUG
    pull_request_to_review(github)
    repository = github.repository(REPO)
    repository.collaborator("Codertocat", "write")
    return repository


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """Post a recorded event, signed as GitHub signs it, and process it (and its runs) at once."""

    def post(name: str, event: str, **changes) -> WebhookDelivery:
        return recorded_event_deliver(
            client, django_capture_on_commit_callbacks, name, event=event, installation_id=INSTALLATION, **changes
        )

    return post


def from_template(api, template: str, repository: str = REPO, **fields):
    return api.post(WORKFLOWS, {"template": template, "repository": repository, **fields}, format="json")


def the_run() -> WorkflowRun:
    run = WorkflowRun.objects.get()
    errors = {step.node_id: step.error for step in run.steps.all() if step.error}
    assert run.conclusion == Conclusion.SUCCESS, errors
    return run


class TestShippedTemplates:
    def test_the_four_ready_workflows_are_shipped(self):
        assert [template["name"] for template in workflow_template_list()] == SHIPPED

    @pytest.mark.parametrize("template", workflow_template_list(), ids=lambda template: template["name"])
    def test_each_template_is_a_valid_workflow_for_any_repository(self, template):
        assert set(template) == {"name", "version", "title", "description", "definition", "triggers"}
        assert isinstance(template["version"], int) and template["version"] >= 1
        definition_validate(template["definition"])
        assert template["triggers"]
        for position, config in enumerate(template["triggers"]):
            assert "repository" not in config, "the user's request names the repository"
            trigger_config_check({**config, "repository": "someone/somewhere"}, position=position)

    def test_callers_get_copies_that_cannot_change_the_shipped_templates(self):
        workflow_template_list()[0]["definition"]["nodes"].clear()

        assert workflow_template_list()[0]["definition"]["nodes"]


class TestListApi:
    def test_needs_authentication(self, anon):
        assert anon.get(TEMPLATES).status_code == 401

    def test_lists_every_template_with_its_events(self, api):
        response = api.get(TEMPLATES)

        assert response.status_code == 200
        templates = {template["name"]: template for template in response.json()["templates"]}
        assert sorted(templates) == SHIPPED
        review = templates["ai-pull-request-review"]
        assert set(review) == {"name", "version", "title", "description", "events", "definition", "triggers"}
        assert (review["version"], review["events"]) == (1, ["pull_request"])
        assert review["definition"]["concurrency"]["cancel_in_progress"] is True
        assert templates["review-command"]["triggers"] == [
            {"events": ["issue_comment"], "command": "/review", "command_permission": "write"}
        ]


class TestCreateFromTemplate:
    def test_creates_the_workflow_with_the_repository_in_its_triggers(self, api, connected):
        response = from_template(api, "issue-triage")

        assert response.status_code == 201, response.json()
        created = response.json()
        assert created["name"] == "Issue triage (template issue-triage v1)"
        assert created["is_active"] is True
        [trigger] = created["triggers"]
        assert trigger["config"] == {"events": ["issues"], "action_filter": ["opened"], "repository": REPO}
        assert [node["id"] for node in created["definition"]["nodes"]] == ["issue", "classify", "label"]
        assert [workflow["id"] for workflow in api.get(WORKFLOWS).json()["results"]] == [created["id"]]

    def test_a_name_and_is_active_may_be_given(self, api, connected):
        response = from_template(api, "release-notes", name="Notes", is_active=False)

        assert response.status_code == 201
        assert (response.json()["name"], response.json()["is_active"]) == ("Notes", False)

    def test_another_customers_repository_is_refused_as_for_a_hand_written_trigger(self, api, connected, other_user):
        github_connection(other_user, OTHER_INSTALLATION, repositories={9001: OTHER_REPO})

        response = from_template(api, "ai-pull-request-review", repository=OTHER_REPO)

        assert response.status_code == 400
        assert response.json()["detail"]["field"] == "repository"
        assert OTHER_REPO in response.json()["error"]
        assert not Workflow.objects.exists() and not Trigger.objects.exists()

    def test_a_repository_of_the_installation_that_the_users_token_does_not_see_is_refused(self, api, connected):
        response = from_template(api, "issue-triage", repository=HIDDEN)

        assert response.status_code == 400
        assert not Workflow.objects.exists()

    def test_an_unknown_template_is_refused_naming_it(self, api, connected):
        response = from_template(api, "auto-merge")

        assert response.status_code == 400
        assert "auto-merge" in response.json()["error"]
        assert not Workflow.objects.exists()

    @pytest.mark.parametrize(
        "name", ["../../settings", "../templates/issue-triage", "/etc/passwd", "issue-triage.json", "ISSUE-TRIAGE"]
    )
    def test_a_name_that_is_not_a_shipped_one_reads_no_file(self, api, connected, monkeypatch, name):
        read: list[Path] = []
        read_text = Path.read_text
        monkeypatch.setattr(Path, "read_text", lambda path, *args, **kwargs: read.append(path) or read_text(path))
        _workflow_templates.cache_clear()

        response = from_template(api, name)

        assert response.status_code == 400
        assert response.json()["detail"] == {"template": name}
        assert read and all(path.parent == WORKFLOW_TEMPLATES_DIR for path in read)
        assert not Workflow.objects.exists()

    @pytest.mark.parametrize("extra", [{"definition": {"nodes": []}}, {"triggers": []}])
    def test_a_template_with_a_definition_or_triggers_is_refused(self, api, connected, extra):
        response = from_template(api, "issue-triage", **extra)

        assert response.status_code == 400
        assert not Workflow.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            {"template": "issue-triage"},
            {"template": "issue-triage", "repository": "not a repository"},
            {"template": ["issue-triage"], "repository": REPO},
            {"template": "issue-triage", "repository": REPO, "is_active": "perhaps"},
        ],
    )
    def test_bad_input_is_a_400_and_stores_nothing(self, api, connected, body):
        assert api.post(WORKFLOWS, body, format="json").status_code == 400
        assert not Workflow.objects.exists()

    def test_needs_authentication(self, anon):
        assert from_template(anon, "issue-triage").status_code == 401


class TestEndToEnd:
    def test_ai_pull_request_review(self, api, user, repository, llm, deliver):
        answer = {
            "summary": "One bug.",
            "verdict": "REQUEST_CHANGES",
            "comments": [{"path": "app/load.py", "line": 28, "side": "RIGHT", "body": "`data or {}` hides a bug."}],
        }
        llm.answers((200, json.dumps(answer)))
        assert from_template(api, "ai-pull-request-review").status_code == 201

        deliver("pull_request__opened", "pull_request")

        the_run()
        pull_request = repository.issues[2]
        [review] = pull_request.reviews
        assert (review["state"], review["body"].split("\n")[0]) == ("CHANGES_REQUESTED", "One bug.")
        [inline] = pull_request.review_comments
        assert (inline["path"], inline["line"]) == ("app/load.py", 28)
        [summary] = pull_request.comments
        assert "One bug." in summary["body"] and "1 comments" in summary["body"]
        [check_run] = repository.check_runs
        assert (check_run["name"], check_run["status"], check_run["conclusion"]) == (
            "AI review",
            "completed",
            "failure",
        )

    def test_a_later_push_edits_the_same_summary_comment(self, api, user, repository, llm, deliver):
        llm.answers(
            (200, json.dumps({"summary": "First look.", "verdict": "COMMENT", "comments": []})),
            (200, json.dumps({"summary": "Second look.", "verdict": "APPROVE", "comments": []})),
        )
        assert from_template(api, "ai-pull-request-review").status_code == 201

        deliver("pull_request__opened", "pull_request")
        deliver("pull_request__opened", "pull_request", action="synchronize")

        assert list(WorkflowRun.objects.values_list("conclusion", flat=True)) == [Conclusion.SUCCESS] * 2
        [summary] = repository.issues[2].comments
        assert "Second look." in summary["body"] and "First look." not in summary["body"]

    def test_issue_triage_labels_the_issue_from_the_answer(self, api, user, repository, llm, deliver):
        issue = repository.issue(1, title="Crash on start", text="It crashes; the docs say nothing.")
        llm.answers((200, json.dumps({"labels": ["bug", "documentation"]})))
        assert from_template(api, "issue-triage").status_code == 201

        deliver("issues__opened", "issues")

        run = the_run()
        assert issue.labels == ["bug", "documentation"]
        assert run.steps.get(node_id="label").output == {"labels": ["bug", "documentation"]}
        [asked] = [entry for entry in llm.log if "Crash on start" in json.dumps(entry.json())]
        assert "It crashes" in json.dumps(asked.json())

    def test_release_notes_open_an_issue_holding_them(self, api, user, repository, llm, deliver):
        llm.answers((200, "## Fixes\n- Loading no longer hides a missing file."))
        assert from_template(api, "release-notes").status_code == 201

        deliver("release__published", "release")

        run = the_run()
        created = repository.issues[run.steps.get(node_id="publish").output["number"]]
        assert created.title == "Release notes for 0.0.1"
        assert "Loading no longer hides a missing file." in created.text

    def test_review_command_on_a_pull_request_answers_with_a_review(self, api, user, repository, llm, deliver):
        llm.answers((200, "The load path is fine; one nit about logging."))
        assert from_template(api, "review-command").status_code == 201
        issue = {**load_fixture("issue_comment__created")["issue"], "number": 2, "pull_request": {"url": "..."}}

        deliver("issue_comment__created", "issue_comment", comment__body="/review focus=logging", issue=issue)

        the_run()
        [answer] = repository.issues[2].comments
        assert "one nit about logging" in answer["body"] and "@Codertocat" in answer["body"]
        [asked] = [entry.json() for entry in llm.log]
        assert "Focus on: focus=logging" in json.dumps(asked)

    def test_review_command_on_a_plain_issue_does_nothing(self, api, user, repository, llm, deliver):
        plain = repository.issue(1)
        assert from_template(api, "review-command").status_code == 201

        deliver("issue_comment__created", "issue_comment", comment__body="/review")

        run = the_run()
        assert run.steps.get(node_id="on_pull_request").output == {"result": False}
        assert not plain.comments and not llm.log


class TestAddLabelsFromAnEarlierStep:
    """`github.add_labels` takes what a template renders from an AI's answer: a JSON list."""

    @pytest.fixture
    def label(self, user, repository, django_capture_on_commit_callbacks):
        def run(labels) -> WorkflowRun:
            definition = {"nodes": [{"id": "label", "type": "github.add_labels", "params": {"labels": labels}}]}
            workflow = workflow_create(owner=user, name="Label", definition=definition)
            with django_capture_on_commit_callbacks(execute=True):
                run = run_start(workflow=workflow, trigger=issue_event())
            run.refresh_from_db()
            return run

        return run

    @pytest.mark.parametrize("labels", [["bug", "question"], '["bug", "question"]', "{{ ['bug', 'question']|tojson }}"])
    def test_a_list_or_a_json_string_of_one_adds_the_labels(self, label, repository, labels):
        issue = repository.issue(1)

        run = label(labels)

        assert run.conclusion == Conclusion.SUCCESS
        assert issue.labels == ["bug", "question"]

    @pytest.mark.parametrize(
        "labels, error",
        [
            ("bug, question", "`labels` is a string but not JSON"),
            ("[]", "`labels`: [] should be non-empty"),
            ('["bug", ""]', "`labels`:"),
            ('{"name": "bug"}', "`labels`:"),
            (json.dumps(["x"] * 101), "`labels`:"),
        ],
    )
    def test_a_string_that_is_not_a_json_list_of_names_fails_the_step_before_any_write(
        self, label, repository, github, labels, error
    ):
        issue = repository.issue(1)

        run = label(labels)

        assert run.conclusion == Conclusion.FAILURE
        assert error in run.steps.get().error
        assert not issue.labels and github.count("POST", f"/repos/{REPO}/issues/1/labels") == 0
