import uuid

import pytest

from github_app.models import Installation, InstallationRepository
from integrations.models import OAuthToken
from tests.conftest import client_for, github_connection

LIST = "/api/v1/app/integrations"
GITHUB_LIST = "/api/v1/app/integrations/github"


def connect(user, installation_id: int, **fields) -> OAuthToken:
    installation, _ = Installation.objects.get_or_create(
        installation_id=installation_id,
        defaults={
            "account_id": 7,
            "account_login": "octo-org",
            "account_type": "Organization",
            "repository_selection": "selected",
        },
    )
    InstallationRepository.objects.get_or_create(
        installation=installation, repository_id=installation_id * 10, full_name=f"octo-org/repo-{installation_id}"
    )
    return github_connection(
        user,
        installation_id,
        access_token="ghu_secret",
        repositories={installation_id * 10: f"octo-org/repo-{installation_id}"},
        **fields,
    )


class TestList:
    def test_lists_the_users_active_integrations_in_the_spec_shape(self, api, user, other_user):
        mine = connect(user, 1)
        connect(user, 2, is_active=False)
        connect(other_user, 3)

        response = api.get(LIST)

        assert response.status_code == 200
        body = response.json()
        assert (body["success"], body["user_id"], body["total_count"]) == (True, str(user.pk), 1)
        item = body["integrations"][0]
        assert item["id"] == str(mine.id)
        assert {key: item[key] for key in ("integration_id", "provider", "integration_type", "name", "is_active")} == {
            "integration_id": "github_app",
            "provider": "github",
            "integration_type": "github",
            "name": "GitHub App Integration",
            "is_active": True,
        }
        assert item["credential_data"] == {"installation_id": "1", "setup_action": "install"}
        assert "ghu_secret" not in response.content.decode()

    def test_empty(self, api, user):
        assert api.get(LIST).json() == {"success": True, "user_id": str(user.pk), "integrations": [], "total_count": 0}

    def test_github_list_adds_account_and_repositories(self, api, user, other_user):
        connect(user, 1)
        connect(other_user, 3)

        body = api.get(GITHUB_LIST).json()

        assert body["total_count"] == 1
        installation = body["integrations"][0]["installation"]
        assert installation["account"] == {"id": 7, "login": "octo-org", "type": "Organization"}
        assert installation["repositories"] == [{"id": 10, "full_name": "octo-org/repo-1", "private": False}]
        assert (installation["suspended"], installation["deleted"]) == (False, False)

    @pytest.mark.parametrize("url", [LIST, GITHUB_LIST])
    def test_needs_a_jwt(self, client, url):
        response = client.get(url)
        assert response.status_code == 401
        assert set(response.json()) == {"error", "detail"}

    def test_post_is_not_allowed(self, api):
        assert api.post(LIST, {}, format="json").status_code == 405


class TestDelete:
    def test_soft_deletes_the_users_own_integration(self, api, user):
        token = connect(user, 1)

        response = api.delete(f"{LIST}/{token.id}")

        assert response.status_code == 200
        assert response.json()["integration"]["is_active"] is False
        token.refresh_from_db()
        assert token.is_active is False and token.revoked_at is not None
        assert api.get(LIST).json()["total_count"] == 0
        assert OAuthToken.objects.filter(pk=token.pk).exists(), "history is kept"

    def test_deleting_twice_keeps_the_first_revocation_time(self, api, user):
        token = connect(user, 1)
        api.delete(f"{LIST}/{token.id}")
        first = OAuthToken.objects.get(pk=token.pk).revoked_at

        assert api.delete(f"{LIST}/{token.id}").status_code == 200
        assert OAuthToken.objects.get(pk=token.pk).revoked_at == first

    def test_another_users_integration_is_a_404_and_unchanged(self, user, other_user):
        token = connect(user, 1)

        response = client_for(other_user).delete(f"{LIST}/{token.id}")

        assert response.status_code == 404
        assert set(response.json()) == {"error", "detail"}
        assert OAuthToken.objects.get(pk=token.pk).is_active is True

    @pytest.mark.parametrize("token_id", [uuid.uuid4(), "not-a-uuid", "1"])
    def test_unknown_or_malformed_id_is_a_404(self, api, token_id):
        response = api.delete(f"{LIST}/{token_id}")
        assert response.status_code == 404
        assert "error" in response.json()

    def test_needs_a_jwt(self, client, user):
        token = connect(user, 1)
        assert client.delete(f"{LIST}/{token.id}").status_code == 401
        assert OAuthToken.objects.get(pk=token.pk).revoked_at is None
