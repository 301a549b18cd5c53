"""The GitHub App's credentials: the environment's, or where it leaves one empty, those of the
App registered through the manifest flow (`AppRegistration`), so `/setup/github-app/` works
on a deployment started with no GitHub settings.

The registration is read at most every REGISTRATION_CACHE_SECONDS per process, and only when
the environment leaves a credential empty: a fully configured deployment never asks the
database. A process that registers an App sees it at once; others within that time.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

if TYPE_CHECKING:
    from github_app.models import AppRegistration

REGISTRATION_CACHE_SECONDS = 30


@dataclass(frozen=True)
class AppCredentials:
    app_id: str = ""
    slug: str = ""
    private_key: str = ""
    client_id: str = ""
    client_secret: str = ""
    webhook_secret: str = ""
    bot_user_id: int = 0


_NONE = AppCredentials()
_cache_lock = Lock()
_cached: tuple[float, AppCredentials] | None = None


# Where each credential is set in the environment (the private key may also be a file).
SETTING_NAMES = {
    "app_id": "GITHUB_APP_ID",
    "slug": "GITHUB_APP_SLUG",
    "private_key": "GITHUB_APP_PRIVATE_KEY",
    "client_id": "GITHUB_CLIENT_ID",
    "client_secret": "GITHUB_CLIENT_SECRET",
    "webhook_secret": "GITHUB_WEBHOOK_SECRET",
    "bot_user_id": "GITHUB_APP_BOT_USER_ID",
}


def _environment_value(name: str) -> str | int:
    if name == "private_key":
        return environment_private_key()
    value = getattr(settings, SETTING_NAMES[name])
    return str(value or "") if name == "app_id" else value


def environment_private_key() -> str:
    """GITHUB_APP_PRIVATE_KEY (literal "\\n" accepted, as many secret stores keep one line) or
    the file at GITHUB_APP_PRIVATE_KEY_PATH; empty when neither is set."""
    if settings.GITHUB_APP_PRIVATE_KEY:
        return settings.GITHUB_APP_PRIVATE_KEY.replace("\\n", "\n")
    if settings.GITHUB_APP_PRIVATE_KEY_PATH:
        try:
            return Path(settings.GITHUB_APP_PRIVATE_KEY_PATH).read_text()
        except OSError as exc:
            raise ImproperlyConfigured(f"GITHUB_APP_PRIVATE_KEY_PATH cannot be read: {exc.strerror}.") from None
    return ""


def _registration_read() -> AppCredentials:
    """The newest registration's credentials; none while the table does not exist yet (the
    system checks run before the first migration) or the database cannot be reached."""
    from github_app.models import AppRegistration  # models load after settings are read; this module before

    try:
        registration = AppRegistration.objects.order_by("-created_at", "-pk").first()
    except DatabaseError:
        return _NONE
    return _NONE if registration is None else registration_credentials(registration)


def registration_credentials(registration: "AppRegistration") -> AppCredentials:
    return AppCredentials(
        app_id=str(registration.app_id),
        slug=registration.slug,
        private_key=registration.private_key,
        client_id=registration.client_id,
        client_secret=registration.client_secret,
        webhook_secret=registration.webhook_secret,
        bot_user_id=registration.bot_user_id or 0,
    )


def registered_app_credentials() -> AppCredentials:
    global _cached
    now = time.monotonic()
    with _cache_lock:
        if _cached is not None and now - _cached[0] < REGISTRATION_CACHE_SECONDS:
            return _cached[1]
    registration = _registration_read()
    with _cache_lock:
        _cached = (now, registration)
    return registration


def registered_app_credentials_forget() -> None:
    """Read the registration again at the next use (after one is stored, and between tests)."""
    global _cached
    with _cache_lock:
        _cached = None


def registered_secrets_known() -> tuple[str, ...]:
    """The registered App's secrets as this process last read them, without asking the
    database: for log redaction, which must not query."""
    with _cache_lock:
        registration = _cached[1] if _cached is not None else _NONE
    return tuple(value for value in (registration.client_secret, registration.webhook_secret) if value)


def app_credential(name: str):
    """One credential (an AppCredentials field): the environment's, else the registered App's.
    Only the one setting is read, so the webhook view and the matcher read no key file."""
    value = _environment_value(name)
    if value or (name == "bot_user_id" and settings.GITHUB_APP_SLUG):
        return value  # the bot is `<slug>[bot]`: a slug set here names an App the registered bot is not of
    return getattr(registered_app_credentials(), name)


def app_credentials() -> AppCredentials:
    return AppCredentials(**{name: app_credential(name) for name in SETTING_NAMES})


def environment_shadowing(*, registered: AppCredentials) -> list[str]:
    """The settings the environment sets to something other than the registered App's: they
    win, so the registered value is not used until they are removed and the service restarted."""
    shadowing = []
    for name, setting in SETTING_NAMES.items():
        value = _environment_value(name)
        if value and value != getattr(registered, name):
            shadowing.append(setting)
    return shadowing
