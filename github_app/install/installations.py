"""Our record of each installation, kept true to GitHub's: by the install callback and by the
installation lifecycle webhooks. Every function sets state, so applying one twice is harmless."""

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from github_app.api import app_client, installation_client
from github_app.install.selectors import github_connections
from github_app.models import Installation, InstallationRepository
from integrations.services import oauth_token_revoke


def _timestamp(value) -> datetime | None:
    """GitHub sends ISO 8601 from the REST API and, in some webhooks, epoch seconds."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC)
    return parse_datetime(value)


def installation_upsert(*, data: dict, as_of: datetime | None = None) -> Installation:
    """Create or update an installation from GitHub's installation object, as GitHub had it at
    `as_of` (now by default). Only what the object carries is changed: the installation object
    of an `installation_repositories` event has no `suspended_at`, and must not unsuspend."""
    account = data.get("account") or {}
    fields = {
        "account_id": account.get("id") or 0,
        "account_login": account.get("login") or "",
        "account_type": account.get("type") or data.get("target_type") or "",
        "repository_selection": data.get("repository_selection") or "",
        "permissions": data.get("permissions") or {},
        "events": data.get("events") or [],
        "html_url": data.get("html_url") or "",
        "deleted_at": None,
        "state_as_of": as_of or timezone.now(),
    }
    if "suspended_at" in data:
        fields["suspended_at"] = _timestamp(data["suspended_at"])
    installation, _ = Installation.objects.update_or_create(installation_id=data["id"], defaults=fields)
    return installation


def installation_record(*, data: dict) -> Installation:
    """Our record of the installation an event names, created from its object when missing.
    An existing record keeps its status: events other than `installation` carry a partial
    installation object, with no suspension in it."""
    installation = Installation.objects.filter(installation_id=data["id"]).first()
    if installation is None:
        installation = installation_upsert(data=data)
        Installation.objects.filter(pk=installation.pk).update(state_as_of=None)
    elif data.get("repository_selection"):
        installation.repository_selection = data["repository_selection"]
        installation.save(update_fields=["repository_selection", "updated_at"])
    return installation


def installation_account_rename(*, installation_id: int, account: dict) -> None:
    Installation.objects.filter(installation_id=installation_id).update(
        account_login=account.get("login") or "", updated_at=timezone.now()
    )


def installation_is_newer_than(*, installation_id: int, as_of: datetime, aspect: str = "state_as_of") -> bool:
    """Whether our record already shows a state newer than `as_of`: a lifecycle delivery from
    before it must not roll that state back."""
    return Installation.objects.filter(installation_id=installation_id, **{f"{aspect}__gt": as_of}).exists()


@transaction.atomic
def installation_store(*, data: dict, repositories: list[dict], as_of: datetime | None = None) -> Installation:
    """Make our record of an installation match GitHub's, its full repository list included."""
    installation = installation_upsert(data=data, as_of=as_of)
    installation_repositories_replace(installation=installation, repositories=repositories, as_of=as_of)
    return installation


def installation_repositories_replace(
    *, installation: Installation, repositories: list[dict], as_of: datetime | None = None
) -> None:
    installation.repositories.exclude(repository_id__in=[repo["id"] for repo in repositories]).delete()
    installation_repositories_add(installation=installation, repositories=repositories, as_of=as_of)


def installation_repositories_add(
    *, installation: Installation, repositories: list[dict], as_of: datetime | None = None
) -> None:
    for repo in repositories:
        InstallationRepository.objects.update_or_create(
            installation=installation,
            repository_id=repo["id"],
            defaults={"full_name": repo["full_name"], "private": bool(repo.get("private"))},
        )
    Installation.objects.filter(pk=installation.pk).update(repositories_as_of=as_of or timezone.now())


def installation_resync(*, installation_id: int) -> Installation:
    """Re-read the installation and every repository it reaches from GitHub."""
    data = app_client.installation_fetch(installation_id=installation_id)
    repositories = installation_client.installation_repositories_fetch(installation_id=installation_id)
    return installation_store(data=data, repositories=repositories)


@transaction.atomic
def installation_mark_deleted(*, data: dict, as_of: datetime | None = None) -> Installation:
    """The App was uninstalled: keep the record, end every user's connection to it."""
    installation = installation_upsert(data=data, as_of=as_of)
    installation.deleted_at = timezone.now()
    installation.save(update_fields=["deleted_at", "updated_at"])
    for token in github_connections(installation_id=installation.installation_id):
        oauth_token_revoke(token=token)
    return installation


@transaction.atomic
def github_user_authorization_revoke(*, github_user_id: int) -> int:
    """The user revoked the App's authorization on GitHub: their user tokens are dead."""
    tokens = github_connections(github_user_id=github_user_id)
    count = 0
    for token in tokens:
        token.access_token = None
        token.refresh_token = None
        token.save(update_fields=["access_token", "refresh_token", "updated_at"])
        oauth_token_revoke(token=token)
        count += 1
    return count
