import hashlib
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.core import checks
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from github_app.install.flow import install_state_issue
from github_app.install.repository_access import repository_access_sync
from github_app.install.tasks import install_states_purge
from github_app.models import (
    Installation,
    InstallationRepository,
    PendingInstallCompletion,
    RepositoryAccess,
    UsedInstallState,
)
from integrations.models import OAuthToken
from tests.conftest import client_for
from tests.github_double import GitHub, Repository, User
from tests.worker import run_at_once

CALLBACK = "/api/v1/public/webhooks/github/auth"
INSTALL_URL = "/api/v1/app/integrations/github/install"
COMPLETE = "/api/v1/app/integrations/github/complete"
GITHUB_LIST = "/api/v1/app/integrations/github"
INSTALLATION_ID = 957387
USER_TOKEN = "ghu_" + "u" * 36
GITHUB_USER_ID = 21031067
GITHUB_LOGIN = "Codertocat"
HELLO = "Codertocat/Hello-World"
SECRET = "Codertocat/secret"
REPOSITORIES = {
    HELLO: (1, False),
    SECRET: (2, True),
    "Codertocat/one": (1, False),
    "Codertocat/two": (2, False),
}  # id, private
INSTALLATION = f"/app/installations/{INSTALLATION_ID}"
USER_REPOSITORIES = f"/user/installations/{INSTALLATION_ID}/repositories"


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


def repositories(github: GitHub, names: Sequence[str]) -> list[Repository]:
    return [github.repository(name, id=REPOSITORIES[name][0], private=REPOSITORIES[name][1]) for name in names]


def accessible_installation(
    github: GitHub, repositories_named: Sequence[str] = (HELLO,), user_sees: list[str] | None = None
) -> User:
    """Everything a successful verified install finds at GitHub: the App installed on
    `repositories_named`, and the installing user, who sees those named in `user_sees` (all by
    default) and whose browser brings back the code "abc123"."""
    installation = github.installation(INSTALLATION_ID, repositories=repositories(github, repositories_named))
    installing = github.user(login=GITHUB_LOGIN, id=GITHUB_USER_ID, token=USER_TOKEN)
    installing.sees(installation, None if user_sees is None else repositories(github, user_sees))
    return installing


def callback(client, state, *, request_meta: dict | None = None, **params):
    query = {"state": state, "setup_action": "install", "installation_id": INSTALLATION_ID, "code": "abc123", **params}
    return client.get(
        CALLBACK, {key: value for key, value in query.items() if value is not None}, **(request_meta or {})
    )


def pending_completion(user, **params) -> str:
    """Phase one, from a browser with no JWT: the completion the callback hands it."""
    response = callback(APIClient(), install_state_issue(user=user), **params)
    assert response.status_code == 200, response.content
    return response.json()["completion"]


def complete(user, completion: str):
    return client_for(user).post(COMPLETE, {"completion": completion}, format="json")


def install(user, **params):
    """Both phases, as the frontend of the user who started the install runs them."""
    return complete(user, pending_completion(user, **params))


def requested_paths(github: GitHub) -> list[str]:
    return [request.path for request in github.requests()]


def assert_nothing_bound():
    assert not Installation.objects.exists()
    assert not OAuthToken.objects.exists()
    assert not RepositoryAccess.objects.exists()


def assert_nothing_stored():
    assert_nothing_bound()
    assert not UsedInstallState.objects.exists()
    assert not PendingInstallCompletion.objects.exists()


def assert_unspent(completion: str):
    digest = hashlib.sha256(completion.encode()).hexdigest()
    assert PendingInstallCompletion.objects.get(key_digest=digest).completed_at is None


class TestInstallUrl:
    def test_issues_a_signed_state_bound_to_the_user(self, api, user, github):
        response = api.get(INSTALL_URL)

        assert response.status_code == 200
        url = urlparse(response.json()["install_url"])
        assert (url.scheme, url.netloc, url.path) == (
            "https",
            "github.com",
            "/apps/ai-workflow-teams-test/installations/new",
        )
        state = parse_qs(url.query)["state"][0]
        accessible_installation(github)
        completion = callback(APIClient(), state).json()["completion"]
        assert complete(user, completion).status_code == 201
        assert OAuthToken.objects.get().user == user

    def test_each_call_gives_a_new_state(self, api):
        assert api.get(INSTALL_URL).json() != api.get(INSTALL_URL).json()

    def test_enterprise_server_uses_its_github_apps_path(self, api, settings):
        settings.GITHUB_BASE_URL = "https://ghe.example.com"

        url = api.get(INSTALL_URL).json()["install_url"]

        assert url.startswith("https://ghe.example.com/github-apps/ai-workflow-teams-test/installations/new?state=")

    def test_requires_authentication(self, client):
        response = client.get(INSTALL_URL)

        assert response.status_code == 401
        assert set(response.json()) == {"error", "detail"}

    def test_unconfigured_slug_is_a_clear_503(self, api, settings):
        settings.GITHUB_APP_SLUG = ""

        response = api.get(INSTALL_URL)

        assert response.status_code == 503
        assert response.json()["detail"] == {"missing": "GITHUB_APP_SLUG"}


class TestVictimInstallLink:
    """User A (the attacker) asks for an install URL and sends it to user V (the victim). V's
    browser goes through GitHub's install page and the callback with V's GitHub account, so
    every check of the callback passes: it proves the browser reaches the installation, not
    that the browser is A's."""

    def test_the_victims_frontend_cannot_complete_it_and_nothing_is_bound(self, user, other_user, github):
        attacker, victim = user, other_user
        accessible_installation(github, [HELLO, SECRET])
        state = parse_qs(urlparse(client_for(attacker).get(INSTALL_URL).json()["install_url"]).query)["state"][0]
        completion = callback(APIClient(), state).json()["completion"]
        calls_at_the_callback = github.count()

        response = complete(victim, completion)

        assert response.status_code == 403
        assert set(response.json()) == {"error", "detail"}
        assert_nothing_bound()
        assert_unspent(completion)
        assert github.count() == calls_at_the_callback  # refused before GitHub is asked

    def test_the_state_users_jwt_would_bind_but_that_user_never_receives_the_completion(self, user, other_user, github):
        """The contract binds a completion for the user its state names, so A's JWT with the
        completion is accepted (201), even after V's frontend was refused. What closes the
        attack is where the completion goes: only into the callback's answer to the browser
        that finished the install at GitHub, V's, never into any answer to A (A's listing shows
        nothing pending or bound). A could bind V's installation only if V handed A the
        completion; V's own frontend, which is what receives it, gets a 403."""
        attacker, victim = user, other_user
        accessible_installation(github)
        completion = pending_completion(attacker)  # the answer to the victim's browser
        assert complete(victim, completion).status_code == 403
        assert client_for(attacker).get(GITHUB_LIST).json()["integrations"] == []

        response = complete(attacker, completion)

        assert response.status_code == 201
        assert OAuthToken.objects.get().user == attacker

    def test_the_victims_jwt_relayed_on_the_callback_is_refused(self, user, other_user, github):
        response = callback(client_for(other_user), install_state_issue(user=user))

        assert response.status_code == 403
        assert_nothing_stored()
        assert github.requests() == []


class TestEnumeration:
    @pytest.mark.parametrize("app_status", [200, 404])
    def test_an_installation_the_users_token_cannot_see_is_a_403_without_asking_the_app(
        self, client, user, github, app_status
    ):
        installing = github.user(token=USER_TOKEN)
        for other in (111, 222):
            installing.sees(github.installation(other))
        if app_status == 200:
            github.installation(INSTALLATION_ID)

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 403
        assert response.json() == {"error": "Your GitHub account cannot access this installation.", "detail": {}}
        assert not any(path.startswith("/app/installations") for path in requested_paths(github))
        assert_nothing_stored()

    def test_the_state_stays_usable_after_the_refusal(self, client, user, github):
        state = install_state_issue(user=user)
        installing = github.user(token=USER_TOKEN)
        installing.sees(github.installation(111))
        assert callback(client, state).status_code == 403

        installing.sees(github.installation(INSTALLATION_ID, repositories=repositories(github, [HELLO])))

        assert callback(client, state).status_code == 200

    def test_ownership_is_proved_before_the_app_is_asked(self, client, user, github):
        accessible_installation(github)

        callback(client, install_state_issue(user=user))

        paths = requested_paths(github)
        assert paths.index("/user/installations") < paths.index(f"/app/installations/{INSTALLATION_ID}")
        assert paths[0] == "/login/oauth/access_token"


class TestCallback:
    def test_a_verified_install_answers_a_pending_completion_and_binds_nothing(self, client, user, github):
        accessible_installation(github)

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"status", "completion", "installation_id", "account"}
        assert (body["status"], body["installation_id"]) == ("pending", INSTALLATION_ID)
        assert body["account"] == {"id": 21031067, "login": "Codertocat", "type": "User"}
        assert_nothing_bound()
        assert UsedInstallState.objects.get().user == user
        pending = PendingInstallCompletion.objects.get()
        assert (pending.user, pending.installation_id, pending.setup_action) == (user, INSTALLATION_ID, "install")
        assert (pending.github_user_id, pending.github_login) == (GITHUB_USER_ID, GITHUB_LOGIN)
        assert pending.installation_data["id"] == INSTALLATION_ID
        assert pending.expires_at - pending.created_at == pytest.approx(
            timedelta(seconds=600), abs=timedelta(seconds=1)
        )
        assert pending.completed_at is None

    def test_the_completion_is_opaque_and_stored_only_as_its_digest(self, client, user, github):
        accessible_installation(github)

        completion = callback(client, install_state_issue(user=user)).json()["completion"]

        assert len(completion) >= 43
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM github_app_pendinginstallcompletion")
            row = " ".join(str(value) for value in cursor.fetchone())
        assert completion not in row
        assert hashlib.sha256(completion.encode()).hexdigest() in row

    def test_the_users_tokens_wait_encrypted_with_their_expiry(self, client, user, github):
        accessible_installation(github)
        callback(client, install_state_issue(user=user))

        with connection.cursor() as cursor:
            cursor.execute("SELECT access_token, refresh_token FROM github_app_pendinginstallcompletion")
            stored = cursor.fetchone()

        assert USER_TOKEN not in stored[0] and stored[0].startswith("gAAAAA")
        assert stored[1].startswith("gAAAAA")
        pending = PendingInstallCompletion.objects.get()
        assert pending.access_token == USER_TOKEN and pending.refresh_token.startswith("ghr_")
        assert pending.access_token_expires_at - pending.created_at == pytest.approx(
            timedelta(hours=8), abs=timedelta(seconds=5)
        )

    def test_the_user_token_never_reaches_the_response(self, client, user, github):
        accessible_installation(github)

        response = callback(client, install_state_issue(user=user))

        assert USER_TOKEN not in response.content.decode()

    def test_request_answers_requested_and_stores_nothing(self, client, user, github):
        response = client.get(CALLBACK, {"state": install_state_issue(user=user), "setup_action": "request"})

        assert response.status_code == 202
        assert response.json() == {"status": "requested"}
        assert_nothing_stored()
        assert github.requests() == []

    def test_redirects_to_the_frontend_with_the_completion(self, client, user, github, settings):
        settings.FRONTEND_URL = "https://app.example.com/integrations"
        accessible_installation(github)

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 302
        location = urlparse(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == "https://app.example.com/integrations"
        query = parse_qs(location.query)
        assert (query["status"], query["installation_id"]) == (["pending"], [str(INSTALLATION_ID)])
        assert complete(user, query["completion"][0]).status_code == 201

    def test_a_request_redirects_to_the_frontend_as_requested(self, client, user, settings):
        settings.FRONTEND_URL = "https://app.example.com/integrations?tab=github"

        response = client.get(CALLBACK, {"state": install_state_issue(user=user), "setup_action": "request"})

        assert response.status_code == 302
        assert response["Location"] == "https://app.example.com/integrations?tab=github&status=requested"

    def test_a_relaying_frontend_may_send_the_same_users_jwt(self, user, github):
        accessible_installation(github)

        assert callback(client_for(user), install_state_issue(user=user)).status_code == 200

    def test_enterprise_server_api_base_url_is_used(self, user, github, settings):
        settings.GITHUB_API_BASE_URL = "https://ghe.example.com/api/v3"
        settings.GITHUB_BASE_URL = "https://ghe.example.com"
        accessible_installation(github)

        assert install(user).status_code == 201
        assert {urlparse(request.url).hostname for request in github.requests()} == {"ghe.example.com"}

    def test_the_app_jwt_is_sent_to_confirm_the_installation(self, client, user, github):
        accessible_installation(github)

        callback(client, install_state_issue(user=user))

        request = github.requests("GET", INSTALLATION)[0]
        assert request.headers["Authorization"].startswith("Bearer ey")


class TestComplete:
    def test_binds_the_installation_its_repositories_and_the_connection(self, user, github):
        accessible_installation(github, [HELLO, SECRET])

        response = install(user)

        assert response.status_code == 201
        body = response.json()
        token = OAuthToken.objects.get()
        assert body["id"] == str(token.id)
        assert (body["integration_id"], body["provider"], body["is_active"]) == ("github_app", "github", True)
        assert body["installation"]["account"] == {"id": 21031067, "login": "Codertocat", "type": "User"}
        assert [repo["full_name"] for repo in body["installation"]["repositories"]] == [
            "Codertocat/Hello-World",
            "Codertocat/secret",
        ]
        assert (token.user, token.is_active, token.provider, token.integration.integration_id) == (
            user,
            True,
            "github",
            "github_app",
        )
        assert token.credential_data["installation_id"] == str(INSTALLATION_ID)
        assert token.credential_data["setup_action"] == "install"
        assert token.credential_data["account_login"] == "Codertocat"
        assert "callback_timestamp" in token.credential_data
        assert (token.credential_data["github_user_id"], token.credential_data["github_login"]) == (
            GITHUB_USER_ID,
            GITHUB_LOGIN,
        )
        assert token.access_token == USER_TOKEN and token.refresh_token.startswith("ghr_")
        assert token.access_token_expires_at is not None
        installation = Installation.objects.get()
        assert (installation.installation_id, installation.repository_selection) == (INSTALLATION_ID, "selected")
        assert installation.permissions["contents"] == "write"
        assert InstallationRepository.objects.get(repository_id=2).private is True
        assert set(RepositoryAccess.objects.values_list("connection", "repository_id")) == {
            (token.pk, 1),
            (token.pk, 2),
        }

    def test_the_completion_is_spent_and_gives_its_tokens_to_the_connection(self, user, github):
        accessible_installation(github)

        install(user)

        pending = PendingInstallCompletion.objects.get()
        assert pending.completed_at is not None
        assert (pending.access_token, pending.refresh_token) == (None, None)

    def test_the_user_token_is_encrypted_at_rest(self, user, github):
        accessible_installation(github)
        install(user)

        with connection.cursor() as cursor:
            cursor.execute("SELECT access_token, refresh_token FROM integrations_oauthtoken")
            stored = cursor.fetchone()

        assert USER_TOKEN not in stored[0]
        assert stored[1].startswith("gAAAAA")  # a Fernet token, not the ghr_ secret

    def test_the_user_token_never_reaches_the_response(self, user, github):
        accessible_installation(github)

        response = install(user)

        assert USER_TOKEN not in response.content.decode()

    def test_the_users_own_token_is_asked_which_repositories_they_see(self, user, github):
        accessible_installation(github)

        install(user)

        request = github.requests("GET", USER_REPOSITORIES)[0]
        assert request.headers["Authorization"] == f"token {USER_TOKEN}"

    def test_update_refreshes_repositories_and_reactivates_a_revoked_token(self, user, github):
        accessible_installation(github, ["Codertocat/one"])
        install(user)
        OAuthToken.objects.update(is_active=False)
        github.installations[INSTALLATION_ID].repositories = repositories(github, ["Codertocat/two"])

        response = install(user, setup_action="update")

        assert response.status_code == 201
        assert list(InstallationRepository.objects.values_list("full_name", flat=True)) == ["Codertocat/two"]
        assert list(RepositoryAccess.objects.values_list("full_name", flat=True)) == ["Codertocat/two"]
        token = OAuthToken.objects.get()
        assert token.is_active and token.revoked_at is None
        assert token.credential_data["setup_action"] == "update"

    def test_requires_authentication(self, anon, user, github):
        accessible_installation(github)
        completion = pending_completion(user)

        response = anon.post(COMPLETE, {"completion": completion}, format="json")

        assert response.status_code == 401
        assert_nothing_bound()
        assert_unspent(completion)

    @pytest.mark.parametrize("body", [{}, {"completion": ""}, {"completion": "x" * 129}, {"completion": ["a"]}])
    def test_a_malformed_body_is_a_400(self, api, body):
        response = api.post(COMPLETE, body, format="json")

        assert response.status_code == 400
        assert "completion" in response.json()["detail"]

    def test_an_unknown_completion_is_a_400(self, user, github):
        response = complete(user, "not-a-completion-this-server-issued")

        assert response.status_code == 400
        assert set(response.json()) == {"error", "detail"}
        assert github.requests() == []

    def test_a_spent_completion_is_refused(self, user, github):
        accessible_installation(github)
        completion = pending_completion(user)
        assert complete(user, completion).status_code == 201

        response = complete(user, completion)

        assert response.status_code == 400
        assert "already been used" in response.json()["error"]
        assert OAuthToken.objects.count() == 1

    @pytest.mark.parametrize("seconds, expected", [(599, 201), (601, 400)])
    def test_a_completion_lasts_ten_minutes(self, user, github, seconds, expected):
        accessible_installation(github)
        with freeze_time() as frozen:
            completion = pending_completion(user)
            frozen.tick(timedelta(seconds=seconds))

            response = complete(user, completion)

        assert response.status_code == expected
        if expected == 400:
            assert "expired" in response.json()["error"]
            assert_nothing_bound()

    def test_another_users_jwt_is_refused_and_the_completion_stays_usable(self, user, other_user, github):
        accessible_installation(github)
        completion = pending_completion(user)

        refused = complete(other_user, completion)

        assert refused.status_code == 403
        assert_nothing_bound()
        assert_unspent(completion)
        assert complete(user, completion).status_code == 201
        assert OAuthToken.objects.get().user == user


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_completions_bind_once(user, github):
    accessible_installation(github, [HELLO, SECRET])
    completion = pending_completion(user)
    github.slow(0.3, "GET", USER_REPOSITORIES)  # every thread is past the checks before one spends

    statuses = run_at_once(lambda: complete(user, completion).status_code)

    assert sorted(statuses) == [201] + [400] * 7
    assert OAuthToken.objects.count() == 1
    assert RepositoryAccess.objects.count() == 2


class TestRepositoryAccess:
    def test_a_collaborator_reaches_only_the_repository_they_see(self, user, github):
        accessible_installation(github, [HELLO, SECRET], user_sees=[HELLO])

        response = install(user)

        assert response.status_code == 201
        assert [repo["full_name"] for repo in response.json()["installation"]["repositories"]] == [
            "Codertocat/Hello-World"
        ]
        assert list(RepositoryAccess.objects.values_list("repository_id", "full_name")) == [
            (1, "Codertocat/Hello-World")
        ]
        assert InstallationRepository.objects.count() == 2
        listed = client_for(user).get(GITHUB_LIST).json()["integrations"]
        assert [repo["full_name"] for repo in listed[0]["installation"]["repositories"]] == ["Codertocat/Hello-World"]

    def test_each_connection_lists_its_own_repositories(self, user, other_user, github):
        accessible_installation(github, [HELLO, SECRET], user_sees=[HELLO])
        install(user)
        someone_else = github.user(login="Octocat", id=583231, code="def456")
        someone_else.sees(github.installations[INSTALLATION_ID], repositories(github, [SECRET]))
        install(other_user, code="def456")

        mine = client_for(user).get(GITHUB_LIST).json()["integrations"][0]["installation"]
        theirs = client_for(other_user).get(GITHUB_LIST).json()["integrations"][0]["installation"]

        assert [repo["id"] for repo in mine["repositories"]] == [1]
        assert theirs["repositories"] == [{"id": 2, "full_name": "Codertocat/secret", "private": True}]
        shape = {
            "installation_id",
            "account",
            "repository_selection",
            "html_url",
            "suspended",
            "deleted",
            "repositories",
        }
        assert set(mine) == set(theirs) == shape

    def test_the_stored_refresh_token_renews_the_users_access_later(self, user, github):
        installing = accessible_installation(github, [HELLO, SECRET], user_sees=[HELLO])
        install(user)
        installing.sees(github.installations[INSTALLATION_ID])  # granted the other repository since

        with freeze_time(timedelta(hours=9)):
            repository_access_sync(connection=OAuthToken.objects.get())

        assert OAuthToken.objects.get().access_token == installing.token != USER_TOKEN
        assert RepositoryAccess.objects.count() == 2


class TestCallbackState:
    def test_forged_state_is_refused(self, client, user, github):
        state = install_state_issue(user=user)

        response = callback(client, state[:-2] + ("AA" if not state.endswith("AA") else "BB"))

        assert response.status_code == 400
        assert "not one this server issued" in response.json()["error"]
        assert_nothing_stored()
        assert github.requests() == []

    def test_expired_state_is_refused(self, client, user, github):
        with freeze_time("2026-01-01 10:00:00"):
            state = install_state_issue(user=user)
        with freeze_time("2026-01-01 11:00:01"):
            response = callback(client, state)

        assert response.status_code == 400
        assert "expired" in response.json()["error"]
        assert_nothing_stored()
        assert github.requests() == []

    def test_reused_state_is_refused(self, client, user, github):
        accessible_installation(github)
        state = install_state_issue(user=user)
        assert callback(client, state).status_code == 200

        response = callback(client, state)

        assert response.status_code == 400
        assert "already been used" in response.json()["error"]
        assert PendingInstallCompletion.objects.count() == 1

    def test_a_reused_state_is_refused_before_github_is_asked(self, client, user, github):
        """Spending the state again would fail at the end anyway; refused first, a replayed state
        gets no code exchanged and no installation read at GitHub on its behalf."""
        accessible_installation(github)
        state = install_state_issue(user=user)
        assert callback(client, state).status_code == 200
        asked = github.count()

        response = callback(client, state)

        assert response.status_code == 400
        assert github.count() == asked

    def test_state_of_a_deactivated_user_is_refused(self, client, user):
        state = install_state_issue(user=user)
        user.is_active = False
        user.save()

        assert callback(client, state).status_code == 400


class TestCallbackParameters:
    @pytest.mark.parametrize(
        "params, field",
        [
            ({"installation_id": None}, "installation_id"),
            ({"installation_id": "abc"}, "installation_id"),
            ({"installation_id": "-5"}, "installation_id"),
            ({"installation_id": "99999999999999999999999"}, "installation_id"),
            ({"installation_id": "0"}, "installation_id"),
            ({"installation_id": "1.5"}, "installation_id"),
            ({"setup_action": "delete"}, "setup_action"),
            ({"setup_action": None}, "setup_action"),
            ({"error": "access_denied"}, "error"),
        ],
    )
    def test_bad_parameters_are_a_400_naming_the_field(self, client, user, github, params, field):
        response = callback(client, install_state_issue(user=user), **params)

        assert response.status_code == 400
        assert field in response.json()["detail"]
        assert_nothing_stored()

    @pytest.mark.parametrize("state", ["", "x" * 1025, "\u00e9t\u00e9:\u2603", "a:b:c", "null"])
    def test_malformed_state_is_a_400(self, client, db, github, state):
        response = callback(client, state)

        assert response.status_code == 400
        assert_nothing_stored()
        assert github.requests() == []

    def test_garbage_jwt_on_the_callback_is_a_401(self, client, user, github):
        response = client.get(
            CALLBACK,
            {"state": install_state_issue(user=user), "setup_action": "install", "installation_id": INSTALLATION_ID},
            HTTP_AUTHORIZATION="Bearer not-a-jwt",
        )

        assert response.status_code == 401
        assert_nothing_stored()

    def test_post_is_not_allowed(self, client, db):
        assert client.post(CALLBACK).status_code == 405

    def test_missing_state_is_a_400(self, client, db):
        response = client.get(CALLBACK, {"setup_action": "install", "installation_id": INSTALLATION_ID})

        assert response.status_code == 400
        assert "state" in response.json()["detail"]


class TestCallbackVerification:
    def test_an_installation_the_app_does_not_know_is_a_404(self, client, user, github):
        accessible_installation(github)
        github.fail("GET", INSTALLATION, 404)  # uninstalled while the user came back from GitHub

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 404
        assert_nothing_stored()

    def test_failing_code_exchange_is_a_400(self, client, user, github):
        accessible_installation(github)

        response = callback(client, install_state_issue(user=user), code="expired-code")

        assert response.status_code == 400
        assert response.json()["detail"] == {"reason": "bad_verification_code"}
        assert_nothing_stored()

    def test_missing_code_is_a_400_before_github_is_asked(self, client, user, github):
        response = callback(client, install_state_issue(user=user), code=None)

        assert response.status_code == 400
        assert_nothing_stored()
        assert github.requests() == []

    def test_without_client_credentials_production_refuses_before_github_is_asked(self, client, user, github, settings):
        settings.GITHUB_CLIENT_ID = ""

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 403
        assert "not configured" in response.json()["error"]
        assert_nothing_stored()
        assert github.requests() == []

    def test_without_client_credentials_debug_binds_the_whole_installation_on_the_state_alone(
        self, user, github, settings
    ):
        settings.GITHUB_CLIENT_ID = ""
        settings.DEBUG = True
        github.installation(INSTALLATION_ID, repositories=repositories(github, [HELLO, SECRET]))

        completion = pending_completion(user, code=None)

        assert PendingInstallCompletion.objects.get().access_token is None
        assert complete(user, completion).status_code == 201
        assert OAuthToken.objects.get().access_token is None
        assert RepositoryAccess.objects.count() == 2
        assert not any(path.startswith("/user") for path in requested_paths(github))


class TestCallbackGitHubFailures:
    @pytest.mark.parametrize("status, expected", [(500, 502), (502, 502), (503, 502)])
    def test_github_server_error_is_a_502_and_stores_nothing(self, client, user, github, status, expected):
        accessible_installation(github)
        github.fail("GET", INSTALLATION, status)

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == expected
        assert set(response.json()) == {"error", "detail"}
        assert_nothing_stored()

    def test_github_timeout_is_a_503_and_the_state_stays_usable(self, client, user, github):
        state = install_state_issue(user=user)
        accessible_installation(github)
        github.fail("GET", INSTALLATION, error=requests.ConnectTimeout("timed out"))

        assert callback(client, state).status_code == 503
        assert_nothing_stored()

        assert callback(client, state).status_code == 200

    def test_a_failing_user_installations_list_is_a_502(self, client, user, github):
        accessible_installation(github)
        github.fail("GET", "/user/installations", 500)

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 502
        assert_nothing_stored()

    def test_code_exchange_unreachable_is_a_503(self, client, user, github):
        github.fail("POST", "/login/oauth/access_token", error=requests.ConnectionError("refused"))

        assert callback(client, install_state_issue(user=user)).status_code == 503
        assert_nothing_stored()

    def test_rate_limited_github_is_a_503_with_retry_after(self, client, user, github):
        accessible_installation(github)
        rate_limited = {"X-RateLimit-Remaining": "0", "Retry-After": "30"}
        github.fail("GET", INSTALLATION, 403, json={"message": "API rate limit exceeded"}, headers=rate_limited)

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        assert_nothing_stored()

    def test_a_wrong_app_key_is_a_502_without_leaking_the_jwt(self, client, user, github):
        accessible_installation(github)
        github.fail("GET", INSTALLATION, 401, json={"message": "Bad credentials"})

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 502
        assert "ey" not in response.json()["error"]


def installation_token_fails(github: GitHub):
    github.fail("POST", f"{INSTALLATION}/access_tokens", 500, times=None)


def installation_repositories_unreachable(github: GitHub):
    github.fail("GET", "/installation/repositories", error=requests.ConnectTimeout("timed out"), times=None)


def user_repositories_fail(github: GitHub):
    github.fail("GET", USER_REPOSITORIES, 502, times=None)


def user_repositories_unreachable(github: GitHub):
    github.fail("GET", USER_REPOSITORIES, error=requests.ConnectionError("refused"), times=None)


class TestCompleteGitHubFailures:
    @pytest.mark.parametrize(
        "failure, expected",
        [
            (installation_token_fails, 502),
            (installation_repositories_unreachable, 503),
            (user_repositories_fail, 502),
            (user_repositories_unreachable, 503),
        ],
    )
    def test_a_failure_binds_nothing_and_the_completion_stays_usable(self, user, github, failure, expected):
        accessible_installation(github)
        completion = pending_completion(user)
        failure(github)

        response = complete(user, completion)

        assert response.status_code == expected
        assert set(response.json()) == {"error", "detail"}
        assert_nothing_bound()
        assert_unspent(completion)
        github.recover()
        assert complete(user, completion).status_code == 201

    def test_a_user_token_github_no_longer_accepts_is_a_403(self, user, github):
        installing = accessible_installation(github)
        completion = pending_completion(user)
        installing.revoke()

        response = complete(user, completion)

        assert response.status_code == 403
        assert_nothing_bound()


class TestCallbackThrottle:
    def test_is_per_client_address(self, client, db, settings):
        settings.GITHUB_INSTALL_CALLBACK_THROTTLE_RATE = "2/minute"

        statuses = [callback(client, "bad", request_meta={"REMOTE_ADDR": "198.51.100.1"}).status_code for _ in range(3)]
        elsewhere = callback(client, "bad", request_meta={"REMOTE_ADDR": "198.51.100.2"})

        assert statuses == [400, 400, 429]
        assert elsewhere.status_code == 400

    def test_a_throttled_answer_keeps_the_error_shape(self, client, db, settings):
        settings.GITHUB_INSTALL_CALLBACK_THROTTLE_RATE = "1/minute"
        callback(client, "bad")

        response = callback(client, "bad")

        assert response.status_code == 429
        assert set(response.json()) == {"error", "detail"}
        assert int(response["Retry-After"]) > 0

    def test_a_forged_forwarded_for_header_does_not_dodge_it(self, client, db, settings):
        settings.GITHUB_INSTALL_CALLBACK_THROTTLE_RATE = "2/minute"

        forged = [{"HTTP_X_FORWARDED_FOR": f"10.0.0.{n}"} for n in range(3)]

        statuses = [callback(client, "bad", request_meta=meta).status_code for meta in forged]

        assert statuses[-1] == 429

    def test_behind_a_trusted_proxy_the_address_it_saw_counts(self, client, db, settings):
        settings.GITHUB_INSTALL_CALLBACK_THROTTLE_RATE = "1/minute"
        settings.TRUSTED_PROXY_COUNT = 1

        seen_by_the_proxy = ["198.51.100.1", "198.51.100.2", "198.51.100.1"]

        statuses = [
            callback(
                client, "bad", request_meta={"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": address}
            ).status_code
            for address in seen_by_the_proxy
        ]

        assert statuses == [400, 400, 429]

    def test_the_default_is_thirty_a_minute(self, client, db):
        statuses = [callback(client, "bad").status_code for _ in range(31)]

        assert statuses[:30] == [400] * 30
        assert statuses[30] == 429


class TestPurge:
    def test_completions_go_a_day_after_they_expire(self, user, github):
        accessible_installation(github)
        with freeze_time(timedelta(days=-2)):
            pending_completion(user)
        with freeze_time(timedelta(hours=-2)):
            pending_completion(user)
        pending_completion(user)

        install_states_purge()

        remaining = PendingInstallCompletion.objects.values_list("expires_at", flat=True)
        assert len(remaining) == 2
        assert min(remaining) > timezone.now() - timedelta(days=1)


@pytest.mark.django_db  # where the environment leaves a credential empty, a registered App's is read
class TestSystemCheck:
    def run_checks(self) -> set[str]:
        return {message.id for message in checks.run_checks() if message.id and message.id.startswith("github_app.")}

    def test_production_without_client_credentials_is_an_error(self, settings):
        settings.GITHUB_CLIENT_SECRET = ""
        assert "github_app.E001" in self.run_checks()

    def test_debug_without_client_credentials_is_a_warning(self, settings):
        settings.GITHUB_CLIENT_SECRET = ""
        settings.DEBUG = True
        assert {"github_app.W001"} <= self.run_checks() and "github_app.E001" not in self.run_checks()

    def test_configured_app_passes(self):
        assert self.run_checks() == set()
