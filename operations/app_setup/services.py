"""Registering the GitHub App through GitHub's manifest flow, from a staff member's browser.

The staff member posts our manifest to GitHub with a signed state; GitHub creates the App and
sends the browser back with a one-hour code, which we trade for the App's credentials. The state
names the staff member and carries a nonce kept in their session, so a code arriving in another
browser, or a state from another user, registers nothing.
"""

import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing

from github_app.api import app_client
from github_app.credentials import (
    SETTING_NAMES,
    environment_shadowing,
    registered_app_credentials_forget,
    registration_credentials,
)
from github_app.errors import AppRegistrationStateInvalid
from github_app.models import AppRegistration
from operations.app_setup.dotenv import dotenv_update
from operations.app_setup.manifest import app_manifest_build

_STATE_SALT = "operations.app_setup.state"
# GitHub's limit for the whole flow; a code is worthless after it anyway.
STATE_MAX_AGE_SECONDS = 3600


@dataclass(frozen=True)
class RegistrationStart:
    post_url: str  # where the browser posts `manifest`
    manifest: dict
    nonce: str  # for the staff member's session


@dataclass(frozen=True)
class RegistrationResult:
    registration: AppRegistration
    dotenv_path: Path | None  # the development file the credentials were also written to
    shadowed_by_environment: list[str]  # settings that win over the registered App's


def app_registration_start(*, user: User, base_url: str, name: str, organization: str) -> RegistrationStart:
    nonce = secrets.token_urlsafe(24)
    state = signing.dumps({"u": user.pk, "n": nonce}, salt=_STATE_SALT, compress=True)
    owner_path = f"organizations/{quote(organization, safe='')}/settings" if organization else "settings"
    post_url = f"{settings.GITHUB_BASE_URL}/{owner_path}/apps/new?{urlencode({'state': state})}"
    return RegistrationStart(post_url=post_url, manifest=app_manifest_build(base_url=base_url, name=name), nonce=nonce)


def _state_verify(*, state: str, user: User, session_nonce: str | None) -> None:
    try:
        claims = signing.loads(state, salt=_STATE_SALT, max_age=STATE_MAX_AGE_SECONDS)
    except signing.BadSignature:  # SignatureExpired included
        raise AppRegistrationStateInvalid() from None
    same_browser = session_nonce is not None and secrets.compare_digest(str(claims.get("n")), session_nonce)
    if claims.get("u") != user.pk or not same_browser:
        raise AppRegistrationStateInvalid()


def app_registration_complete(*, user: User, code: str, state: str, session_nonce: str | None) -> RegistrationResult:
    """Trade the code for the App GitHub created and keep its credentials: encrypted in the
    database always, and in development in GITHUB_APP_REGISTRATION_DOTENV as well."""
    _state_verify(state=state, user=user, session_nonce=session_nonce)
    app = app_client.app_manifest_convert(code=code)
    owner = app.get("owner") or {}
    registration = AppRegistration.objects.create(
        app_id=app["id"],
        slug=app["slug"],
        name=str(app.get("name") or app["slug"])[:100],
        html_url=str(app.get("html_url") or "")[:500],
        owner_login=str(owner.get("login") or "")[:255],
        owner_type=str(owner.get("type") or "")[:32],
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        webhook_secret=app["webhook_secret"],
        private_key=app["pem"],
        bot_user_id=app_client.app_bot_user_id(slug=app["slug"]),
        registered_by=user,
    )
    registered_app_credentials_forget()
    dotenv_path = _dotenv_write(registration) if settings.GITHUB_APP_REGISTRATION_DOTENV else None
    return RegistrationResult(
        registration=registration,
        dotenv_path=dotenv_path,
        shadowed_by_environment=environment_shadowing(registered=registration_credentials(registration)),
    )


def _dotenv_write(registration: AppRegistration) -> Path:
    path = Path(settings.GITHUB_APP_REGISTRATION_DOTENV)
    credentials = vars(registration_credentials(registration))
    values = {setting: str(credentials[name]) for name, setting in SETTING_NAMES.items() if credentials[name]}
    comment = f"The GitHub App {registration.name}, registered at /setup/github-app/ on {date.today().isoformat()}"
    dotenv_update(path=path, values=values, comment=comment)
    return path
