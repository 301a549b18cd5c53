"""Our record of each installation, kept true to GitHub's: by the install callback and by the
installation lifecycle webhooks. Every function sets state, so applying one twice is harmless."""

from datetime import datetime
from datetime import timezone as dt_timezone

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from github_app import client, github_api
from github_app.models import GITHUB_APP_INTEGRATION_ID, Installation, InstallationRepository
from integrations.models import OAuthToken
from integrations.services import oauth_token_revoke


def _timestamp(value) -> datetime | None:
    """GitHub sends ISO 8601 from the REST API and, in some webhooks, epoch seconds."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=dt_timezone.utc)
    return parse_datetime(value)


def installation_upsert(*, data: dict) -> Installation:
    """Create or update an installation from GitHub's installation object."""
    account = data.get("account") or {}
    installation, _ = Installation.objects.update_or_create(
        installation_id=data["id"],
        defaults={
            "account_id": account.get("id") or 0,
            "account_login": account.get("login") or "",
            "account_type": account.get("type") or data.get("target_type") or "",
            "repository_selection": data.get("repository_selection") or "",
            "permissions": data.get("permissions") or {},
            "events": data.get("events") or [],
            "html_url": data.get("html_url") or "",
            "suspended_at": _timestamp(data.get("suspended_at")),
            "deleted_at": None,
        },
    )
    return installation


@transaction.atomic
def installation_store(*, data: dict, repositories: list[dict]) -> Installation:
    """Make our record of an installation match GitHub's, its full repository list included."""
    installation = installation_upsert(data=data)
    installation_repositories_replace(installation=installation, repositories=repositories)
    return installation


def installation_repositories_replace(*, installation: Installation, repositories: list[dict]) -> None:
    installation.repositories.exclude(repository_id__in=[repo["id"] for repo in repositories]).delete()
    installation_repositories_add(installation=installation, repositories=repositories)


def installation_repositories_add(*, installation: Installation, repositories: list[dict]) -> None:
    for repo in repositories:
        InstallationRepository.objects.update_or_create(
            installation=installation,
            repository_id=repo["id"],
            defaults={"full_name": repo["full_name"], "private": bool(repo.get("private"))},
        )


def installation_resync(*, installation_id: int) -> Installation:
    """Re-read the installation and every repository it reaches from GitHub."""
    data = client.installation_fetch(installation_id=installation_id)
    repositories = github_api.installation_repositories_fetch(installation_id=installation_id)
    return installation_store(data=data, repositories=repositories)


@transaction.atomic
def installation_mark_deleted(*, data: dict) -> Installation:
    """The App was uninstalled: keep the record, end every user's connection to it."""
    installation = installation_upsert(data=data)
    installation.deleted_at = timezone.now()
    installation.save(update_fields=["deleted_at", "updated_at"])
    for token in OAuthToken.objects.filter(
        integration__integration_id=GITHUB_APP_INTEGRATION_ID, external_id=str(installation.installation_id), is_active=True
    ):
        oauth_token_revoke(token=token)
    return installation


@transaction.atomic
def github_user_authorization_revoke(*, github_user_id: int) -> int:
    """The user revoked the App's authorization on GitHub: their user tokens are dead."""
    tokens = OAuthToken.objects.filter(
        integration__integration_id=GITHUB_APP_INTEGRATION_ID, credential_data__github_user_id=github_user_id, is_active=True
    )
    count = 0
    for token in tokens:
        token.access_token = None
        token.refresh_token = None
        token.save(update_fields=["access_token", "refresh_token", "updated_at"])
        oauth_token_revoke(token=token)
        count += 1
    return count
