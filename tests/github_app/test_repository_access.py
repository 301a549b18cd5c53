"""Each connection reaches what its user's own GitHub token sees in the installation, kept true by
lifecycle events and by beat; and lifecycle events older than our state never roll it back."""

import json
from datetime import timedelta

import pytest
from django.db import connection as database
from django.utils import timezone
from freezegun import freeze_time

from github_app.errors import GitHubBadGateway
from github_app.install.repository_access import repository_access_sync, repository_access_sync_due
from github_app.models import Installation, InstallationRepository, RepositoryAccess, WebhookDelivery
from github_app.webhooks.deliveries import delivery_replay
from integrations.models import OAuthToken
from tests.conftest import github_connection
from tests.github_app.webhooks import fixture_body, post_webhook
from tests.github_double import repository_summary

INSTALLATION = 957387
USER_TOKEN = "ghu_user"  # github_connection's


def user_repositories(installation_id: int) -> str:
    return f"/user/installations/{installation_id}/repositories"


@pytest.fixture
def github_account(github):
    """The GitHub account behind every connection here: github_connection gives them its token."""
    return github.user(token=USER_TOKEN)


@pytest.fixture
def user_sees(github, github_account):
    """At GitHub, the installation covers `repositories` ({id: owner/name}), and the account sees them all."""

    def sees(installation_id: int, repositories: dict[int, str]) -> None:
        covered = [github.repository(full_name, id=repository_id) for repository_id, full_name in repositories.items()]
        github_account.sees(github.installation(installation_id, repositories=covered))

    return sees


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
    def test_the_set_is_what_the_users_own_token_sees(self, connection, github, user_sees):
        user_sees(INSTALLATION, {7: "Codertocat/seven"})

        assert repository_access_sync(connection=connection) == 1

        assert names(connection) == ["Codertocat/seven"]
        assert (
            github.requests("GET", user_repositories(INSTALLATION))[0].headers["Authorization"] == f"token {USER_TOKEN}"
        )
        connection.refresh_from_db()
        assert connection.synced_at is not None

    def test_an_expired_user_token_is_refreshed_first_and_kept_encrypted(
        self, connection, github, github_account, user_sees
    ):
        connection.refresh_token = github_account.refresh_token = "ghr_old"
        connection.access_token_expires_at = timezone.now() + timedelta(minutes=1)  # inside the refresh margin
        connection.save()
        user_sees(INSTALLATION, {1296269: "Codertocat/Hello-World"})

        repository_access_sync(connection=connection)

        grant = github.requests("POST", "/login/oauth/access_token")[0].form()
        assert (grant["grant_type"], grant["refresh_token"]) == ("refresh_token", "ghr_old")
        renewed = (github_account.token, github_account.refresh_token)
        assert (
            github.requests("GET", user_repositories(INSTALLATION))[0].headers["Authorization"] == f"token {renewed[0]}"
        )
        stored = OAuthToken.objects.get(pk=connection.pk)
        assert (stored.access_token, stored.refresh_token) == renewed and renewed != (USER_TOKEN, "ghr_old")
        with database.cursor() as cursor:
            cursor.execute(
                "SELECT access_token, refresh_token FROM integrations_oauthtoken WHERE id = %s", [connection.pk.hex]
            )
            assert not set(renewed) & set(cursor.fetchone())

    @pytest.mark.parametrize("refusal", ["refresh", "listing"])
    def test_a_token_github_refuses_leaves_no_access_at_all(self, connection, github_account, user_sees, refusal):
        user_sees(INSTALLATION, {1296269: "Codertocat/Hello-World"})
        if refusal == "refresh":  # a refresh token GitHub never issued, or one spent already
            OAuthToken.objects.filter(pk=connection.pk).update(
                access_token_expires_at=timezone.now(), refresh_token="ghr_spent"
            )
        else:
            github_account.revoke()
        connection.refresh_from_db()

        assert repository_access_sync(connection=connection) == 0

        assert names(connection) == []
        assert OAuthToken.objects.get(pk=connection.pk).credential_data["reauthorization_required"] is True

    def test_an_installation_the_user_no_longer_sees_leaves_no_access(self, connection, github, github_account):
        github.installation(INSTALLATION, repositories=[github.repository("Codertocat/Hello-World", id=1296269)])

        repository_access_sync(connection=connection)

        assert names(connection) == []

    def test_github_down_keeps_the_set_and_raises_for_a_retry(self, connection, github, user_sees):
        user_sees(INSTALLATION, {})
        github.fail("GET", user_repositories(INSTALLATION), 502)

        with pytest.raises(GitHubBadGateway):
            repository_access_sync(connection=connection)

        assert names(connection) == ["Codertocat/Hello-World"]

    def test_beat_syncs_never_synced_connections_first_and_one_failure_holds_up_none(
        self, user, other_user, github, user_sees
    ):
        stale = github_connection(user, 1, repositories={11: "a/one"}, synced_at=timezone.now() - timedelta(days=1))
        fresh = github_connection(user, 2, repositories={21: "b/one"}, synced_at=timezone.now())
        never = github_connection(other_user, 3, repositories={31: "c/one"})
        user_sees(1, {})
        github.fail("GET", user_repositories(1), 502)
        user_sees(3, {32: "c/two"})

        assert repository_access_sync_due() == 1

        assert names(never) == ["c/two"] and names(stale) == ["a/one"] and names(fresh) == ["b/one"]
        assert OAuthToken.objects.get(pk=stale.pk).synced_at < timezone.now() - timedelta(hours=23), "still due"


class TestLifecycleEvents:
    def test_repositories_added_syncs_every_connection(self, deliver, connection, user_sees):
        user_sees(INSTALLATION, {1296269: "Codertocat/Hello-World", 8: "Codertocat/eight"})

        delivery = deliver(
            "installation_repositories__added", {"repositories_added": [repository_summary(8, "Codertocat/eight")]}
        )

        assert delivery.status == "processed"
        assert names(connection) == ["Codertocat/Hello-World", "Codertocat/eight"]

    def test_repositories_removed_leave_every_connection_before_github_is_asked(
        self, deliver, connection, github, user_sees
    ):
        user_sees(INSTALLATION, {1296269: "Codertocat/Hello-World"})
        github.fail(
            "GET", user_repositories(INSTALLATION), 502, times=None
        )  # GitHub is down: the removal holds all the same
        removed = json.loads(fixture_body("installation_repositories__removed"))

        deliver(
            "installation_repositories__removed",
            {
                "installation": {**removed["installation"], "id": INSTALLATION},
                "repositories_removed": [repository_summary(1296269, "Codertocat/Hello-World")],
            },
        )

        assert names(connection) == []

    def test_a_repositories_event_does_not_unsuspend(self, deliver, connection, user_sees):
        Installation.objects.filter(installation_id=INSTALLATION).update(suspended_at=timezone.now())
        user_sees(INSTALLATION, {1296269: "Codertocat/Hello-World"})

        deliver("installation_repositories__added", {"repositories_added": [repository_summary(8, "Codertocat/eight")]})

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

    def test_an_old_removal_replayed_after_a_newer_addition_keeps_the_repository(
        self, deliver, django_capture_on_commit_callbacks
    ):
        deliver("installation__created")
        removed = json.loads(fixture_body("installation_repositories__removed"))
        with freeze_time(timezone.now() - timedelta(minutes=5)):
            removal = deliver(
                "installation_repositories__removed",
                {
                    "installation": {**removed["installation"], "id": INSTALLATION},
                    "repositories_removed": [repository_summary(7, "Codertocat/seven")],
                },
            )
        deliver("installation_repositories__added", {"repositories_added": [repository_summary(7, "Codertocat/seven")]})

        with django_capture_on_commit_callbacks(execute=True):
            delivery_replay(delivery=removal)

        assert InstallationRepository.objects.filter(repository_id=7).exists()
        assert RepositoryAccess.objects.count() == 0


def test_the_command_syncs_existing_connections_after_the_upgrade(user, user_sees):
    """Connections made before access was per repository have none until they are synced."""
    from django.core.management import call_command

    upgraded = github_connection(user, 4, repositories={})
    user_sees(4, {41: "d/one"})

    call_command("sync_repository_access")

    assert names(upgraded) == ["d/one"]


def test_a_created_event_processed_after_a_newer_change_still_records_the_repositories(deliver):
    """In a burst, `created` can reach a worker after a later `new_permissions_accepted`: the
    newer state stays, and the repositories only `created` lists are still recorded."""
    created = json.loads(fixture_body("installation__created"))
    permissions = json.loads(fixture_body("installation__new_permissions_accepted"))
    deliver(
        "installation__new_permissions_accepted",
        {
            "installation": {**permissions["installation"], "id": INSTALLATION, "permissions": {"issues": "write"}},
        },
    )
    with freeze_time(timezone.now() - timedelta(seconds=30)):
        deliver(
            "installation__created", {"installation": {**created["installation"], "permissions": {"issues": "read"}}}
        )

    installation = Installation.objects.get(installation_id=INSTALLATION)
    assert installation.permissions == {"issues": "write"}
    assert list(installation.repositories.values_list("full_name", flat=True)) == ["Codertocat/Hello-World"]
