from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.core import checks
from django.db import connection
from freezegun import freeze_time

from github_app.models import Installation, InstallationRepository, UsedInstallState
from github_app.services.install_flow import install_state_issue
from integrations.models import OAuthToken
from tests.conftest import client_for
from tests.github_app.github_stub import INSTALLATION_ID, USER_TOKEN, GitHubStub, api_url, repository

CALLBACK = "/api/v1/public/webhooks/github/auth"
INSTALL_URL = "/api/v1/app/integrations/github/install"


@pytest.fixture
def github(github_http) -> GitHubStub:
    return GitHubStub(github_http)


def callback(client, state, **params):
    query = {"state": state, "setup_action": "install", "installation_id": INSTALLATION_ID, "code": "abc123", **params}
    return client.get(CALLBACK, {key: value for key, value in query.items() if value is not None})


def assert_nothing_stored():
    assert not Installation.objects.exists()
    assert not OAuthToken.objects.exists()
    assert not UsedInstallState.objects.exists()


class TestInstallUrl:
    def test_issues_a_signed_state_bound_to_the_user(self, api, user, github):
        response = api.get(INSTALL_URL)

        assert response.status_code == 200
        url = urlparse(response.json()["install_url"])
        assert (url.scheme, url.netloc, url.path) == ("https", "github.com", "/apps/ai-workflow-teams-test/installations/new")
        state = parse_qs(url.query)["state"][0]
        github.accessible_installation()
        assert callback(api, state).status_code == 200
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


class TestCallbackSuccess:
    def test_install_stores_installation_repositories_and_token(self, client, user, github):
        github.accessible_installation(repositories=[repository(1, "Codertocat/Hello-World"), repository(2, "Codertocat/secret", True)])

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "installed"
        assert body["installation"]["account"] == {"id": 21031067, "login": "Codertocat", "type": "User"}
        assert [repo["full_name"] for repo in body["installation"]["repositories"]] == ["Codertocat/Hello-World", "Codertocat/secret"]
        token = OAuthToken.objects.get()
        assert (token.user, token.is_active, token.provider, token.integration.integration_id) == (user, True, "github", "github_app")
        assert token.credential_data["installation_id"] == str(INSTALLATION_ID)
        assert token.credential_data["setup_action"] == "install"
        assert "callback_timestamp" in token.credential_data
        assert (token.credential_data["github_user_id"], token.credential_data["github_login"]) == (21031067, "Codertocat")
        assert token.access_token == USER_TOKEN
        assert body["integration"]["id"] == str(token.id)
        installation = Installation.objects.get()
        assert (installation.installation_id, installation.repository_selection) == (INSTALLATION_ID, "selected")
        assert installation.permissions["contents"] == "write"
        assert InstallationRepository.objects.get(repository_id=2).private is True

    def test_user_token_is_encrypted_at_rest(self, client, user, github):
        github.accessible_installation()
        callback(client, install_state_issue(user=user))

        with connection.cursor() as cursor:
            cursor.execute("SELECT access_token, refresh_token FROM integrations_oauthtoken")
            stored = cursor.fetchone()

        assert USER_TOKEN not in stored[0]
        assert stored[1].startswith("gAAAAA")  # a Fernet token, not the ghr_ secret

    def test_the_user_token_never_reaches_the_response(self, client, user, github):
        github.accessible_installation()

        response = callback(client, install_state_issue(user=user))

        assert USER_TOKEN not in response.content.decode()

    def test_update_refreshes_repositories_and_reactivates_a_revoked_token(self, client, user, github):
        github.accessible_installation(repositories=[repository(1, "Codertocat/one")])
        callback(client, install_state_issue(user=user))
        OAuthToken.objects.update(is_active=False)
        github.mock.reset()
        github.accessible_installation(repositories=[repository(2, "Codertocat/two")])

        response = callback(client, install_state_issue(user=user), setup_action="update")

        assert response.status_code == 200
        assert response.json()["status"] == "updated"
        assert list(InstallationRepository.objects.values_list("full_name", flat=True)) == ["Codertocat/two"]
        token = OAuthToken.objects.get()
        assert token.is_active and token.revoked_at is None
        assert token.credential_data["setup_action"] == "update"

    def test_request_answers_pending_and_stores_nothing(self, client, user, github):
        response = client.get(CALLBACK, {"state": install_state_issue(user=user), "setup_action": "request"})

        assert response.status_code == 202
        assert response.json()["status"] == "pending"
        assert_nothing_stored()
        assert len(github.mock.calls) == 0

    def test_redirects_to_the_frontend_when_configured(self, client, user, github, settings):
        settings.FRONTEND_URL = "https://app.example.com/integrations"
        github.accessible_installation()

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 302
        assert response["Location"] == f"https://app.example.com/integrations?status=installed&installation_id={INSTALLATION_ID}"

    def test_a_relaying_frontend_may_send_the_same_users_jwt(self, user, github):
        github.accessible_installation()

        assert callback(client_for(user), install_state_issue(user=user)).status_code == 200

    def test_enterprise_server_api_base_url_is_used(self, client, user, github, settings):
        settings.GITHUB_API_BASE_URL = "https://ghe.example.com/api/v3"
        settings.GITHUB_BASE_URL = "https://ghe.example.com"
        github.accessible_installation()

        assert callback(client, install_state_issue(user=user)).status_code == 200
        assert {urlparse(call.request.url).hostname for call in github.mock.calls} == {"ghe.example.com"}


class TestCallbackState:
    def test_forged_state_is_refused(self, client, user, github):
        state = install_state_issue(user=user)

        response = callback(client, state[:-2] + ("AA" if not state.endswith("AA") else "BB"))

        assert response.status_code == 400
        assert "not one this server issued" in response.json()["error"]
        assert_nothing_stored()
        assert len(github.mock.calls) == 0

    def test_expired_state_is_refused(self, client, user, github):
        with freeze_time("2026-01-01 10:00:00"):
            state = install_state_issue(user=user)
        with freeze_time("2026-01-01 11:00:01"):
            response = callback(client, state)

        assert response.status_code == 400
        assert "expired" in response.json()["error"]
        assert_nothing_stored()

    def test_reused_state_is_refused(self, client, user, github):
        github.accessible_installation()
        state = install_state_issue(user=user)
        assert callback(client, state).status_code == 200

        response = callback(client, state)

        assert response.status_code == 400
        assert "already been used" in response.json()["error"]
        assert OAuthToken.objects.count() == 1

    def test_state_of_user_a_presented_by_user_b_is_refused(self, user, other_user, github):
        response = callback(client_for(other_user), install_state_issue(user=user))

        assert response.status_code == 403
        assert_nothing_stored()
        assert len(github.mock.calls) == 0

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
        assert len(github.mock.calls) == 0

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
    def test_unknown_installation_is_a_404(self, client, user, github):
        github.installation(status=404)

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 404
        assert_nothing_stored()

    def test_installation_missing_from_the_users_installations_is_a_403(self, client, user, github):
        github.installation()
        github.oauth_exchange()
        github.user_installations([111, 222])

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 403
        assert_nothing_stored()

    def test_failing_code_exchange_is_a_400(self, client, user, github):
        github.installation()
        github.oauth_exchange(body={"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 400
        assert response.json()["detail"] == {"reason": "bad_verification_code"}
        assert_nothing_stored()

    def test_missing_code_is_a_400_when_ownership_must_be_proved(self, client, user, github):
        github.installation()

        response = callback(client, install_state_issue(user=user), code=None)

        assert response.status_code == 400
        assert_nothing_stored()

    def test_without_client_credentials_production_refuses_to_bind(self, client, user, github, settings):
        settings.GITHUB_CLIENT_ID = ""
        github.installation()

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 403
        assert "not configured" in response.json()["error"]
        assert_nothing_stored()

    def test_without_client_credentials_debug_binds_on_the_state_alone(self, client, user, github, settings):
        settings.GITHUB_CLIENT_ID = ""
        settings.DEBUG = True
        github.installation()
        github.repositories()

        response = callback(client, install_state_issue(user=user), code=None)

        assert response.status_code == 200
        assert OAuthToken.objects.get().access_token is None

    def test_the_app_jwt_is_sent_to_confirm_the_installation(self, client, user, github):
        github.accessible_installation()

        callback(client, install_state_issue(user=user))

        request = next(call.request for call in github.mock.calls if call.request.url.endswith(f"/app/installations/{INSTALLATION_ID}"))
        assert request.headers["Authorization"].startswith("Bearer ey")


class TestCallbackGitHubFailures:
    @pytest.mark.parametrize("status, expected", [(500, 502), (502, 502), (503, 502)])
    def test_github_server_error_is_a_502_and_stores_nothing(self, client, user, github, status, expected):
        github.installation(status=status)

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == expected
        assert set(response.json()) == {"error", "detail"}
        assert_nothing_stored()

    def test_github_timeout_is_a_503_and_the_state_stays_usable(self, client, user, github):
        state = install_state_issue(user=user)
        github.installation_unreachable()

        assert callback(client, state).status_code == 503
        assert_nothing_stored()

        github.mock.reset()
        github.accessible_installation()
        assert callback(client, state).status_code == 200

    def test_failure_after_the_code_exchange_stores_nothing(self, client, user, github):
        github.installation()
        github.oauth_exchange()
        github.user_installations([INSTALLATION_ID])
        github.mock.post(api_url(f"/app/installations/{INSTALLATION_ID}/access_tokens"), json={"message": "boom"}, status=500)

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 502
        assert_nothing_stored()

    def test_code_exchange_unreachable_is_a_503(self, client, user, github, settings):
        github.installation()
        github.mock.post(f"{settings.GITHUB_BASE_URL}/login/oauth/access_token", body=requests.ConnectionError("refused"))

        assert callback(client, install_state_issue(user=user)).status_code == 503

    def test_rate_limited_github_is_a_503_with_retry_after(self, client, user, github):
        github.mock.get(
            api_url(f"/app/installations/{INSTALLATION_ID}"),
            json={"message": "API rate limit exceeded"},
            status=403,
            headers={"X-RateLimit-Remaining": "0", "Retry-After": "30"},
        )

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 503
        assert response["Retry-After"] == "30"

    def test_a_wrong_app_key_is_a_502_without_leaking_the_jwt(self, client, user, github):
        github.mock.get(api_url(f"/app/installations/{INSTALLATION_ID}"), json={"message": "Bad credentials"}, status=401)

        response = callback(client, install_state_issue(user=user))

        assert response.status_code == 502
        assert "ey" not in response.json()["error"]


class TestSystemCheck:
    def run_checks(self) -> set[str]:
        return {message.id for message in checks.run_checks() if message.id.startswith("github_app.")}

    def test_production_without_client_credentials_is_an_error(self, settings):
        settings.GITHUB_CLIENT_SECRET = ""
        assert "github_app.E001" in self.run_checks()

    def test_debug_without_client_credentials_is_a_warning(self, settings):
        settings.GITHUB_CLIENT_SECRET = ""
        settings.DEBUG = True
        assert {"github_app.W001"} <= self.run_checks() and "github_app.E001" not in self.run_checks()

    def test_configured_app_passes(self):
        assert self.run_checks() == set()
