"""`manage.py github_replay`: payload files and stored deliveries replayed to a running server,
signed as GitHub signs them, or processed in the command with each decision and run printed."""

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aiworkflow.celery import app as celery_app
from github_app.models import WebhookDelivery
from tests.conftest import FIXTURES, github_connection
from tests.workflows.test_node_reviews import INSTALLATION as REVIEWED_INSTALLATION
from tests.workflows.test_node_reviews import pull_request_to_review
from triggers.services import workflow_save
from workflows.models import WorkflowRun

# Runs are handed over at commit: the tests commit, as the command does outside them.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

INSTALLATION = 1
REPO = "Codertocat/Hello-World"
REPO_ID = 186853002
PUSH = FIXTURES / "github" / "push_5.json"  # a push to master of Codertocat/Hello-World, installation 1
CONDITION = {
    "nodes": [
        {
            "id": "ok",
            "type": "logic.condition",
            "params": {"condition": "{{ trigger.payload.ref == 'refs/heads/master' }}"},
        }
    ],
    "edges": [],
}


def replay(*args) -> str:
    out = io.StringIO()
    call_command("github_replay", *map(str, args), stdout=out)
    return out.getvalue()


def replay_refused(*args) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("github_replay", *map(str, args), stdout=out)
    return str(refused.value), out.getvalue()


def fixture_copy(directory: Path, name: str, source: Path = PUSH) -> Path:
    target = directory / name
    shutil.copyfile(source, target)
    return target


def workflow_on(owner, repository: str, **trigger):
    return workflow_save(
        owner=owner,
        name="On master pushes",
        definition=CONDITION,
        triggers=[{"repository": repository, "events": ["push"], **trigger}],
    )


@pytest.fixture
def connected(user):
    return github_connection(user, INSTALLATION, repositories={REPO_ID: REPO})


class TestLocal:
    def test_prints_the_trigger_decision_and_the_run_conclusion(self, user, connected, github, tmp_path, monkeypatch):
        monkeypatch.setitem(celery_app.conf, "task_always_eager", False)  # as outside the tests: runs go to a worker
        workflow = workflow_on(user, REPO, branches=["master"])
        workflow_on(user, REPO, branches=["release/*"])

        output = replay(fixture_copy(tmp_path, "push__master.json"), "--local")

        assert celery_app.conf.task_always_eager is False, "inline only while the command runs"

        delivery = WebhookDelivery.objects.get()
        run = WorkflowRun.objects.get()
        assert (delivery.event, delivery.status, run.workflow_id) == ("push", "processed", workflow.pk)
        assert f"delivery {delivery.delivery_id} (push, {REPO})" in output
        assert "status: processed" in output
        assert output.count("matched yes") == 1 and output.count("matched no") == 1
        assert f"run {run.pk} of workflow" in output and "completed/success" in output

    def test_every_json_file_of_a_directory_in_order(self, user, connected, github, tmp_path):
        workflow_on(user, REPO)
        fixture_copy(tmp_path, "push__b_2.json")
        fixture_copy(tmp_path, "push__a.json")
        (tmp_path / "notes.txt").write_text("not a payload")

        output = replay(tmp_path, "--local")

        assert output.index("from push__a.json") < output.index("from push__b_2.json")
        assert list(WebhookDelivery.objects.values_list("event", flat=True)) == ["push", "push"]
        assert WorkflowRun.objects.filter(conclusion="success").count() == 2

    def test_event_given_overrides_the_file_name(self, user, connected, github, tmp_path):
        workflow_on(user, REPO)

        replay(fixture_copy(tmp_path, "issues__opened.json"), "--event", "push", "--local")

        assert WebhookDelivery.objects.get().event == "push"
        assert WorkflowRun.objects.count() == 1

    def test_installation_and_repository_aim_a_fixture_at_ones_own(self, user, github, tmp_path):
        github_connection(user, 77, repositories={555: "me/mine"})
        workflow_on(user, "me/mine")

        output = replay(PUSH, "--event", "push", "--installation", 77, "--repository", "me/mine", "--local")

        delivery = WebhookDelivery.objects.get()
        payload = json.loads(bytes(delivery.payload))
        assert (delivery.installation_id, delivery.repository_full_name) == (77, "me/mine")
        assert payload["repository"]["name"] == "mine" and payload["repository"]["owner"]["login"] == "me"
        assert WorkflowRun.objects.get().repository == "me/mine"
        assert "matched yes" in output

    def test_no_candidate_is_said_so(self, connected, github):
        output = replay(PUSH, "--event", "push", "--local")

        assert "no candidate" in output
        assert WorkflowRun.objects.count() == 0


class TestFirstReview:
    def test_a_replayed_pull_request_starts_a_run_of_the_shipped_review_template(
        self, api, user, github, llm, settings
    ):
        """README, "Your first AI review": a workflow from the template, then a recorded
        pull_request aimed at one's own installation and repository and replayed here."""
        settings.AI_API_KEY, settings.AI_MODEL = "sk-test", "gpt-test"
        github.app_slug = settings.GITHUB_APP_SLUG
        pull_request_to_review(github)  # GitHub's side: installation REVIEWED_INSTALLATION and pull request 2
        github_connection(user, REVIEWED_INSTALLATION, repositories={REPO_ID: REPO})
        llm.answers((200, json.dumps({"summary": "Looks fine.", "verdict": "COMMENT", "comments": []})))
        created = api.post(
            "/api/v1/app/workflows", {"template": "ai-pull-request-review", "repository": REPO}, format="json"
        )

        output = replay(
            FIXTURES / "github" / "pull_request__opened.json", "--local", "--installation", REVIEWED_INSTALLATION
        )

        run = WorkflowRun.objects.get()
        assert str(run.workflow_id) == created.json()["id"]
        assert "matched yes" in output and "completed/success" in output
        [review] = github.repository(REPO).issues[2].reviews
        assert review["body"].startswith("Looks fine.")


class TestStoredDelivery:
    def test_replayed_and_processed_here(self, user, connected, github, tmp_path):
        replay(fixture_copy(tmp_path, "push__master.json"), "--local")
        delivery = WebhookDelivery.objects.get()
        workflow_on(user, REPO)  # saved after the first processing: only the replay can start it

        output = replay("--delivery", delivery.delivery_id, "--local")

        run = WorkflowRun.objects.get(delivery=delivery)
        assert "status: processed" in output and f"run {run.pk}" in output and "completed/success" in output

    def test_replayed_by_pk_for_the_worker(self, connected, github, tmp_path):
        replay(fixture_copy(tmp_path, "push__master.json"), "--local")
        delivery = WebhookDelivery.objects.get()

        output = replay("--delivery", delivery.pk)

        assert f"delivery {delivery.delivery_id} (push) handed to the worker" in output

    def test_an_unknown_delivery_is_refused(self):
        message, _ = replay_refused("--delivery", "no-such-delivery")

        assert "No stored delivery" in message


class TestOverHttp:
    def test_signed_and_stored_by_the_server(self, live_server, tmp_path):
        output = replay(fixture_copy(tmp_path, "push__master.json"), "--url", f"{live_server.url}/webhooks/github")

        delivery = WebhookDelivery.objects.get()
        assert delivery.event == "push" and delivery.repository_full_name == REPO
        assert f"delivery {delivery.delivery_id} (push)" in output and "HTTP 202" in output

    def test_a_wrong_secret_is_reported_as_refused(self, live_server, settings, tmp_path):
        settings.GITHUB_WEBHOOK_SECRET = ""  # the server fails closed; the command's signature is no one's

        message, output = replay_refused(
            fixture_copy(tmp_path, "push__master.json"), "--url", f"{live_server.url}/webhooks/github"
        )

        assert "HTTP 401" in output and "1 delivery" in message
        assert not WebhookDelivery.objects.exists()

    def test_an_unreachable_server_is_reported(self, tmp_path):
        message, output = replay_refused(fixture_copy(tmp_path, "push__master.json"), "--url", "http://127.0.0.1:1/")

        assert "not delivered" in output and "refused or failed" in message


class TestRefused:
    def test_a_name_without_event_and_no_event_given(self, tmp_path):
        message, _ = replay_refused(fixture_copy(tmp_path, "push.json"), "--local")

        assert "--event" in message
        assert not WebhookDelivery.objects.exists()

    @pytest.mark.parametrize(
        ("content", "expected"),
        [(b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object"), (b"\xff\xfe", "not valid JSON")],
    )
    def test_a_payload_that_is_not_a_json_object(self, tmp_path, content, expected):
        path = tmp_path / "push__bad.json"
        path.write_bytes(content)

        message, _ = replay_refused(path, "--local")

        assert expected in message
        assert not WebhookDelivery.objects.exists()

    def test_a_bad_file_stops_the_whole_directory_before_anything_is_stored(self, tmp_path):
        fixture_copy(tmp_path, "push__a.json")
        (tmp_path / "push__b.json").write_bytes(b"[]")

        replay_refused(tmp_path, "--local")

        assert not WebhookDelivery.objects.exists()

    def test_an_oversized_file(self, tmp_path):
        path = tmp_path / "push__huge.json"
        with path.open("wb") as file:
            file.truncate(25 * 1024 * 1024 + 1)

        message, _ = replay_refused(path, "--local")

        assert "25 MiB" in message
        assert not WebhookDelivery.objects.exists()

    def test_a_directory_of_too_many_files(self, tmp_path):
        for number in range(1001):
            (tmp_path / f"push__{number}.json").write_text("{}")

        message, _ = replay_refused(tmp_path, "--local")

        assert "at most 1000" in message
        assert not WebhookDelivery.objects.exists()

    def test_a_repository_that_is_not_owner_slash_name(self):
        message, _ = replay_refused(PUSH, "--event", "push", "--repository", "just-a-name", "--local")

        assert "owner/name" in message
