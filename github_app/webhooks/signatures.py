"""GitHub's webhook signature: HMAC-SHA256 of the raw body, hex, in `X-Hub-Signature-256`."""

import hashlib
import hmac

from django.conf import settings

from github_app.credentials import app_credential

SIGNATURE_PREFIX = "sha256="


def webhook_secrets() -> list[str]:
    current = app_credential("webhook_secret")
    return [secret for secret in (current, settings.GITHUB_WEBHOOK_SECRET_PREVIOUS) if secret]


def signature_for(*, body: bytes, secret: str) -> str:
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_is_valid(*, body: bytes, header: str | None) -> bool:
    """Whether `header` signs `body` with a configured secret; never true without a secret.

    Every secret is compared, in constant time, whatever the first comparison gave.
    """
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    received = header.encode("utf-8", "replace")
    matches = [
        hmac.compare_digest(signature_for(body=body, secret=secret).encode(), received) for secret in webhook_secrets()
    ]
    return any(matches)
