"""What each connection reaches: the repositories its user's own GitHub token sees in the
installation. GitHub grants people access per repository, so a collaborator on one repository of
an organisation's installation reaches that repository, not the installation's others.

The set is stored with the connection and re-read from GitHub when the connection completes, on
`installation` and `installation_repositories` events, and periodically (beat). The user's token
expires after 8 hours; it is refreshed with its refresh token (GitHub rotates both). A token that
GitHub no longer accepts leaves the connection with no access at all until the user connects
again: failing closed, never open.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from github_app.api import app_client
from github_app.errors import OAuthCodeInvalid, UserTokenRejected
from github_app.install.selectors import github_connections
from github_app.models import RepositoryAccess
from integrations.models import OAuthToken
from integrations.services import OAuthTokenUnusable, oauth_token_fresh_access, oauth_token_synced

logger = logging.getLogger(__name__)
# A user token with less validity left than this is refreshed before it is used.
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)


def repository_access_replace(*, connection: OAuthToken, repositories: list[dict]) -> None:
    """Make the connection reach exactly `repositories` ({id, full_name}) of its installation."""
    installation_id = int(connection.external_id)
    with transaction.atomic():
        connection.repository_access.exclude(repository_id__in=[repo["id"] for repo in repositories]).delete()
        for repo in repositories:
            RepositoryAccess.objects.update_or_create(
                connection=connection,
                repository_id=repo["id"],
                defaults={"installation_id": installation_id, "full_name": repo["full_name"]},
            )
        oauth_token_synced(token=connection)


def repository_access_remove(*, installation_id: int, repository_ids: list[int]) -> int:
    """Repositories removed from the installation leave every connection at once, before any
    call to GitHub; returns how many grants went."""
    deleted, _ = RepositoryAccess.objects.filter(
        installation_id=installation_id, repository_id__in=repository_ids
    ).delete()
    return deleted


def _user_token(connection: OAuthToken) -> str:
    """The connection's user token, refreshed first when it is about to expire."""
    try:
        return oauth_token_fresh_access(token=connection, margin=TOKEN_REFRESH_MARGIN, refresh=_user_token_refresh)
    except OAuthTokenUnusable:
        raise UserTokenRejected() from None


def _user_token_refresh(refresh_token: str) -> dict:
    try:
        return app_client.oauth_token_refresh(refresh_token=refresh_token)
    except OAuthCodeInvalid:
        raise OAuthTokenUnusable() from None


def repository_access_sync(*, connection: OAuthToken) -> int:
    """Re-read what the connection's user sees in the installation; returns how many
    repositories they reach. A token GitHub refuses empties the set (the user must connect
    again); GitHub being down or rate limited raises, for the caller to retry."""
    installation_id = int(connection.external_id)
    try:
        repositories = app_client.user_installation_repositories(
            user_token=_user_token(connection), installation_id=installation_id
        )
    except UserTokenRejected:
        logger.warning("user token rejected: repository access cleared", extra={"installation_id": installation_id})
        repositories = []
        connection.credential_data = {**connection.credential_data, "reauthorization_required": True}
        connection.save(update_fields=["credential_data", "updated_at"])
    repository_access_replace(connection=connection, repositories=repositories)
    return len(repositories)


def installation_access_sync(*, installation_id: int) -> None:
    """Re-read the access of every connection to the installation (after an `installation` or
    `installation_repositories` event changed what it covers)."""
    for connection in github_connections(installation_id=installation_id):
        repository_access_sync(connection=connection)


def repository_access_sync_due(*, limit: int = 100) -> int:
    """Re-read the access of connections never read (existing ones after the upgrade come
    first) or read longer ago than GITHUB_REPOSITORY_ACCESS_MAX_AGE_SECONDS; returns how many.
    One connection's failure does not hold up the others: it stays due."""
    horizon = timezone.now() - timedelta(seconds=settings.GITHUB_REPOSITORY_ACCESS_MAX_AGE_SECONDS)
    due = (
        github_connections()
        .filter(Q(synced_at__isnull=True) | Q(synced_at__lt=horizon))
        .order_by(F("synced_at").asc(nulls_first=True))[:limit]
    )
    synced = 0
    for connection in due:
        try:
            repository_access_sync(connection=connection)
            synced += 1
        except Exception:  # GitHub down or rate limited: the connection stays due for the next pass
            logger.warning(
                "repository access sync failed", exc_info=True, extra={"installation_id": connection.external_id}
            )
    return synced
