"""A run cannot leave its tenant: every attack here is one a user with an account of their own
could make, and none may reach another customer's installation or repository, or any
repository the attacker's own GitHub token does not see.

Alice is connected to installation 5150, which covers Codertocat/Hello-World and
Codertocat/secret; her own GitHub token sees only Hello-World (a collaborator on one repository
of an organisation's installation). Bob, another customer, has installation 222 with
victimorg/secret.
"""

import pytest

from github_app.models import Installation, InstallationRepository
from integrations.models import OAuthToken
from tests.conftest import client_for, github_connection, load_fixture
from workflows.models import Conclusion, WorkflowRun
from workflows.services import run_start, workflow_create
from workflows.tasks import execute_run

INSTALLATION = 5150
REPO = "Codertocat/Hello-World"
HIDDEN = "Codertocat/secret"
VICTIM_INSTALLATION = 222
VICTIM_REPO = "victimorg/secret"
WORKFLOWS = "/api/v1/app/workflows"


@pytest.fixture
def tenants(user, other_user):
    connection = github_connection(user, INSTALLATION, repositories={186853002: REPO})
    installation = Installation.objects.get(installation_id=INSTALLATION)
    InstallationRepository.objects.create(installation=installation, repository_id=777, full_name=HIDDEN)
    github_connection(other_user, VICTIM_INSTALLATION, repositories={999: VICTIM_REPO})
    return connection


def sample(**changes) -> dict:
    payload = load_fixture("pull_request__opened")
    payload["installation"] = {"id": INSTALLATION}
    payload["repository"] = {**payload["repository"], "full_name": REPO}
    payload.update(changes)
    return payload


def file_workflow(user, **params):
    definition = {
        "nodes": [{"id": "read", "type": "github.get_file", "params": {"path": "README.md", **params}}],
        "edges": [],
    }
    return workflow_create(owner=user, name="Read a file", definition=definition)


def github_tenants(github, path: str = "README.md") -> None:
    """GitHub's side of the tenants: each installation covers its repositories, and each
    repository holds `path`, so that a read that crossed into another tenant would succeed."""
    repositories = {
        name: github.repository(name, id=number)
        for name, number in ((REPO, 186853002), (HIDDEN, 777), (VICTIM_REPO, 999))
    }
    github.installation(INSTALLATION, repositories=[repositories[REPO], repositories[HIDDEN]])
    github.installation(VICTIM_INSTALLATION, repositories=[repositories[VICTIM_REPO]])
    for repository in repositories.values():
        repository.file(path, "hi")


def run_sample(api, workflow, django_capture_on_commit_callbacks, **body) -> dict:
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"{WORKFLOWS}/{workflow.pk}/test", {"event": "pull_request", "payload": sample(), **body}, format="json"
        )
    assert response.status_code == 202, response.json()
    return api.get(f"/api/v1/app/runs/{response.json()['id']}").json()


def push_trigger() -> dict:
    return {
        "event": "push",
        "action": "",
        "delivery_id": None,
        "installation_id": INSTALLATION,
        "repository": REPO,
        "sender": "octocat",
        "payload": {},
    }


def requests_to_other_tenants(github) -> list[str]:
    return [
        request.path
        for request in github.requests()
        if f"/installations/{VICTIM_INSTALLATION}/" in request.path
        or "victimorg" in request.path
        or "secret" in request.path
    ]


@pytest.mark.parametrize(
    "first_step, second_step",
    [
        # The run's own trigger, rewritten for every later step.
        ("{{ trigger.update({'installation_id': 222, 'repository': 'victimorg/secret'}) or 'x' }}", {}),
        # The payload's installation, which a GitHub node could fall back on.
        (
            "{{ trigger.payload.installation.update({'id': 222}) or trigger.payload.repository.update({'full_name': 'victimorg/secret'}) or 'x' }}",
            {},
        ),
        # An earlier step's output, rewritten so a later template reads the victim's names.
        ("x", {"repository": "{{ nodes.first.update({'repo': 'victimorg/secret'}) or nodes.first.repo }}"}),
    ],
    ids=["trigger", "trigger.payload.installation", "nodes"],
)
def test_a_template_cannot_rewrite_the_run_context(
    api, user, tenants, github, django_capture_on_commit_callbacks, first_step, second_step
):
    definition = {
        "nodes": [
            {"id": "first", "type": "logic.condition", "params": {"condition": first_step}},
            {"id": "read", "type": "github.get_file", "params": {"path": "SECRET.md", **second_step}},
        ],
        "edges": [],
    }
    workflow = workflow_create(owner=user, name="Rewrite", definition=definition)
    github_tenants(github, path="SECRET.md")

    run = run_sample(api, workflow, django_capture_on_commit_callbacks, dry_run=True)

    assert requests_to_other_tenants(github) == []
    stored = WorkflowRun.objects.get(pk=run["id"])
    assert (stored.installation_id, stored.repository) == (INSTALLATION, REPO)
    assert stored.trigger["installation_id"] == INSTALLATION and stored.payload["installation"] == {"id": INSTALLATION}
    refused = [step for step in run["steps"] if step["conclusion"] == "failure"]
    assert refused and "Template error" in refused[0]["error"]


class TestRepositoryAccess:
    def test_a_node_cannot_name_a_repository_the_users_own_token_does_not_see(
        self, api, user, tenants, github_http, django_capture_on_commit_callbacks
    ):
        workflow = file_workflow(user, repository=HIDDEN)

        run = run_sample(api, workflow, django_capture_on_commit_callbacks)

        assert run["conclusion"] == "failure"
        assert f"{HIDDEN} is not among the repositories" in run["steps"][0]["error"]
        assert len(github_http.calls) == 0

    def test_a_node_cannot_name_another_customers_repository(
        self, api, user, tenants, github_http, django_capture_on_commit_callbacks
    ):
        workflow = file_workflow(user, repository=VICTIM_REPO)

        run = run_sample(api, workflow, django_capture_on_commit_callbacks)

        assert run["conclusion"] == "failure" and len(github_http.calls) == 0

    def test_a_node_reads_a_repository_it_reaches(self, api, user, tenants, github, django_capture_on_commit_callbacks):
        github_tenants(github)

        run = run_sample(api, file_workflow(user), django_capture_on_commit_callbacks)

        assert run["conclusion"] == "success" and run["steps"][0]["output"]["content"] == "hi"

    @pytest.mark.parametrize(
        "payload",
        [
            {"repository": {"full_name": HIDDEN}},
            {"repository": {"full_name": VICTIM_REPO}},
            {"installation": {"id": VICTIM_INSTALLATION}, "repository": {"full_name": VICTIM_REPO}},
            {"installation": {"id": True}},
            {"installation": None, "repository": {"full_name": REPO}},
        ],
    )
    def test_a_test_payload_naming_what_the_user_does_not_reach_is_refused(self, api, user, tenants, payload):
        workflow = file_workflow(user)

        response = api.post(
            f"{WORKFLOWS}/{workflow.pk}/test", {"event": "pull_request", "payload": sample(**payload)}, format="json"
        )

        assert response.status_code in (400, 403), response.json()
        assert set(response.json()) == {"error", "detail"}
        assert not WorkflowRun.objects.exists()

    def test_a_trigger_on_a_repository_the_user_does_not_see_is_refused(self, api, tenants):
        definition = {"nodes": [{"id": "ok", "type": "logic.condition", "params": {"condition": "true"}}], "edges": []}
        body = {
            "name": "Spy",
            "definition": definition,
            "triggers": [{"config": {"repository": HIDDEN, "events": ["push"]}}],
        }

        response = api.post(WORKFLOWS, body, format="json")

        assert response.status_code == 400 and response.json()["detail"]["field"] == "repository"


class TestRevokedConnection:
    def test_a_rerun_after_revoke_makes_no_request(
        self, api, user, tenants, github, github_http, django_capture_on_commit_callbacks
    ):
        github_tenants(github)
        first = run_sample(api, file_workflow(user), django_capture_on_commit_callbacks, dry_run=False)
        assert first["conclusion"] == "success"
        calls_before = len(github_http.calls)
        assert api.delete(f"/api/v1/app/integrations/{tenants.pk}").status_code == 200

        with django_capture_on_commit_callbacks(execute=True):
            rerun_id = api.post(f"/api/v1/app/runs/{first['id']}/rerun").json()["id"]

        rerun = api.get(f"/api/v1/app/runs/{rerun_id}").json()
        assert rerun["conclusion"] == "failure"
        assert "no longer connected" in rerun["steps"][0]["error"]
        assert len(github_http.calls) == calls_before

    def test_a_narrowed_connection_stops_reaching_the_repository(
        self, user, tenants, github_http, django_capture_on_commit_callbacks
    ):
        workflow = file_workflow(user)
        tenants.repository_access.all().delete()  # the user lost access to Hello-World on GitHub

        with django_capture_on_commit_callbacks(execute=True):
            run = run_start(workflow=workflow, trigger=push_trigger())

        run.refresh_from_db()
        assert run.conclusion == Conclusion.FAILURE and len(github_http.calls) == 0
        assert "is not among the repositories" in run.steps.get().error


class TestPathsStayInTheRepository:
    @pytest.mark.parametrize(
        "params, field",
        [
            ({"path": "../../../../installation/repositories"}, "path"),
            ({"path": "docs/../../../installation/repositories"}, "path"),
            ({"path": "/installation/repositories"}, "path"),
            ({"path": "READ\nME.md"}, "path"),
            ({"path": "README.md\x7f"}, "path"),
            ({"path": "README.md", "ref": "../../installation"}, "ref"),
            ({"path": "README.md", "ref": "main\x1b"}, "ref"),
        ],
    )
    def test_get_file_refuses_paths_that_climb_out(
        self, api, user, tenants, github_http, django_capture_on_commit_callbacks, params, field
    ):
        run = run_sample(api, file_workflow(user, **params), django_capture_on_commit_callbacks)

        assert run["conclusion"] == "failure"
        assert f"`{field}`" in run["steps"][0]["error"]
        assert len(github_http.calls) == 0

    @pytest.mark.parametrize(
        "sha", ["../../installation/repositories", "main", "abc", "g" * 40, "a" * 65, "a" * 39 + "/"]
    )
    def test_get_commit_needs_a_commit_sha(
        self, api, user, tenants, github_http, django_capture_on_commit_callbacks, sha
    ):
        definition = {"nodes": [{"id": "commit", "type": "github.get_commit", "params": {"sha": sha}}], "edges": []}
        workflow = workflow_create(owner=user, name="Commit", definition=definition)

        run = run_sample(api, workflow, django_capture_on_commit_callbacks)

        assert run["conclusion"] == "failure" and "not a commit SHA" in run["steps"][0]["error"]
        assert len(github_http.calls) == 0

    def test_odd_characters_in_a_path_stay_part_of_the_file_name(
        self, api, user, tenants, github, django_capture_on_commit_callbacks
    ):
        github_tenants(github, path="a?ref=evil#x")

        run = run_sample(api, file_workflow(user, path="a?ref=evil#x"), django_capture_on_commit_callbacks)

        assert run["conclusion"] == "success"
        assert github.requests()[-1].path.endswith("/contents/a%3Fref%3Devil%23x")

    @pytest.mark.parametrize("repository", ["../..", "../secret", "Codertocat/..", "./x", "a/."])
    def test_a_repository_name_of_dots_is_no_repository(
        self, api, user, tenants, github_http, django_capture_on_commit_callbacks, repository
    ):
        run = run_sample(api, file_workflow(user, repository=repository), django_capture_on_commit_callbacks)

        assert run["conclusion"] == "failure" and "is not owner/name" in run["steps"][0]["error"]
        assert len(github_http.calls) == 0


class TestWorkerLost:
    def test_a_run_that_keeps_killing_its_worker_ends_failure(
        self, user, tenants, github_http, settings, django_capture_on_commit_callbacks
    ):
        """Each lost worker left the run's delivery count raised (a killed worker never releases
        it); the next worker to take the message stops the run instead of running it again."""
        workflow = file_workflow(user)
        run = run_start(workflow=workflow, trigger=push_trigger())
        WorkflowRun.objects.filter(pk=run.pk).update(
            deliveries=settings.WORKFLOW_RUN_MAX_DELIVERIES, status="in_progress"
        )

        execute_run.delay(str(run.pk))

        run.refresh_from_db()
        assert (run.status, run.conclusion) == ("completed", Conclusion.FAILURE)
        assert run.error.startswith("Worker lost")
        assert run.steps.get().conclusion == Conclusion.CANCELLED
        assert len(github_http.calls) == 0

    def test_a_finished_attempt_releases_the_count(self, user, tenants, github, django_capture_on_commit_callbacks):
        github_tenants(github)
        with django_capture_on_commit_callbacks(execute=True):
            run = run_start(workflow=file_workflow(user), trigger=push_trigger())

        run.refresh_from_db()
        assert (run.conclusion, run.deliveries) == (Conclusion.SUCCESS, 0)


def test_another_users_connection_never_lends_its_access(
    user, other_user, tenants, github_http, django_capture_on_commit_callbacks
):
    """Bob reaching Hello-World in the same installation does not let Alice's revoked
    connection reach it."""
    github_connection(other_user, INSTALLATION, repositories={186853002: REPO})
    OAuthToken.objects.filter(pk=tenants.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        run = run_start(workflow=file_workflow(user), trigger=push_trigger())

    run.refresh_from_db()
    assert run.conclusion == Conclusion.FAILURE and len(github_http.calls) == 0
    assert client_for(user).get(f"/api/v1/app/runs/{run.pk}").json()["steps"][0]["conclusion"] == "failure"
