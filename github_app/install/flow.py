"""The GitHub App install flow, in two phases.

The callback can prove that the browser GitHub sends back belongs to a GitHub user who reaches
the installation, but not that this browser belongs to the user the state names: an install link
sent to someone else brings *their* browser back with a valid state. So the callback binds
nothing. It records a pending completion, handed only to that browser, and the installation is
bound when the state's user presents it with their own JWT (`install_complete`).
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from github_app.api import app_client, installation_client
from github_app.credentials import app_credential, app_credentials
from github_app.errors import (
    GitHubAppNotConfigured,
    InstallationOwnershipUnverified,
    InstallCompletionInvalid,
    InstallCompletionWrongUser,
    InstallStateInvalid,
    InstallStateWrongUser,
    OAuthCodeInvalid,
)
from github_app.install.installations import installation_store
from github_app.install.repository_access import repository_access_replace
from github_app.models import GITHUB_APP_INTEGRATION_ID, Installation, PendingInstallCompletion, UsedInstallState
from integrations.models import OAuthToken
from integrations.selectors import integration_get
from integrations.services import oauth_token_upsert

_STATE_SALT = "github_app.install_state"


@dataclass(frozen=True)
class InstallStateClaims:
    user: User
    nonce: str


@dataclass(frozen=True)
class InstallCallbackResult:
    """`completion` is the opaque secret of `pending`; both are None when an owner must first
    approve the install (setup_action=request)."""

    completion: str | None = None
    pending: PendingInstallCompletion | None = None


@dataclass(frozen=True)
class InstallCompleteResult:
    token: OAuthToken
    installation: Installation
    repositories: list[dict]  # those the user reaches, not the whole installation


def install_state_issue(*, user: User) -> str:
    """A state that names the user, is signed with SECRET_KEY, expires, and can be spent once."""
    return signing.dumps({"u": user.pk, "n": secrets.token_urlsafe(24)}, salt=_STATE_SALT, compress=True)


def install_url_build(*, user: User) -> str:
    slug = app_credential("slug")
    if not slug:
        raise GitHubAppNotConfigured(detail={"missing": "GITHUB_APP_SLUG"})
    # GitHub Enterprise Server serves apps under /github-apps/, github.com under /apps/.
    apps_path = "apps" if settings.GITHUB_BASE_URL == "https://github.com" else "github-apps"
    query = urlencode({"state": install_state_issue(user=user)})
    return f"{settings.GITHUB_BASE_URL}/{apps_path}/{slug}/installations/new?{query}"


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

    Only the installing user's own token is used here, and its answer does not tell an
    installation that exists apart from one that does not: the callback cannot be used to
    probe installation ids. Without OAuth client credentials nothing can be proved: only a
    DEBUG deployment may then go on (the `github_app.E001` check says so).
    """
    credentials = app_credentials()
    if not (credentials.client_id and credentials.client_secret):
        if settings.DEBUG:
            return InstallingUser(token={}, account={})
        raise InstallationOwnershipUnverified(
            "Installation ownership cannot be verified: GitHub OAuth client credentials are not configured."
        )
    if not code:
        raise OAuthCodeInvalid("GitHub sent no authorization code; enable 'Request user authorization' on the App.")
    user_token = app_client.oauth_code_exchange(code=code)
    account = app_client.user_installation_access(
        user_token=user_token["access_token"], installation_id=installation_id
    )
    if account is None:
        raise InstallationOwnershipUnverified("Your GitHub account cannot access this installation.")
    return InstallingUser(token=user_token, account=account)


def _expiry(token_data: dict) -> datetime | None:
    seconds = token_data.get("expires_in")
    return timezone.now() + timedelta(seconds=int(seconds)) if seconds else None


def _completion_digest(completion: str) -> str:
    return hashlib.sha256(completion.encode()).hexdigest()


def install_callback_verify(
    *,
    state: str,
    setup_action: str,
    installation_id: int | None,
    code: str | None,
    presenter: User | None,
) -> InstallCallbackResult:
    """Check an install that GitHub reports, in an order that reveals nothing to a stranger,
    and record it as pending for the state's user to complete.

    GitHub is asked everything before anything is written, so a failure half-way stores
    nothing and leaves the state usable for another try.
    """
    claims = install_state_verify(state=state)
    if presenter is not None and presenter.pk != claims.user.pk:
        raise InstallStateWrongUser()
    if setup_action == "request":
        return InstallCallbackResult()
    assert installation_id is not None, "the API requires it for every other setup action"

    installing = _installation_ownership_verify(installation_id=installation_id, code=code)
    installation_data = app_client.installation_fetch(installation_id=installation_id)
    return _pending_completion_create(
        claims=claims, setup_action=setup_action, installation_data=installation_data, installing=installing
    )


def _pending_completion_create(
    *, claims: InstallStateClaims, setup_action: str, installation_data: dict, installing: InstallingUser
) -> InstallCallbackResult:
    """Spend the state and record the pending completion; only the digest of its secret is
    kept, so the table alone completes nothing."""
    completion = secrets.token_urlsafe(32)
    with transaction.atomic():
        try:
            UsedInstallState.objects.create(nonce=claims.nonce, user=claims.user)
        except IntegrityError:
            raise InstallStateInvalid("The installation state has already been used.") from None
        pending = PendingInstallCompletion.objects.create(
            key_digest=_completion_digest(completion),
            user=claims.user,
            installation_id=installation_data["id"],
            setup_action=setup_action,
            installation_data=installation_data,
            github_user_id=installing.account.get("id"),
            github_login=installing.account.get("login") or "",
            access_token=installing.token.get("access_token"),
            refresh_token=installing.token.get("refresh_token"),
            access_token_expires_at=_expiry(installing.token),
            expires_at=timezone.now() + timedelta(seconds=settings.GITHUB_INSTALL_COMPLETION_MAX_AGE_SECONDS),
        )
    return InstallCallbackResult(completion=completion, pending=pending)


def pending_completion_get(*, completion: str, user: User) -> PendingInstallCompletion:
    """The usable pending install that `completion` names, for the user its state named only:
    anyone else is refused before anything of the install is read out (the connect page shows
    it, the completion binds it)."""
    pending = PendingInstallCompletion.objects.filter(key_digest=_completion_digest(completion)).first()
    if pending is None:
        raise InstallCompletionInvalid()
    if pending.completed_at is not None:
        raise InstallCompletionInvalid("The install completion has already been used.")
    if pending.expires_at <= timezone.now():
        raise InstallCompletionInvalid("The install completion has expired; install the App again.")
    if pending.user_id != user.pk:
        raise InstallCompletionWrongUser()
    return pending


def _installing_user_repositories(*, pending: PendingInstallCompletion, repositories: list[dict]) -> list[dict]:
    """What the installing user's own token sees of the installation. A completion without a
    user token comes from a DEBUG deployment without OAuth credentials, where nothing was
    proved and the whole installation is granted."""
    if pending.access_token is None:
        return repositories
    return app_client.user_installation_repositories(
        user_token=pending.access_token, installation_id=pending.installation_id
    )


def install_complete(*, completion: str, user: User) -> InstallCompleteResult:
    """Bind a pending install to its user, presented by that user: the installation, the
    user's connection and the repositories they reach, in one transaction.

    A refusal or a GitHub failure binds nothing and leaves the completion usable; the
    conditional spend makes two concurrent completions bind once.
    """
    pending = pending_completion_get(completion=completion, user=user)
    repositories = installation_client.installation_repositories_fetch(installation_id=pending.installation_id)
    user_repositories = _installing_user_repositories(pending=pending, repositories=repositories)

    now = timezone.now()
    with transaction.atomic():
        # The user's tokens leave this row: from now on they live with the connection only.
        spent = PendingInstallCompletion.objects.filter(
            pk=pending.pk, completed_at__isnull=True, expires_at__gt=now
        ).update(completed_at=now, access_token=None, refresh_token=None)
        if not spent:
            raise InstallCompletionInvalid("The install completion has already been used.")
        # As of the callback, when GitHub was asked: a lifecycle event since then still applies.
        installation = installation_store(
            data=pending.installation_data, repositories=repositories, as_of=pending.created_at
        )
        token = oauth_token_upsert(
            user=user,
            integration=integration_get(integration_id=GITHUB_APP_INTEGRATION_ID),
            external_id=str(installation.installation_id),
            credential_data={
                "installation_id": str(installation.installation_id),
                "setup_action": pending.setup_action,
                "callback_timestamp": pending.created_at.isoformat(),
                "account_login": installation.account_login,
                "github_user_id": pending.github_user_id,
                "github_login": pending.github_login,
            },
            access_token=pending.access_token,
            refresh_token=pending.refresh_token,
            access_token_expires_at=pending.access_token_expires_at,
        )
        repository_access_replace(connection=token, repositories=user_repositories)
    return InstallCompleteResult(token=token, installation=installation, repositories=user_repositories)


def used_install_states_purge() -> int:
    """Forget spent nonces whose states have expired anyway; returns how many went."""
    horizon = timezone.now() - timedelta(seconds=settings.GITHUB_INSTALL_STATE_MAX_AGE_SECONDS)
    deleted, _ = UsedInstallState.objects.filter(used_at__lt=horizon).delete()
    return deleted


def install_completions_purge() -> int:
    """Delete pending completions expired more than a day ago (kept that long for support
    questions about an install that was never completed); returns how many went."""
    deleted, _ = PendingInstallCompletion.objects.filter(expires_at__lt=timezone.now() - timedelta(days=1)).delete()
    return deleted
