"""Comment commands: a trigger's `command` starts a run when a collaborator with enough of a role
comments it, and gives the run its arguments."""

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from github_app.models import WebhookDelivery
from github_app.webhooks.deliveries import deliveries_relay
from tests.conftest import github_connection, load_fixture
from tests.workflows.test_engine import INSTALLATION, REPO
from triggers.filters import MAX_COMMAND_ARGS, command_arguments, trigger_evaluate
from triggers.services import TriggerInvalid, trigger_config_check, workflow_save
from workflows.models import Conclusion, WorkflowRun

TEST = "/api/v1/app/triggers/test"
WORKFLOWS = "/api/v1/app/workflows"
PERMISSION = f"/repos/{REPO}/collaborators/Codertocat/permission"
COMMENT_EVENTS = ["issue_comment", "pull_request_review_comment"]
# The run's one step renders the command it was given: true only for `/review focus=security`.
ECHO = {
    "nodes": [
        {
            "id": "saw",
            "type": "logic.condition",
            "params": {
                "condition": "{{ trigger.command.name == '/review' and trigger.command.args == 'focus=security' }}"
            },
        }
    ],
    "edges": [],
}


@pytest.fixture(autouse=True)
def client_retries_spent(settings):
    settings.GITHUB_HTTP_RETRIES = 0


@pytest.fixture
def repository(github, connected):
    repository = github.repository(REPO, id=186853002)
    github.installation(INSTALLATION, repositories=[repository])
    repository.collaborator("Codertocat", "write")
    return repository


@pytest.fixture
def connected(user):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})


def on_command(user, command: str = "/review", name: str = "Review on command", **config):
    trigger = {"repository": REPO, "events": ["issue_comment"], "command": command, **config}
    return workflow_save(owner=user, name=name, definition=ECHO, triggers=[trigger])


def comment(deliver, body: str, *, event: str = "issue_comment", **changes) -> WebhookDelivery:
    delivery = deliver("issue_comment__created", event, comment__body=body, **changes)
    delivery.refresh_from_db()
    return delivery


def permission_asked(github) -> int:
    return github.count("GET", PERMISSION)


class TestCommandArguments:
    @pytest.mark.parametrize(
        "body, args",
        [
            ("/review", ""),
            ("/review focus=security", "focus=security"),
            ("/review   focus=security  \nand more on the next line", "focus=security"),
            ("  /review now\r\nthanks", "now"),
            ("/reviewer", None),
            ("/review-all", None),
            ("please /review", None),
            ("LGTM\n/review", None),
            ("", None),
        ],
    )
    def test_the_first_line_starts_with_the_command_as_a_whole_word(self, body, args):
        assert command_arguments("/review", body) == args

    def test_arguments_are_bounded(self):
        assert command_arguments("/review", "/review " + "x" * 5000) == "x" * MAX_COMMAND_ARGS

    def test_a_body_that_is_not_text_gives_no_command(self):
        assert command_arguments("/review", None) is None


class TestEvaluation:
    config = {"repository": REPO, "events": COMMENT_EVENTS, "command": "/review"}

    def payload(self, body: str, **changes) -> dict:
        return {**load_fixture("issue_comment__created"), "comment": {"body": body}, **changes}

    def test_a_new_comment_giving_the_command_matches(self):
        evaluation = trigger_evaluate(self.config, "issue_comment", self.payload("/review focus=security"))

        assert evaluation.matched
        assert 'command: "/review" matched, args "focus=security"' in evaluation.reasons
        assert "command_permission: checked at dispatch time (needs write)" in evaluation.reasons

    def test_an_edited_comment_does_not(self):
        evaluation = trigger_evaluate(
            self.config, "issue_comment", self.payload("/review", action="edited", changes={})
        )

        assert not evaluation.matched
        assert 'command: "issue_comment" with action "edited" is not a new comment' in evaluation.reasons

    @pytest.mark.parametrize(
        "sender", [{"login": "renovate[bot]", "type": "Bot"}, {"login": "helper", "type": "Bot"}, {"login": "x[bot]"}]
    )
    def test_a_bot_never_gives_a_command_even_with_ignore_bots_false(self, sender):
        config = {**self.config, "ignore_bots": False}

        evaluation = trigger_evaluate(config, "issue_comment", self.payload("/review", sender=sender))

        assert not evaluation.matched
        assert f'command: sender "{sender["login"]}" is a bot: bots never give commands' in evaluation.reasons


class TestConfigCheck:
    @pytest.mark.parametrize(
        "command", ["review", "/r", "/" + "a" * 51, "/re view", "/review!", "/revíew", 7, "", None]
    )
    def test_a_malformed_command_is_refused_naming_the_field(self, command):
        with pytest.raises(TriggerInvalid) as refused:
            trigger_config_check({"repository": REPO, "events": ["issue_comment"], "command": command})

        assert refused.value.detail["field"] == "command"

    @pytest.mark.parametrize("command", ["/re", "/" + "a" * 50, "/fix_all-now2"])
    def test_well_formed_commands_pass(self, command):
        trigger_config_check({"repository": REPO, "events": COMMENT_EVENTS, "command": command})

    @pytest.mark.parametrize("events", [["push"], ["issue_comment", "pull_request"], ["issues"]])
    def test_a_command_needs_comment_events_only(self, events):
        with pytest.raises(TriggerInvalid) as refused:
            trigger_config_check({"repository": REPO, "events": events, "command": "/review"})

        assert refused.value.detail["field"] == "events"

    @pytest.mark.parametrize(
        "config",
        [
            {"command": "/review", "command_permission": "owner"},
            {"command": "/review", "command_permission": ["write"]},
            {"command_permission": "write"},
        ],
    )
    def test_command_permission_is_a_role_and_needs_a_command(self, config):
        with pytest.raises(TriggerInvalid) as refused:
            trigger_config_check({"repository": REPO, "events": ["issue_comment"], **config})

        assert refused.value.detail["field"] == "command_permission"

    def test_the_api_answers_400_naming_the_field_and_stores_nothing(self, api):
        trigger = {"repository": REPO, "events": ["push"], "command": "/review"}
        response = api.post(
            WORKFLOWS, {"name": "Bad", "definition": ECHO, "triggers": [{"config": trigger}]}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["detail"]["field"] == "events"
        assert not WorkflowRun.objects.exists()


class TestDispatch:
    def test_a_writer_commenting_the_command_starts_a_run_with_its_arguments(
        self, user, installation, deliver, github, repository
    ):
        workflow = on_command(user)

        delivery = comment(deliver, "/review focus=security\nThanks!")

        assert (delivery.status, delivery.runs_started) == ("processed", 1)
        run = WorkflowRun.objects.get()
        assert run.workflow == workflow and run.conclusion == Conclusion.SUCCESS
        assert run.trigger["command"] == {"name": "/review", "args": "focus=security"}
        assert run.steps.get().output == {"result": True}, "the templates saw the command and its arguments"
        assert permission_asked(github) == 1

    def test_a_review_comment_gives_the_command_too(self, user, installation, deliver, github, repository):
        on_command(user, events=["pull_request_review_comment"])
        pull_request = {"number": 2, "draft": False, "base": {"ref": "main"}, "user": {"login": "Codertocat"}}

        comment(deliver, "/review", event="pull_request_review_comment", pull_request=pull_request)

        assert WorkflowRun.objects.get().trigger["command"] == {"name": "/review", "args": ""}

    @pytest.mark.parametrize("body", ["/reviewer please", "Please /review", "LGTM"])
    def test_no_run_and_no_question_to_github_when_the_comment_gives_no_command(
        self, user, installation, deliver, github, repository, body
    ):
        on_command(user)

        delivery = comment(deliver, body)

        assert (delivery.status, delivery.runs_started) == ("processed", 0)
        assert permission_asked(github) == 0

    @pytest.mark.parametrize(
        "role, needed, starts",
        [
            ("read", "write", False),
            ("triage", "write", False),
            ("write", "write", True),
            ("maintain", "write", True),
            ("admin", "maintain", True),
            ("write", "maintain", False),
            ("read", "read", True),
            ("triage", "triage", True),
            ("security-reviewer", "read", True),  # a custom role counts as the base permission it grants
            ("security-reviewer", "triage", False),
        ],
    )
    def test_the_commenters_role_must_reach_the_command_permission(
        self, user, installation, deliver, github, repository, role, needed, starts
    ):
        repository.collaborator("Codertocat", role)
        on_command(user, command_permission=needed)

        delivery = comment(deliver, "/review")

        assert delivery.runs_started == (1 if starts else 0)
        assert WorkflowRun.objects.exists() is starts

    def test_a_reader_starts_nothing_on_a_trigger_needing_write_by_default(
        self, user, installation, deliver, github, repository
    ):
        repository.collaborator("Codertocat", "read")
        on_command(user)

        delivery = comment(deliver, "/review")

        assert (delivery.status, delivery.runs_started) == ("processed", 0)
        assert permission_asked(github) == 1

    def test_someone_who_is_not_a_collaborator_starts_nothing(self, user, installation, deliver, github, repository):
        repository.collaborators.clear()
        on_command(user, command_permission="read")

        delivery = comment(deliver, "/review")

        assert (delivery.status, delivery.runs_started) == ("processed", 0)
        assert permission_asked(github) == 1

    def test_a_bot_never_starts_a_command_even_with_ignore_bots_false(
        self, user, installation, deliver, github, repository
    ):
        repository.collaborator("renovate[bot]", "admin")
        on_command(user, ignore_bots=False)

        delivery = comment(deliver, "/review", sender={"login": "renovate[bot]", "id": 2, "type": "Bot"})

        assert (delivery.status, delivery.runs_started) == ("processed", 0)
        assert github.count("GET") == 0

    def test_the_apps_own_comment_never_starts_a_command(
        self, user, installation, deliver, github, repository, settings
    ):
        login = f"{settings.GITHUB_APP_SLUG}[bot]"
        repository.collaborator(login, "admin")
        on_command(user, ignore_bots=False)

        delivery = comment(deliver, "/review", sender={"login": login, "id": 3, "type": "User"})

        assert (delivery.status, delivery.runs_started) == ("processed", 0)
        assert github.count("GET") == 0

    def test_workflows_with_different_commands_each_get_their_own(
        self, user, installation, deliver, github, repository
    ):
        review = on_command(user, "/review", name="Review")
        explain = on_command(user, "/explain", name="Explain")
        plain = workflow_save(
            owner=user,
            name="Any comment",
            definition={"nodes": [{"id": "ok", "type": "logic.condition", "params": {"condition": "yes"}}]},
            triggers=[{"repository": REPO, "events": ["issue_comment"]}],
        )

        comment(deliver, "/explain the cache")

        runs = {run.workflow_id: run for run in WorkflowRun.objects.all()}
        assert set(runs) == {explain.pk, plain.pk} and review.pk not in runs
        assert runs[explain.pk].trigger["command"] == {"name": "/explain", "args": "the cache"}
        assert "command" not in runs[plain.pk].trigger
        assert permission_asked(github) == 1, "asked once per delivery"

    def test_a_failed_permission_check_retries_the_delivery_and_then_runs(
        self, user, installation, deliver, github, repository, django_capture_on_commit_callbacks
    ):
        on_command(user)
        failing = github.fail("GET", PERMISSION, json={"message": "Server Error"}, status=502, times=None)

        delivery = comment(deliver, "/review")

        assert (delivery.status, delivery.attempts, delivery.runs_started) == (WebhookDelivery.Status.RECEIVED, 1, 0)
        assert delivery.last_error and delivery.next_attempt_at > timezone.now()
        assert not WorkflowRun.objects.exists()

        github.recover(failing)
        with (
            freeze_time(delivery.next_attempt_at + timedelta(seconds=1)),
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert deliveries_relay() == 1

        delivery.refresh_from_db()
        assert (delivery.status, delivery.runs_started) == (WebhookDelivery.Status.PROCESSED, 1)
        assert WorkflowRun.objects.get().trigger["command"]["name"] == "/review"


class TestTriggerTestEndpoint:
    def ask(self, api, body: str, **config):
        payload = {**load_fixture("issue_comment__created"), "comment": {"body": body}}
        config = {"repository": REPO, "events": ["issue_comment"], "command": "/review", **config}
        return api.post(TEST, {"config": config, "event": "issue_comment", "payload": payload}, format="json")

    def test_explains_a_command_that_matched_without_asking_github(self, api, github_http):
        response = self.ask(api, "/review focus=security", command_permission="maintain")

        assert response.status_code == 200
        body = response.json()
        assert body["matched"] is True
        assert 'command: "/review" matched, args "focus=security"' in body["reasons"]
        assert "command_permission: checked at dispatch time (needs maintain)" in body["reasons"]
        assert len(github_http.calls) == 0

    def test_explains_a_comment_that_does_not_give_the_command(self, api):
        body = self.ask(api, "/reviewer").json()

        assert body["matched"] is False
        assert 'command: the comment\'s first line does not start with "/review"' in body["reasons"]

    def test_refuses_a_command_config_on_other_events(self, api):
        config = {"repository": REPO, "events": ["push"], "command": "/review"}
        response = api.post(TEST, {"config": config, "event": "push", "payload": {}}, format="json")

        assert response.status_code == 400
        assert response.json()["detail"]["field"] == "events"
