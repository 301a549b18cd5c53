"""The admin follows the pipeline: a delivery to the runs it started, a run to its steps, its
delivery and its workflow, and a delivery to every trigger's decision on it."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.utils import timezone
from django.utils.html import escape

from github_app.models import Installation, WebhookDelivery
from tests.conftest import github_connection, load_fixture
from tests.github_app.webhooks import post_webhook
from triggers.models import Trigger, TriggerIndex
from triggers.services import workflow_save
from workflows.models import WorkflowRun

INSTALLATION = 1
REPO = "Codertocat/Hello-World"
REPO_ID = 186853002
CONDITION = {
    "nodes": [{"id": "ok", "type": "logic.condition", "params": {"condition": "{{ trigger.action or 'push' }}"}}],
    "edges": [],
}
DELIVERIES = "/admin/github_app/webhookdelivery/"
RUNS = "/admin/workflows/workflowrun/"


@pytest.fixture
def staff(client, db):
    client.force_login(get_user_model().objects.create_superuser(username="ops", password="pw-for-ops-only"))
    return client


@pytest.fixture
def connected(user):
    return github_connection(user, INSTALLATION, repositories={REPO_ID: REPO})


def save_workflow(owner, name: str, **trigger):
    return workflow_save(
        owner=owner, name=name, definition=CONDITION, triggers=[{"repository": REPO, "events": ["push"], **trigger}]
    )


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """Post a fixture payload as GitHub does, processed to the end (runs included)."""

    def post(name: str = "push_5", event: str = "push", **changes) -> WebhookDelivery:
        payload = {**load_fixture(name), **changes}
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, json.dumps(payload).encode(), event=event)
        assert response.status_code == 202
        return WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])

    return post


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def messages_after(response) -> list[str]:
    assert response.status_code == 302, "an action answers with a redirect, never an error page"
    return [str(message) for message in get_messages(response.wsgi_request)]


def decisions_url(delivery: WebhookDelivery) -> str:
    return f"/admin/triggers/trigger/delivery/{delivery.pk}/decisions/"


class TestLinks:
    def test_a_delivery_links_to_the_runs_it_started(self, staff, connected, user, deliver):
        workflow = save_workflow(user, "On master pushes", branches=["master"])
        delivery = deliver()
        unrelated = deliver()
        run = WorkflowRun.objects.get(delivery=delivery)
        runs_url = f"{RUNS}?delivery={delivery.pk}"

        listed = page(staff, DELIVERIES)
        detail = page(staff, f"{DELIVERIES}{delivery.pk}/change/")
        runs = page(staff, runs_url)

        assert escape(runs_url) in listed and escape(runs_url) in detail
        assert "field-runs_started" not in detail, "the bare count is replaced by the link"
        assert f"{RUNS}{run.pk}/change/" in detail
        assert f"/admin/workflows/workflow/{workflow.pk}/change/" in detail
        assert str(run.pk) in runs
        assert str(WorkflowRun.objects.get(delivery=unrelated).pk) not in runs

    def test_a_run_links_to_its_steps_delivery_and_workflow(self, staff, connected, user, deliver):
        workflow = save_workflow(user, "On pushes")
        delivery = deliver()
        run = WorkflowRun.objects.get(delivery=delivery)

        detail = page(staff, f"{RUNS}{run.pk}/change/")

        assert f"{DELIVERIES}{delivery.pk}/change/" in detail
        assert f"/admin/workflows/workflow/{workflow.pk}/change/" in detail
        assert 'id="steps-group"' in detail and "logic.condition" in detail

    def test_a_delivery_without_runs_shows_none_and_no_link(self, staff, deliver):
        delivery = deliver()

        detail = page(staff, f"{DELIVERIES}{delivery.pk}/change/")

        assert f"{RUNS}?delivery=" not in detail


class TestTriggerDecisions:
    def test_the_delivery_page_offers_the_decisions(self, staff, deliver):
        delivery = deliver()

        assert decisions_url(delivery) in page(staff, f"{DELIVERIES}{delivery.pk}/change/")

    def test_a_matching_and_a_non_matching_trigger_with_the_filters_reasons(self, staff, connected, user, deliver):
        save_workflow(user, "Master pushes", branches=["master"])
        save_workflow(user, "Release pushes", branches=["release/*"])
        delivery = deliver()

        decisions = page(staff, decisions_url(delivery))

        assert escape('branches: "master" selected by "master"') in decisions
        assert escape('branches: "master" not selected by any pattern') in decisions
        assert "<td>yes</td>" in decisions and "<td>no</td>" in decisions
        ran = WorkflowRun.objects.get(delivery=delivery)
        assert f"{RUNS}{ran.pk}/change/" in decisions

    def test_a_trigger_whose_owner_cannot_see_the_repository_is_listed_with_why(
        self, staff, connected, user, other_user, deliver
    ):
        save_workflow(user, "Mine")
        theirs = workflow_save(owner=other_user, name="Theirs", definition=CONDITION)
        trigger = Trigger.objects.create(workflow=theirs, config={"repository": REPO, "events": ["push"]})
        TriggerIndex.objects.create(trigger=trigger, repository=REPO.lower(), event="push", owner_id=other_user.pk)
        delivery = deliver()

        decisions = page(staff, decisions_url(delivery))

        assert escape(f'the workflow\'s owner "{other_user.username}" does not reach {REPO}') in decisions
        assert "Theirs" in decisions

    def test_path_filters_the_payload_cannot_decide_depend_on_files_read_at_dispatch(
        self, staff, connected, user, deliver, github
    ):
        save_workflow(user, "Docs", events=["pull_request"], paths=["docs/**"])
        repository = github.repository(REPO, id=REPO_ID)
        github.installation(INSTALLATION, repositories=[repository])
        repository.pull_request(2, files=[])
        delivery = deliver("pull_request__opened_2", "pull_request")

        decisions = page(staff, decisions_url(delivery))

        assert "depends on the changed files" in decisions
        assert github.count("GET", f"/repos/{REPO}/pulls/2/files") == 1, "only the dispatcher asked GitHub"

    def test_path_filters_decided_by_the_files_a_push_lists(self, staff, connected, user, deliver):
        save_workflow(user, "Docs", paths=["docs/**"])
        delivery = deliver()

        decisions = page(staff, decisions_url(delivery))

        assert escape("paths: none of 1 changed files selected") in decisions
        assert "depends on the changed files" not in decisions

    def test_a_purged_payload_says_so(self, staff, connected, user, deliver):
        save_workflow(user, "On pushes")
        delivery = deliver()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=b"", payload_purged_at=timezone.now())

        decisions = page(staff, decisions_url(delivery))

        assert "the payload has been purged" in decisions

    def test_only_staff_reach_the_decisions(self, client, user, deliver):
        delivery = deliver()
        anonymous = client.get(decisions_url(delivery))
        client.force_login(user)
        signed_in = client.get(decisions_url(delivery))

        for response in (anonymous, signed_in):
            assert response.status_code == 302 and response.url.startswith("/admin/login/")

    def test_the_trigger_list_shows_repository_and_events(self, staff, connected, user):
        save_workflow(user, "Listed", events=["push", "pull_request"])

        listed = page(staff, "/admin/triggers/trigger/")
        searched = page(staff, "/admin/triggers/trigger/?q=hello-world")
        missed = page(staff, "/admin/triggers/trigger/?q=elsewhere")

        assert REPO in listed and "push, pull_request" in listed and "Listed" in listed
        assert "Listed" in searched and "Listed" not in missed


class TestActions:
    def test_rerun_starts_the_run_again(self, staff, connected, user, deliver, django_capture_on_commit_callbacks):
        save_workflow(user, "On pushes")
        first = WorkflowRun.objects.get(delivery=deliver())

        with django_capture_on_commit_callbacks(execute=True):
            response = staff.post(RUNS, {"action": "rerun", "_selected_action": [str(first.pk)]})

        assert messages_after(response) == ["1 run(s) started again."]
        rerun = WorkflowRun.objects.get(rerun_of=first)
        assert (rerun.status, rerun.conclusion) == ("completed", "success")

    def test_rerun_of_a_purged_event_is_reported(self, staff, connected, user, deliver):
        save_workflow(user, "On pushes")
        delivery = deliver()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=b"", payload_purged_at=timezone.now())
        run = WorkflowRun.objects.get(delivery=delivery)

        response = staff.post(RUNS, {"action": "rerun", "_selected_action": [str(run.pk)]})

        assert messages_after(response) == [
            f"Run {run.pk}: " + "The event of this run has been purged by retention; it cannot be run again."
        ]
        assert not WorkflowRun.objects.filter(rerun_of=run).exists()

    def test_resync_reads_the_installation_again(self, staff, connected, github):
        github.installation(INSTALLATION, repositories=[github.repository(REPO, id=REPO_ID), "Codertocat/Spoon-Knife"])
        installation = Installation.objects.get(installation_id=INSTALLATION)

        response = staff.post(
            "/admin/github_app/installation/", {"action": "resync", "_selected_action": [str(installation.pk)]}
        )

        assert messages_after(response) == ["1 installation(s) resynced from GitHub."]
        assert sorted(installation.repositories.values_list("full_name", flat=True)) == [
            "Codertocat/Hello-World",
            "Codertocat/Spoon-Knife",
        ]

    def test_resync_reports_github_failing_instead_of_erring(self, staff, connected, github):
        github.installation(INSTALLATION, repositories=[REPO])
        github.fail("GET", f"/app/installations/{INSTALLATION}", 500, json={"message": "Server Error"})
        installation = Installation.objects.get(installation_id=INSTALLATION)

        response = staff.post(
            "/admin/github_app/installation/", {"action": "resync", "_selected_action": [str(installation.pk)]}
        )

        assert messages_after(response) == [f"Installation {INSTALLATION}: GitHub answered with an error."]

    def test_replaying_several_deliveries_sums_up(self, staff, deliver):
        kept, purged = deliver(), deliver()
        WebhookDelivery.objects.filter(pk=purged.pk).update(payload=b"", payload_purged_at=timezone.now())

        response = staff.post(DELIVERIES, {"action": "replay", "_selected_action": [str(kept.pk), str(purged.pk)]})

        assert messages_after(response) == [
            "1 of 2 delivery(ies) queued again.",
            f"Not replayed: {purged.delivery_id}: The payload of this delivery has been purged; it cannot be replayed.",
        ]
        kept.refresh_from_db()
        assert kept.status == "queued"


def delivery(number: int, **fields) -> WebhookDelivery:
    return WebhookDelivery(delivery_id=f"d-{number}", event="push", payload=b"{}", **fields)


class TestFilters:
    def test_deliveries_by_installation_and_by_repository(self, staff):
        WebhookDelivery.objects.bulk_create(
            [
                delivery(1, installation_id=11, repository_full_name="octo/one"),
                delivery(2, installation_id=22, repository_full_name="octo/two"),
            ]
        )

        by_installation = page(staff, f"{DELIVERIES}?installation=22")
        by_repository = page(staff, f"{DELIVERIES}?repository=octo/one")

        assert "d-2" in by_installation and "d-1" not in by_installation
        assert "d-1" in by_repository and "d-2" not in by_repository

    def test_the_choices_offered_are_bounded(self, staff):
        WebhookDelivery.objects.bulk_create(
            delivery(number, installation_id=number, received_at=timezone.now() - timedelta(minutes=number))
            for number in range(1, 61)
        )

        listed = page(staff, DELIVERIES)

        assert "?installation=50" in listed and "?installation=51" not in listed

    def test_a_malformed_filter_value_is_no_server_error(self, staff):
        assert staff.get(f"{DELIVERIES}?installation=abc").status_code == 302
        assert staff.get(f"{RUNS}?delivery=abc").status_code == 302


@pytest.fixture
def test_workflow(user):
    from workflows.services import workflow_create

    return workflow_create(owner=user, name="Sample", definition=CONDITION)


def run_of(workflow, **fields) -> WorkflowRun:
    return WorkflowRun.objects.create(
        workflow=workflow, version=workflow.current_version, owner=workflow.owner, trigger={"event": "push"}, **fields
    )


class TestRunList:
    def test_runs_by_repository_and_installation(self, staff, test_workflow):
        one = run_of(test_workflow, installation_id=11, repository="octo/one")
        two = run_of(test_workflow, installation_id=22, repository="octo/two")

        by_repository = page(staff, f"{RUNS}?repository=octo/two")
        by_installation = page(staff, f"{RUNS}?installation=11")

        assert str(two.pk) in by_repository and str(one.pk) not in by_repository
        assert str(one.pk) in by_installation and str(two.pk) not in by_installation

    def test_the_duration_of_finished_runs(self, staff, test_workflow):
        started = timezone.now() - timedelta(hours=1)
        run_of(test_workflow, started_at=started, finished_at=started + timedelta(seconds=83))
        run_of(test_workflow, started_at=started)

        listed = page(staff, RUNS)

        assert "0:01:23" in listed
        assert listed.count('<td class="field-duration">-</td>') == 1, "blank (the admin's dash) while unfinished"


class TestRunPayload:
    def test_secret_like_keys_are_hidden(self, staff, test_workflow):
        run = run_of(test_workflow, payload={"ref": "refs/heads/main", "installation": {"token": "ghs_leaked"}})

        detail = page(staff, f"{RUNS}{run.pk}/change/")

        assert "refs/heads/main" in detail and "ghs_leaked" not in detail

    def test_a_large_payload_of_the_delivery_is_not_rendered(self, staff, test_workflow):
        large = WebhookDelivery.objects.create(
            delivery_id="big", event="push", payload=b'{"p": "' + b"x" * 3_000_000 + b'"}'
        )
        run = run_of(test_workflow, payload_delivery=large)

        detail = page(staff, f"{RUNS}{run.pk}/change/")

        assert "too large to show" in detail and "x" * 1000 not in detail

    def test_the_delivery_s_payload_shows_until_purged(self, staff, test_workflow):
        stored = WebhookDelivery.objects.create(delivery_id="kept", event="push", payload=b'{"ref": "refs/heads/dev"}')
        run = run_of(test_workflow, payload_delivery=stored)
        shown = page(staff, f"{RUNS}{run.pk}/change/")
        WebhookDelivery.objects.filter(pk=stored.pk).update(payload=b"", payload_purged_at=timezone.now())

        assert "refs/heads/dev" in shown
        assert "(purged)" in page(staff, f"{RUNS}{run.pk}/change/")
