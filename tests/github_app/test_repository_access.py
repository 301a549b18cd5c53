"""Each connection reaches what its user's own GitHub token sees in the installation, kept true by
lifecycle events and by beat; and lifecycle events older than our state never roll it back."""

import json
from datetime import timedelta

import pytest
from django.db import connection as database
from django.utils import timezone
from freezegun import freeze_time

from github_app.models import Installation, InstallationRepository, RepositoryAccess, WebhookDelivery
from github_app.webhooks.deliveries import delivery_replay
from github_app.install.repository_access import repository_access_sync, repository_access_sync_due
from integrations.models import OAuthToken
from tests.conftest import github_connection
from tests.github_app.github_stub import api_url, repository
from tests.github_app.webhooks import fixture_body, post_webhook

INSTALLATION = 957387
OAUTH = "https://github.com/login/oauth/access_token"


def user_sees(github_http, installation_id: int, repositories: list[dict], *, status: int = 200):
    body = {"total_count": len(repositories), "repositories": repositories} if status == 200 else {"message": "Bad credentials"}
    return github_http.get(api_url(f"/user/installations/{installation_id}/repositories"), json=body, status=status)


def names(connection) -> list[str]:
    return sorted(connection.repository_access.values_list("full_name", flat=True))


@pytest.fixture
def deliver(client, db, django_capture_on_commit_callbacks):
    def post(name: str, changes: dict | None = None) -> WebhookDelivery:
        payload = json.loads(fixture_body(name))
        payload.update(changes or {})
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, json.dumps(payload).encode(), event=name.split("__")[0])
        assert response.status_code == 202
        return WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])

    return post


@pytest.fixture
def connection(user):
    """Alice reaches Hello-World; the installation also covers seven, which she cannot see."""
    connection = github_connection(user, INSTALLATION, repositories={1296269: "Codertocat/Hello-World"})
    installation = Installation.objects.get(installation_id=INSTALLATION)
    InstallationRepository.objects.create(installation=installation, repository_id=7, full_name="Codertocat/seven")
    return connection


class TestSync:
    def test_the_set_is_what_the_users_own_token_sees(self, connection, github_http):
        listing = user_sees(github_http, INSTALLATION, [repository(7, "Codertocat/seven")])

        assert repository_access_sync(connection=connection) == 1

        assert names(connection) == ["Codertocat/seven"]
        assert listing.calls[0].request.headers["Authorization"] == "token ghu_user"
        connection.refresh_from_db()
        assert connection.synced_at is not None

    def test_an_expired_user_token_is_refreshed_first_and_kept_encrypted(self, connection, github_http):
        connection.refresh_token = "ghr_old"
        connection.access_token_expires_at = timezone.now() + timedelta(minutes=1)  # inside the refresh margin
        connection.save()
        refresh = github_http.post(OAUTH, json={"access_token": "ghu_new", "refresh_token": "ghr_new", "expires_in": 28800})
        listing = user_sees(github_http, INSTALLATION, [repository(1296269, "Codertocat/Hello-World")])

        repository_access_sync(connection=connection)

        assert "grant_type=refresh_token" in refresh.calls[0].request.body and "refresh_token=ghr_old" in refresh.calls[0].request.body
        assert listing.calls[0].request.headers["Authorization"] == "token ghu_new"
        stored = OAuthToken.objects.get(pk=connection.pk)
        assert (stored.access_token, stored.refresh_token) == ("ghu_new", "ghr_new")
        with database.cursor() as cursor:
            cursor.execute("SELECT access_token, refresh_token FROM integrations_oauthtoken WHERE id = %s", [connection.pk.hex])
            assert not {"ghu_new", "ghr_new"} & set(cursor.fetchone())

    @pytest.mark.parametrize("refusal", ["refresh", "listing"])
    def test_a_token_github_refuses_leaves_no_access_at_all(self, connection, github_http, refusal):
        if refusal == "refresh":
            OAuthToken.objects.filter(pk=connection.pk).update(access_token_expires_at=timezone.now(), refresh_token="ghr_spent")
            github_http.post(OAUTH, json={"error": "bad_refresh_token"})
        else:
            user_sees(github_http, INSTALLATION, [], status=401)
        connection.refresh_from_db()

        assert repository_access_sync(connection=connection) == 0

        assert names(connection) == []
        assert OAuthToken.objects.get(pk=connection.pk).credential_data["reauthorization_required"] is True

    def test_an_installation_the_user_no_longer_sees_leaves_no_access(self, connection, github_http):
        user_sees(github_http, INSTALLATION, [], status=404)

        repository_access_sync(connection=connection)

        assert names(connection) == []

    def test_github_down_keeps_the_set_and_raises_for_a_retry(self, connection, github_http):
        user_sees(github_http, INSTALLATION, [], status=502)

        with pytest.raises(Exception):
            repository_access_sync(connection=connection)

        assert names(connection) == ["Codertocat/Hello-World"]

    def test_beat_syncs_never_synced_connections_first_and_one_failure_holds_up_none(self, user, other_user, github_http):
        stale = github_connection(user, 1, repositories={11: "a/one"}, synced_at=timezone.now() - timedelta(days=1))
        fresh = github_connection(user, 2, repositories={21: "b/one"}, synced_at=timezone.now())
        never = github_connection(other_user, 3, repositories={31: "c/one"})
        user_sees(github_http, 1, [], status=502)
        user_sees(github_http, 3, [repository(32, "c/two")])

        assert repository_access_sync_due() == 1

        assert names(never) == ["c/two"] and names(stale) == ["a/one"] and names(fresh) == ["b/one"]
        assert OAuthToken.objects.get(pk=stale.pk).synced_at < timezone.now() - timedelta(hours=23), "still due"


class TestLifecycleEvents:
    def test_repositories_added_syncs_every_connection(self, deliver, connection, github_http):
        user_sees(github_http, INSTALLATION, [repository(1296269, "Codertocat/Hello-World"), repository(8, "Codertocat/eight")])

        delivery = deliver("installation_repositories__added", {"repositories_added": [repository(8, "Codertocat/eight")]})

        assert delivery.status == "processed"
        assert names(connection) == ["Codertocat/Hello-World", "Codertocat/eight"]

    def test_repositories_removed_leave_every_connection_before_github_is_asked(self, deliver, connection, github_http):
        user_sees(github_http, INSTALLATION, [], status=502)  # GitHub is down: the removal holds all the same
        removed = json.loads(fixture_body("installation_repositories__removed"))

        deliver("installation_repositories__removed", {
            "installation": {**removed["installation"], "id": INSTALLATION},
            "repositories_removed": [repository(1296269, "Codertocat/Hello-World")],
        })

        assert names(connection) == []

    def test_a_repositories_event_does_not_unsuspend(self, deliver, connection, github_http):
        Installation.objects.filter(installation_id=INSTALLATION).update(suspended_at=timezone.now())
        user_sees(github_http, INSTALLATION, [repository(1296269, "Codertocat/Hello-World")])

        deliver("installation_repositories__added", {"repositories_added": [repository(8, "Codertocat/eight")]})

        assert Installation.objects.get(installation_id=INSTALLATION).suspended_at is not None


class TestOrdering:
    SUSPENDED = 16598467

    def test_a_replayed_suspend_does_not_undo_a_newer_unsuspend(self, deliver, django_capture_on_commit_callbacks):
        with freeze_time(timezone.now() - timedelta(minutes=5)):
            suspend = deliver("installation__suspend")
        unsuspend = json.loads(fixture_body("installation__unsuspend"))
        deliver("installation__unsuspend", {"installation": {**unsuspend["installation"], "id": self.SUSPENDED}})

        with django_capture_on_commit_callbacks(execute=True):
            delivery_replay(delivery=suspend)

        assert Installation.objects.get(installation_id=self.SUSPENDED).suspended_at is None
        assert WebhookDelivery.objects.get(pk=suspend.pk).status == "ignored"

    def test_an_older_suspend_processed_late_does_not_win(self, deliver):
        unsuspend = json.loads(fixture_body("installation__unsuspend"))
        deliver("installation__unsuspend", {"installation": {**unsuspend["installation"], "id": self.SUSPENDED}})
        with freeze_time(timezone.now() - timedelta(seconds=30)):
            deliver("installation__suspend")  # received before the unsuspend, processed after it

        assert Installation.objects.get(installation_id=self.SUSPENDED).suspended_at is None

    def test_a_newer_suspend_applies(self, deliver):
        unsuspend = json.loads(fixture_body("installation__unsuspend"))
        with freeze_time(timezone.now() - timedelta(minutes=5)):
            deliver("installation__unsuspend", {"installation": {**unsuspend["installation"], "id": self.SUSPENDED}})

        deliver("installation__suspend")

        assert Installation.objects.get(installation_id=self.SUSPENDED).suspended_at is not None

    def test_an_old_removal_replayed_after_a_newer_addition_keeps_the_repository(self, deliver, django_capture_on_commit_callbacks):
        deliver("installation__created")
        removed = json.loads(fixture_body("installation_repositories__removed"))
        with freeze_time(timezone.now() - timedelta(minutes=5)):
            removal = deliver("installation_repositories__removed", {
                "installation": {**removed["installation"], "id": INSTALLATION}, "repositories_removed": [repository(7, "Codertocat/seven")],
            })
        deliver("installation_repositories__added", {"repositories_added": [repository(7, "Codertocat/seven")]})

        with django_capture_on_commit_callbacks(execute=True):
            delivery_replay(delivery=removal)

        assert InstallationRepository.objects.filter(repository_id=7).exists()
        assert RepositoryAccess.objects.count() == 0


def test_the_command_syncs_existing_connections_after_the_upgrade(user, github_http):
    """Connections made before access was per repository have none until they are synced."""
    from django.core.management import call_command

    upgraded = github_connection(user, 4, repositories={})
    user_sees(github_http, 4, [repository(41, "d/one")])

    call_command("sync_repository_access")

    assert names(upgraded) == ["d/one"]


def test_a_created_event_processed_after_a_newer_change_still_records_the_repositories(deliver):
    """In a burst, `created` can reach a worker after a later `new_permissions_accepted`: the
    newer state stays, and the repositories only `created` lists are still recorded."""
    created = json.loads(fixture_body("installation__created"))
    permissions = json.loads(fixture_body("installation__new_permissions_accepted"))
    deliver("installation__new_permissions_accepted", {
        "installation": {**permissions["installation"], "id": INSTALLATION, "permissions": {"issues": "write"}},
    })
    with freeze_time(timezone.now() - timedelta(seconds=30)):
        deliver("installation__created", {"installation": {**created["installation"], "permissions": {"issues": "read"}}})

    installation = Installation.objects.get(installation_id=INSTALLATION)
    assert installation.permissions == {"issues": "write"}
    assert list(installation.repositories.values_list("full_name", flat=True)) == ["Codertocat/Hello-World"]
