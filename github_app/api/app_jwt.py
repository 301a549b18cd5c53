"""The App's own credentials: its private key, and the JWT it signs to speak as the App."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ImproperlyConfigured
from github import Auth

from github_app.credentials import app_credentials, environment_private_key

# GitHub's clock may run behind ours: an `iat` in its future is refused, so it is backdated.
JWT_ISSUED_AT_OFFSET_SECONDS = -60
# GitHub refuses an `exp` more than 10 minutes ahead of its clock; 9 leaves room for skew.
JWT_EXPIRY_SECONDS = 540


def app_private_key_validate() -> None:
    """Fail at startup, with a message that quotes nothing of the key, when the environment
    gives one that is not an RSA private key in PEM (a registered App's key is GitHub's own)."""
    pem = environment_private_key()
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
    credentials = app_credentials()
    if not (credentials.app_id and credentials.private_key):
        return None
    return Auth.AppAuth(
        credentials.app_id,
        credentials.private_key,
        jwt_expiry=JWT_EXPIRY_SECONDS,
        jwt_issued_at=JWT_ISSUED_AT_OFFSET_SECONDS,
    )
