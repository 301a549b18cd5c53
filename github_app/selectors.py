from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser

from github_app.models import Installation
from github_app.services import GITHUB_APP_INTEGRATION_ID
from integrations.models import OAuthToken
from integrations.selectors import oauth_token_list


@dataclass(frozen=True)
class GitHubIntegration:
    token: OAuthToken
    installation: Installation | None


def github_integration_list(*, user: AbstractBaseUser) -> list[GitHubIntegration]:
    """The user's active GitHub App connections, each with its installation and repositories."""
    tokens = list(oauth_token_list(user=user, integration_id=GITHUB_APP_INTEGRATION_ID))
    installation_ids = [int(token.external_id) for token in tokens]
    installations = {
        installation.installation_id: installation
        for installation in Installation.objects.filter(installation_id__in=installation_ids).prefetch_related(
            "repositories"
        )
    }
    return [GitHubIntegration(token=token, installation=installations.get(int(token.external_id))) for token in tokens]
