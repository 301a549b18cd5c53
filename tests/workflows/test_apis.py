import copy

import pytest

from github_app.models import Installation, InstallationRepository
from tests.conftest import client_for, github_connection, load_fixture
from tests.workflows.test_engine import COMMENTS, INSTALLATION, REVIEW, pull_request_to_review
from triggers.models import Trigger
from workflows.models import Workflow, WorkflowRun

WORKFLOWS = "/api/v1/app/workflows"
TRIGGER = {"config": {"repository": "Codertocat/Hello-World", "events": ["pull_request"], "action_filter": ["opened"]}}


@pytest.fixture(autouse=True)
def llm_settings(settings):
    settings.AI_BASE_URL = "https://llm.test/v1"
    settings.AI_MODEL = "gpt-test"


@pytest.fixture(autouse=True)
def connected(user):
    """The user's installation covers the repository the triggers name."""
    installation = Installation.objects.create(
        installation_id=INSTALLATION,
        account_id=1,
        account_login="Codertocat",
        account_type="User",
        repository_selection="selected",
    )
    InstallationRepository.objects.create(
        installation=installation, repository_id=1, full_name="Codertocat/Hello-World"
    )
    github_connection(user, INSTALLATION, repositories={1: "Codertocat/Hello-World"})


def create(api, **changes):
    body = {"name": "AI review", "definition": REVIEW, "triggers": [TRIGGER], **changes}
    return api.post(WORKFLOWS, body, format="json")


def sample_payload() -> dict:
    payload = load_fixture("pull_request__opened")
    payload["installation"] = {"id": INSTALLATION}
    return payload


class TestCrud:
    def test_create_and_read(self, api):
        response = create(api)

        assert response.status_code == 201
        body = response.json()
        assert (body["name"], body["version"], body["is_active"]) == ("AI review", 1, True)
        assert body["definition"] == REVIEW
        assert body["triggers"] == [{"config": TRIGGER["config"], "is_active": True}]
        assert api.get(f"{WORKFLOWS}/{body['id']}").json() == body
        assert [item["id"] for item in api.get(WORKFLOWS).json()["results"]] == [body["id"]]

    def test_a_changed_definition_makes_a_new_version(self, api):
        workflow_id = create(api).json()["id"]
        changed = copy.deepcopy(REVIEW)
        changed["nodes"][2]["params"]["body"] = "AI says: {{ nodes.review.text }}"

        renamed = api.patch(f"{WORKFLOWS}/{workflow_id}", {"name": "Renamed"}, format="json").json()
        updated = api.patch(f"{WORKFLOWS}/{workflow_id}", {"definition": changed}, format="json").json()

        assert (renamed["name"], renamed["version"]) == ("Renamed", 1)
        assert (updated["version"], updated["definition"]) == (2, changed)
        assert Workflow.objects.get(pk=workflow_id).versions.count() == 2

    def test_triggers_are_replaced(self, api):
        workflow_id = create(api).json()["id"]
        other = {"config": {"repository": "codertocat/hello-world", "events": ["push"], "branches": ["main"]}}

        body = api.patch(f"{WORKFLOWS}/{workflow_id}", {"triggers": [other]}, format="json").json()

        assert body["triggers"] == [{"config": other["config"], "is_active": True}]
        assert Trigger.objects.count() == 1

    def test_delete_hides_the_workflow_and_keeps_its_runs(
        self, api, github, llm, django_capture_on_commit_callbacks, user
    ):
        workflow_id = create(api).json()["id"]
        pull_request_to_review(github)
        llm.answers((200, "ok"))
        with django_capture_on_commit_callbacks(execute=True):
            api.post(
                f"{WORKFLOWS}/{workflow_id}/test", {"event": "pull_request", "payload": sample_payload()}, format="json"
            )

        assert api.delete(f"{WORKFLOWS}/{workflow_id}").status_code == 204
        assert api.get(f"{WORKFLOWS}/{workflow_id}").status_code == 404
        assert api.get(WORKFLOWS).json()["results"] == []
        assert WorkflowRun.objects.filter(workflow_id=workflow_id).count() == 1

    def test_needs_a_jwt(self, client, db):
        assert client.get(WORKFLOWS).status_code == 401


class TestRefusals:
    @pytest.mark.parametrize(
        "definition, node",
        [
            (
                {
                    "nodes": [
                        {"id": "a", "type": "logic.condition", "params": {"condition": "1"}},
                        {"id": "b", "type": "logic.condition", "params": {"condition": "1"}},
                    ],
                    "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}],
                },
                None,
            ),
            ({"nodes": [{"id": "x", "type": "shell.exec", "params": {}}]}, "x"),
            ({"nodes": [{"id": "ask", "type": "ai.prompt", "params": {"prompt": "hi", "temprature": 1}}]}, "ask"),
            ({"nodes": [{"id": "ask", "type": "ai.prompt", "params": {"prompt": "{{ broken"}}]}, "ask"),
            (
                {"nodes": [{"id": "ask", "type": "ai.prompt", "params": {"prompt": "{{ ''.__class__.__mro__ }}"}}]},
                "ask",
            ),
        ],
    )
    def test_bad_definitions_are_a_400_naming_the_node(self, api, definition, node):
        response = create(api, definition=definition)

        assert response.status_code == 400
        assert set(response.json()) == {"error", "detail"}
        assert response.json()["detail"].get("node") == node
        assert not Workflow.objects.exists()

    @pytest.mark.parametrize(
        "config, field",
        [
            ({"events": ["push"]}, "repository"),
            ({"repository": "not a repo", "events": ["push"]}, "repository"),
            ({"repository": "o/r", "events": []}, "events"),
            ({"repository": "o/r", "events": ["pull_request_target"]}, "events"),
            ({"repository": "o/r", "events": ["push"], "colour": "red"}, "colour"),
            (
                {
                    "repository": "Codertocat/Hello-World",
                    "events": ["push"],
                    "branches": ["main"],
                    "branches_ignore": ["x"],
                },
                "branches",
            ),
            ({"repository": "Codertocat/Hello-World", "events": ["push"], "paths": ["docs/[z-a]"]}, "paths"),
            ({"repository": "Codertocat/Hello-World", "events": ["push"], "ignore_bots": "yes"}, "ignore_bots"),
            ({"repository": "someone-else/private", "events": ["push"]}, "repository"),
        ],
    )
    def test_bad_triggers_are_a_400_and_nothing_is_stored(self, api, config, field):
        response = create(api, triggers=[{"config": config}])

        assert response.status_code == 400
        assert response.json()["detail"].get("field") == field
        assert not Workflow.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [{}, {"name": "x"}, {"name": "", "definition": REVIEW}, {"name": "x", "definition": REVIEW, "triggers": [{}]}],
    )
    def test_missing_fields_are_a_400(self, api, body):
        assert api.post(WORKFLOWS, body, format="json").status_code == 400


class TestOwnership:
    @pytest.mark.parametrize(
        "method, suffix", [("get", ""), ("patch", ""), ("delete", ""), ("get", "/runs"), ("post", "/test")]
    )
    def test_another_users_workflow_is_a_404(self, api, other_user, method, suffix):
        workflow_id = create(api).json()["id"]

        response = getattr(client_for(other_user), method)(f"{WORKFLOWS}/{workflow_id}{suffix}", {}, format="json")

        assert response.status_code == 404
        assert Workflow.objects.get(pk=workflow_id).deleted_at is None

    def test_another_users_run_is_a_404(self, api, user, other_user, github, llm, django_capture_on_commit_callbacks):
        workflow_id = create(api).json()["id"]
        pull_request_to_review(github)
        llm.answers((200, "ok"))
        with django_capture_on_commit_callbacks(execute=True):
            run_id = api.post(
                f"{WORKFLOWS}/{workflow_id}/test", {"event": "pull_request", "payload": sample_payload()}, format="json"
            ).json()["id"]

        assert client_for(other_user).get(f"/api/v1/app/runs/{run_id}").status_code == 404
        assert client_for(other_user).post(f"/api/v1/app/runs/{run_id}/rerun").status_code == 404


class TestRuns:
    @pytest.fixture
    def workflow_id(self, api):
        return create(api).json()["id"]

    def test_a_dry_test_run_executes_and_writes_nothing(
        self, api, workflow_id, github, llm, django_capture_on_commit_callbacks
    ):
        pull_request = pull_request_to_review(github)
        llm.answers((200, "Would comment this"))

        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(
                f"{WORKFLOWS}/{workflow_id}/test",
                {"event": "pull_request", "payload": sample_payload(), "dry_run": True},
                format="json",
            )

        assert response.status_code == 202
        run = api.get(f"/api/v1/app/runs/{response.json()['id']}").json()
        assert (run["status"], run["conclusion"], run["dry_run"]) == ("completed", "success", True)
        assert [step["node_id"] for step in run["steps"]] == ["pr", "review", "comment"]
        assert run["steps"][2]["output"]["would"]["params"]["body"] == "Would comment this"
        assert pull_request.comments == [] and github.requests("POST", COMMENTS) == []

    def test_a_sample_on_an_installation_that_is_not_yours_is_a_403(self, api, workflow_id):
        payload = {**sample_payload(), "installation": {"id": 999999}}

        response = api.post(
            f"{WORKFLOWS}/{workflow_id}/test", {"event": "pull_request", "payload": payload}, format="json"
        )

        assert response.status_code == 403
        assert not WorkflowRun.objects.exists()

    @pytest.mark.parametrize(
        "body", [{"event": "pull_request"}, {"event": "nonsense", "payload": {}}, {"event": "push", "payload": []}]
    )
    def test_bad_test_requests_are_a_400(self, api, workflow_id, body):
        assert api.post(f"{WORKFLOWS}/{workflow_id}/test", body, format="json").status_code == 400

    def test_rerun_runs_the_same_version_again(self, api, workflow_id, github, llm, django_capture_on_commit_callbacks):
        pull_request_to_review(github)
        llm.answers((200, "first"), (200, "second"))
        with django_capture_on_commit_callbacks(execute=True):
            first = api.post(
                f"{WORKFLOWS}/{workflow_id}/test", {"event": "pull_request", "payload": sample_payload()}, format="json"
            ).json()
        api.patch(
            f"{WORKFLOWS}/{workflow_id}",
            {"name": "renamed", "definition": {**REVIEW, "edges": REVIEW["edges"][:1]}},
            format="json",
        )

        with django_capture_on_commit_callbacks(execute=True):
            rerun = api.post(f"/api/v1/app/runs/{first['id']}/rerun").json()

        rerun = api.get(f"/api/v1/app/runs/{rerun['id']}").json()
        assert (rerun["rerun_of"], rerun["version"], rerun["conclusion"]) == (first["id"], 1, "success")
        runs = api.get(f"{WORKFLOWS}/{workflow_id}/runs").json()["results"]
        assert [item["id"] for item in runs] == [rerun["id"], first["id"]]
