"""The App's own credentials: its private key, and the JWT it signs to speak as the App."""

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from github import Auth

# GitHub's clock may run behind ours: an `iat` in its future is refused, so it is backdated.
JWT_ISSUED_AT_OFFSET_SECONDS = -60
# GitHub refuses an `exp` more than 10 minutes ahead of its clock; 9 leaves room for skew.
JWT_EXPIRY_SECONDS = 540


def app_private_key_pem() -> str:
    """The configured PEM: GITHUB_APP_PRIVATE_KEY (literal "\\n" accepted) or the file at
    GITHUB_APP_PRIVATE_KEY_PATH; empty when neither is set."""
    if settings.GITHUB_APP_PRIVATE_KEY:
        return settings.GITHUB_APP_PRIVATE_KEY.replace("\\n", "\n")
    if settings.GITHUB_APP_PRIVATE_KEY_PATH:
        try:
            return Path(settings.GITHUB_APP_PRIVATE_KEY_PATH).read_text()
        except OSError as exc:
            raise ImproperlyConfigured(f"GITHUB_APP_PRIVATE_KEY_PATH cannot be read: {exc.strerror}.") from None
    return ""


def app_private_key_validate() -> None:
    """Fail at startup, with a message that quotes nothing of the key, when one is configured
    but is not an RSA private key in PEM."""
    pem = app_private_key_pem()
    if not pem:
        return
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "The GitHub App private key is not a PEM private key without a passphrase: check "
            "GITHUB_APP_PRIVATE_KEY (newlines may be written as \\n) or GITHUB_APP_PRIVATE_KEY_PATH."
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ImproperlyConfigured("The GitHub App private key must be an RSA key; GitHub signs App JWTs with RS256.")


def app_auth() -> Auth.AppAuth | None:
    """PyGithub's App authentication (a fresh RS256 JWT per request), or None if unconfigured."""
    pem = app_private_key_pem()
    if not (settings.GITHUB_APP_ID and pem):
        return None
    return Auth.AppAuth(
        settings.GITHUB_APP_ID, pem, jwt_expiry=JWT_EXPIRY_SECONDS, jwt_issued_at=JWT_ISSUED_AT_OFFSET_SECONDS
    )
