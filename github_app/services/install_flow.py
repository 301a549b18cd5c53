"""The GitHub App install flow: the signed state, the callback's checks, and what it stores."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from github_app import client, github_api
from github_app.errors import (
    GitHubAppNotConfigured,
    InstallationOwnershipUnverified,
    InstallStateInvalid,
    InstallStateWrongUser,
    OAuthCodeInvalid,
)
from github_app.models import GITHUB_APP_INTEGRATION_ID, Installation, UsedInstallState
from github_app.services.installations import installation_store
from integrations.models import OAuthToken
from integrations.selectors import integration_get
from integrations.services import oauth_token_upsert

_STATE_SALT = "github_app.install_state"


@dataclass(frozen=True)
class InstallStateClaims:
    user: AbstractBaseUser
    nonce: str


@dataclass(frozen=True)
class InstallCallbackResult:
    installation: Installation | None
    token: OAuthToken | None
    pending: bool = False


def install_state_issue(*, user: AbstractBaseUser) -> str:
    """A state that names the user, is signed with SECRET_KEY, expires, and can be spent once."""
    return signing.dumps({"u": user.pk, "n": secrets.token_urlsafe(24)}, salt=_STATE_SALT, compress=True)


def install_url_build(*, user: AbstractBaseUser) -> str:
    if not settings.GITHUB_APP_SLUG:
        raise GitHubAppNotConfigured(detail={"missing": "GITHUB_APP_SLUG"})
    # GitHub Enterprise Server serves apps under /github-apps/, github.com under /apps/.
    apps_path = "apps" if settings.GITHUB_BASE_URL == "https://github.com" else "github-apps"
    query = urlencode({"state": install_state_issue(user=user)})
    return f"{settings.GITHUB_BASE_URL}/{apps_path}/{settings.GITHUB_APP_SLUG}/installations/new?{query}"


def install_state_verify(*, state: str) -> InstallStateClaims:
    try:
        claims = signing.loads(state, salt=_STATE_SALT, max_age=settings.GITHUB_INSTALL_STATE_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise InstallStateInvalid("The installation state has expired; start the installation again.") from None
    except signing.BadSignature:
        raise InstallStateInvalid("The installation state is not one this server issued.") from None
    user = get_user_model().objects.filter(pk=claims["u"], is_active=True).first()
    if user is None:
        raise InstallStateInvalid("The installation state names no active user.")
    if UsedInstallState.objects.filter(nonce=claims["n"]).exists():
        raise InstallStateInvalid("The installation state has already been used.")
    return InstallStateClaims(user=user, nonce=claims["n"])


@dataclass(frozen=True)
class InstallingUser:
    token: dict
    account: dict


def _installation_ownership_verify(*, installation_id: int, code: str | None) -> InstallingUser:
    """Prove the person GitHub sent back can reach the installation; returns who they are.

    Without OAuth client credentials nothing can be proved: only a DEBUG deployment may then
    bind on the state alone (the `github_app.E001` check says so).
    """
    if not (settings.GITHUB_CLIENT_ID and settings.GITHUB_CLIENT_SECRET):
        if settings.DEBUG:
            return InstallingUser(token={}, account={})
        raise InstallationOwnershipUnverified(
            "Installation ownership cannot be verified: GitHub OAuth client credentials are not configured."
        )
    if not code:
        raise OAuthCodeInvalid("GitHub sent no authorization code; enable 'Request user authorization' on the App.")
    user_token = client.oauth_code_exchange(code=code)
    account = client.user_installation_access(user_token=user_token["access_token"], installation_id=installation_id)
    if account is None:
        raise InstallationOwnershipUnverified(
            "Your GitHub account cannot access this installation.", detail={"installation_id": installation_id}
        )
    return InstallingUser(token=user_token, account=account)


def _expiry(token_data: dict) -> datetime | None:
    seconds = token_data.get("expires_in")
    return timezone.now() + timedelta(seconds=int(seconds)) if seconds else None


def installation_callback_complete(
    *,
    state: str,
    setup_action: str,
    installation_id: int | None,
    code: str | None,
    presenter: AbstractBaseUser | None,
) -> InstallCallbackResult:
    """Bind an installation to the user its state names, after proving it is theirs.

    GitHub is asked everything first and nothing is written until every check has passed, so
    a failure half-way stores nothing and leaves the state usable for another try.
    """
    claims = install_state_verify(state=state)
    if presenter is not None and presenter.pk != claims.user.pk:
        raise InstallStateWrongUser()
    if setup_action == "request":
        return InstallCallbackResult(installation=None, token=None, pending=True)

    installation_data = client.installation_fetch(installation_id=installation_id)
    installing = _installation_ownership_verify(installation_id=installation_id, code=code)
    repositories = github_api.installation_repositories_fetch(installation_id=installation_id)

    with transaction.atomic():
        try:
            UsedInstallState.objects.create(nonce=claims.nonce, user=claims.user)
        except IntegrityError:
            raise InstallStateInvalid("The installation state has already been used.") from None
        installation = installation_store(data=installation_data, repositories=repositories)
        token = oauth_token_upsert(
            user=claims.user,
            integration=integration_get(integration_id=GITHUB_APP_INTEGRATION_ID),
            external_id=str(installation.installation_id),
            credential_data={
                "installation_id": str(installation.installation_id),
                "setup_action": setup_action,
                "callback_timestamp": timezone.now().isoformat(),
                "account_login": installation.account_login,
                "github_user_id": installing.account.get("id"),
                "github_login": installing.account.get("login"),
            },
            access_token=installing.token.get("access_token"),
            refresh_token=installing.token.get("refresh_token"),
            access_token_expires_at=_expiry(installing.token),
        )
    return InstallCallbackResult(installation=installation, token=token)


def used_install_states_purge() -> int:
    """Forget spent nonces whose states have expired anyway; returns how many went."""
    horizon = timezone.now() - timedelta(seconds=settings.GITHUB_INSTALL_STATE_MAX_AGE_SECONDS)
    deleted, _ = UsedInstallState.objects.filter(used_at__lt=horizon).delete()
    return deleted
