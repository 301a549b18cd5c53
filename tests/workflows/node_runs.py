"""Runs of one node at a time, through the engine, for the tests of the issue, push and file nodes.

Alice is connected to installation 5150, which covers Codertocat/Hello-World and
Codertocat/secret; her own GitHub token sees Hello-World only, so a node naming secret must be
refused before any request reaches GitHub.
"""

import pytest

from github_app.models import Installation, InstallationRepository
from tests.conftest import github_connection, load_fixture
from tests.github_double import GitHub, Repository
from workflows.models import Workflow, WorkflowRun
from workflows.services import run_start, workflow_create

INSTALLATION = 5150
REPO = "Codertocat/Hello-World"
REPO_ID = 186853002
HIDDEN = "Codertocat/secret"


@pytest.fixture(autouse=True)
def step_retries_at_once(settings):
    settings.WORKFLOW_STEP_RETRY_BASE_SECONDS = 0


@pytest.fixture
def tenant(user):
    connection = github_connection(user, INSTALLATION, repositories={REPO_ID: REPO})
    installation = Installation.objects.get(installation_id=INSTALLATION)
    InstallationRepository.objects.create(installation=installation, repository_id=777, full_name=HIDDEN)
    return connection


@pytest.fixture
def repository(github: GitHub, settings) -> Repository:
    """GitHub's side: both repositories on the installation; the App's bot has the test slug."""
    github.app_slug = settings.GITHUB_APP_SLUG
    repository = github.repository(REPO, id=REPO_ID)
    github.installation(INSTALLATION, repositories=[repository, github.repository(HIDDEN, id=777)])
    return repository


def event(name: str, payload: dict, action: str = "") -> dict:
    payload = {**payload, "installation": {"id": INSTALLATION}}
    return {
        "event": name,
        "action": action,
        "delivery_id": None,
        "installation_id": INSTALLATION,
        "repository": REPO,
        "sender": "Codertocat",
        "payload": payload,
    }


def issue_event(number: int = 1) -> dict:
    payload = load_fixture("issues__opened")
    payload["issue"]["number"] = number
    return event("issues", payload, "opened")


def single_node(user, node_type: str, params: dict, *, name: str = "One node") -> Workflow:
    definition = {"nodes": [{"id": "step", "type": node_type, "params": params}], "edges": []}
    return workflow_create(owner=user, name=name, definition=definition)


@pytest.fixture
def run_now(django_capture_on_commit_callbacks):
    """Start a run and execute it (eagerly) before returning it."""

    def run(workflow: Workflow, trigger: dict, **kwargs) -> WorkflowRun:
        with django_capture_on_commit_callbacks(execute=True):
            created = run_start(workflow=workflow, trigger=trigger, **kwargs)
        created.refresh_from_db()
        return created

    return run
