from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, QuerySet

from github_app.models import (
    GITHUB_APP_INTEGRATION_ID,
    Installation,
    InstallationRepository,
    RepositoryAccess,
)
from integrations.models import OAuthToken
from integrations.selectors import oauth_token_list, oauth_tokens_active


@dataclass(frozen=True)
class GitHubIntegration:
    token: OAuthToken
    installation: Installation | None
    repositories: list[RepositoryAccess]  # what this connection reaches, not the whole installation


def github_integration_list(*, user: User) -> list[GitHubIntegration]:
    """The user's active GitHub App connections, each with its installation and the
    repositories the user reaches in it."""
    tokens = list(
        oauth_token_list(user=user, integration_id=GITHUB_APP_INTEGRATION_ID).prefetch_related("repository_access")
    )
    installations = {
        installation.installation_id: installation
        for installation in Installation.objects.filter(
            installation_id__in=[int(token.external_id) for token in tokens]
        ).prefetch_related("repositories")
    }
    return [
        GitHubIntegration(
            token=token,
            installation=installations.get(int(token.external_id)),
            repositories=list(token.repository_access.all()),
        )
        for token in tokens
    ]


def user_installation_ids(user: User) -> list[int]:
    """The installations the user is connected to."""
    return [int(token.external_id) for token in oauth_token_list(user=user, integration_id=GITHUB_APP_INTEGRATION_ID)]


def github_connections(
    *, installation_id: int | None = None, user_id: int | None = None, github_user_id: int | None = None
) -> QuerySet[OAuthToken]:
    """The active connections to the GitHub App, of one installation, user or GitHub user if given."""
    connections = oauth_tokens_active(integration_id=GITHUB_APP_INTEGRATION_ID)
    if installation_id is not None:
        connections = connections.filter(external_id=str(installation_id))
    if user_id is not None:
        connections = connections.filter(user_id=user_id)
    if github_user_id is not None:
        connections = connections.filter(credential_data__github_user_id=github_user_id)
    return connections


def installation_connected(*, user_id: int, installation_id: int) -> bool:
    """Whether the user has an active connection to the installation."""
    return github_connections(installation_id=installation_id, user_id=user_id).exists()


def user_repository_access(*, user_id: int) -> QuerySet[RepositoryAccess]:
    """Every repository the user reaches: through an active connection, within an installation
    that is neither deleted nor suspended, and still covered by that installation."""
    covered = InstallationRepository.objects.filter(
        installation__installation_id=OuterRef("installation_id"),
        installation__deleted_at__isnull=True,
        installation__suspended_at__isnull=True,
        repository_id=OuterRef("repository_id"),
    )
    return RepositoryAccess.objects.filter(
        Exists(covered),
        connection__user_id=user_id,
        connection__is_active=True,
        connection__integration__integration_id=GITHUB_APP_INTEGRATION_ID,
    )


def repository_access_find(*, user_id: int, installation_id: int, repository: str) -> RepositoryAccess | None:
    """The user's access to `repository` (owner/name) within that installation, or None."""
    return (
        user_repository_access(user_id=user_id)
        .filter(installation_id=installation_id, full_name__iexact=repository)
        .first()
    )


def repository_owner_ids(*, installation_id: int, repository_id: int | None, repository: str) -> QuerySet:
    """The users who reach a repository of an installation (a subquery of user ids)."""
    grants = RepositoryAccess.objects.filter(
        installation_id=installation_id,
        connection__is_active=True,
        connection__integration__integration_id=GITHUB_APP_INTEGRATION_ID,
    )
    grants = (
        grants.filter(repository_id=repository_id) if repository_id else grants.filter(full_name__iexact=repository)
    )
    return grants.values("connection__user_id")


def installation_covers(*, installation_id: int, repository: str) -> bool:
    """Whether the installation (neither deleted nor suspended) covers the repository (owner/name)."""
    return Installation.objects.filter(
        installation_id=installation_id,
        deleted_at__isnull=True,
        suspended_at__isnull=True,
        repositories__full_name__iexact=repository,
    ).exists()
