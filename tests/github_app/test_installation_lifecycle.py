"""Installation lifecycle deliveries keep our records true, and applying one twice is harmless."""

import json

import pytest

from github_app.models import Installation, InstallationRepository, WebhookDelivery
from integrations.models import OAuthToken
from tests.conftest import github_connection
from tests.github_app.webhooks import fixture_body, post_webhook
from tests.github_double import repository_summary


@pytest.fixture
def deliver(client, db, django_capture_on_commit_callbacks):
    def post(name: str, changes: dict | None = None, delivery_id: str | None = None) -> WebhookDelivery:
        payload = json.loads(fixture_body(name))
        payload.update(changes or {})
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(
                client, json.dumps(payload).encode(), event=name.split("__")[0], delivery_id=delivery_id
            )
        assert response.status_code == 202
        return WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])

    return post


def test_created_records_the_installation_and_its_repositories(deliver):
    deliver("installation__created")
    deliver("installation__created")  # redelivered under a new id: same state

    installation = Installation.objects.get(installation_id=957387)
    assert (installation.account_login, installation.repository_selection) == ("Codertocat", "selected")
    assert list(installation.repositories.values_list("full_name", flat=True)) == ["Codertocat/Hello-World"]


def test_deleted_keeps_history_and_ends_every_connection(deliver, user, other_user):
    mine, theirs = github_connection(user, 2), github_connection(other_user, 2)
    unrelated = github_connection(user, 999)

    deliver("installation__deleted")

    installation = Installation.objects.get(installation_id=2)
    assert installation.deleted_at is not None
    for token in (mine, theirs):
        token.refresh_from_db()
        assert token.is_active is False and token.revoked_at is not None
    assert OAuthToken.objects.get(pk=unrelated.pk).is_active is True


def test_suspend_and_unsuspend(deliver):
    deliver("installation__suspend")
    assert Installation.objects.get(installation_id=16598467).suspended_at.isoformat() == "2021-04-29T02:32:50+00:00"

    payload = json.loads(fixture_body("installation__unsuspend"))
    deliver("installation__unsuspend", {"installation": {**payload["installation"], "id": 16598467}})
    assert Installation.objects.get(installation_id=16598467).suspended_at is None


def test_new_permissions_accepted_updates_permissions(deliver):
    installation = json.loads(fixture_body("installation__new_permissions_accepted"))["installation"]
    deliver(
        "installation__new_permissions_accepted", {"installation": {**installation, "permissions": {"issues": "write"}}}
    )

    assert Installation.objects.get(installation_id=installation["id"]).permissions == {"issues": "write"}


def test_repositories_added_and_removed(deliver):
    deliver("installation__created")
    deliver(
        "installation_repositories__added", {"repositories_added": [repository_summary(7, "Codertocat/seven", True)]}
    )
    assert set(InstallationRepository.objects.values_list("full_name", flat=True)) == {
        "Codertocat/Hello-World",
        "Codertocat/seven",
    }

    removed = json.loads(fixture_body("installation_repositories__removed"))
    deliver(
        "installation_repositories__removed",
        {
            "installation": {**removed["installation"], "id": 957387},
            "repositories_removed": [repository_summary(7, "Codertocat/seven")],
        },
    )
    assert list(InstallationRepository.objects.values_list("full_name", flat=True)) == ["Codertocat/Hello-World"]


def test_selection_becoming_all_resyncs_every_repository_from_github(deliver, github):
    repositories = [github.repository("Codertocat/one", id=1), github.repository("Codertocat/two", id=2)]
    github.installation(957387, repository_selection="all", repositories=repositories)
    deliver("installation__created")

    delivery = deliver("installation_repositories__added", {"repository_selection": "all"})

    assert delivery.status == "processed"
    installation = Installation.objects.get(installation_id=957387)
    assert installation.repository_selection == "all"
    assert list(installation.repositories.values_list("full_name", flat=True)) == ["Codertocat/one", "Codertocat/two"]


def test_authorization_revoked_ends_that_github_users_connections(deliver, user, other_user):
    sender_id = json.loads(fixture_body("github_app_authorization__revoked"))["sender"]["id"]
    revoked = github_connection(user, 5, credential_data={"github_user_id": sender_id})
    kept = github_connection(other_user, 5, credential_data={"github_user_id": sender_id + 1})

    delivery = deliver("github_app_authorization__revoked")

    assert delivery.status == "processed"
    revoked.refresh_from_db()
    assert (revoked.is_active, revoked.access_token) == (False, None)
    assert OAuthToken.objects.get(pk=kept.pk).is_active is True
