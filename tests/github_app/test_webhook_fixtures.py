"""Every fixture payload through the real view, with a real signature, processed (eagerly)."""

import json

import pytest

from github_app.models import WebhookDelivery
from github_app.webhooks import events
from tests.github_app.webhooks import FIXTURE_NAMES, fixture_body, fixture_event, post_fixture

SUBSCRIBED_EVENTS = [
    "push",
    "pull_request",
    "pull_request_review",
    "issues",
    "issue_comment",
    "release",
    "deployment",
    "deployment_status",
    "workflow_run",
    "check_run",
    "check_suite",
]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_is_stored_and_processed(client, db, github_http, django_capture_on_commit_callbacks, name):
    payload = json.loads(fixture_body(name))
    event = fixture_event(name)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_fixture(client, name, delivery_id=f"delivery-{name}")

    delivery = WebhookDelivery.objects.get(delivery_id=f"delivery-{name}")
    expected_answer = (200, "pong") if event == "ping" else (202, "queued")
    assert (response.status_code, response.json()["status"]) == expected_answer
    assert response.json()["action"] == payload.get("action", "")
    assert (delivery.event, delivery.action) == (event, payload.get("action", ""))
    assert delivery.installation_id == (payload.get("installation") or {}).get("id")
    assert delivery.repository_full_name == (payload.get("repository") or {}).get("full_name", "")
    assert delivery.sender_login == (payload.get("sender") or {}).get("login", "")
    assert bytes(delivery.payload) == fixture_body(name), "stored byte for byte as signed"
    expected_status = "ignored" if events.is_ignored(event, payload.get("action", "")) else "processed"
    assert delivery.status == expected_status, delivery.last_error
    assert delivery.processed_at is not None
    assert len(github_http.calls) == 0


def test_every_lifecycle_handler_has_a_fixture():
    fixtures = {name.rstrip("_0123456789") for name in FIXTURE_NAMES}
    missing = [key for key in events.LIFECYCLE_HANDLERS if key.replace(".", "__") not in fixtures]
    assert missing in ([], ["installation_target.renamed"])  # GitHub's examples have no installation_target


@pytest.mark.parametrize("event", SUBSCRIBED_EVENTS)
def test_every_subscribed_event_has_a_fixture_and_is_dispatched(event):
    assert event in events.WORKFLOW_EVENTS
    assert any(fixture_event(name) == event for name in FIXTURE_NAMES)


def test_ignored_and_dispatched_events_do_not_overlap():
    assert not events.IGNORED_EVENTS & events.WORKFLOW_EVENTS
    assert not {key.split(".")[0] for key in events.LIFECYCLE_HANDLERS} & events.IGNORED_EVENTS
