import re
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

# Keys whose values are credentials wherever they appear: token, secret, password, private key...
_SECRET_KEY = re.compile(
    r"token|secret|password|passwd|private_key|api_key|authorization|credential|cookie|signing_key|encryption_key",
    re.IGNORECASE,
)
REDACTED = "[redacted]"

# Credentials recognisable by their shape wherever they sit in free text (a log message, an
# exception, a URL); each is replaced whole. One alternation, so that a text is scanned once.
_SECRET_SHAPES = re.compile(
    "|".join(
        [
            # GitHub tokens: installation (ghs_), user (ghu_, gho_), personal (ghp_, github_pat_), refresh (ghr_).
            r"\b(?:gh[opsur]_|github_pat_)[A-Za-z0-9_]+",
            # A JSON Web Token (the App's JWT): base64url of '{"', then the payload and the signature.
            r"\beyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}",
            # A PEM private key, whole or cut short, with real or escaped line breaks.
            r"-----BEGIN[A-Z ]*PRIVATE KEY-----(?:[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----|[\s\S]*)",
            # Fernet: a key (32 bytes, urlsafe base64) and a token (whose version byte reads gAAAAA).
            r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_=-])",
            r"\bgAAAAA[A-Za-z0-9_-]{20,}={0,2}",
            # OpenAI-style API keys (sk-..., sk-proj-...).
            r"\bsk-[A-Za-z0-9_-]{16,}",
            # An opaque credential after its scheme (`Bearer abc...`), long enough not to be a word.
            r"\b(?i:bearer|token) [A-Za-z0-9._~+/-]{20,}=*",
        ]
    )
)
# A value given under a secret-like name (`password=...`, `"client_secret": "..."`,
# `Authorization: Basic ...`), and the OAuth parameters of a query string (`?code=...&state=...`),
# whose names alone are too common to hide elsewhere. The name is kept, the value replaced.
_SECRET_ASSIGNMENT = re.compile(
    r"""(?ix)
    (
        \b[\w-]*(?:password|passwd|secret|api_key|apikey|access_token|refresh_token|private_key|authorization)[\w-]*
        ["']?\s*[:=]\s*["']?
        (?:(?:bearer|token|basic)\s+)?
      | [?&](?:code|state|token)=
    )
    [^\s"'&,;}]+
    """
)

# Below this length a configured secret is not looked for in text, as it would hide ordinary words.
_SHORTEST_CONFIGURED_SECRET = 8


def redact_secrets(value):
    """A copy of a JSON value with the values of secret-like keys replaced, at any depth."""
    if isinstance(value, dict):
        return {key: REDACTED if _SECRET_KEY.search(str(key)) else redact_secrets(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_secrets(item) for item in value]
    return value


def secret_shapes_redact(text: str) -> str:
    """`text` with every credential it spells out replaced: tokens and keys by their shape,
    values given under secret-like names, and the secrets this service is configured with."""
    text = _SECRET_SHAPES.sub(REDACTED, text)
    text = _SECRET_ASSIGNMENT.sub(lambda match: match.group(1) + REDACTED, text)
    for secret in configured_secrets():
        text = text.replace(secret, REDACTED)
    return text


def redact_for_log(value):
    """A copy of a value fit for logs and error reports: values of secret-like keys hidden at any
    depth, and credentials scrubbed from every string. Any other object is taken as its text
    (a request's repr holds its query string), as it would be printed."""
    if isinstance(value, dict):
        return {key: REDACTED if _SECRET_KEY.search(str(key)) else redact_for_log(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_for_log(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, date)):
        return value
    return secret_shapes_redact(str(value))


def sentry_event_redact(event: "Event", hint: "Hint") -> "Event":
    """Sentry's before_send: the event (message, exception values, request, extra, contexts,
    breadcrumbs) as the logs would show it."""
    return redact_for_log(event)


def configured_secrets() -> tuple[str, ...]:
    """The secrets the settings hold that have no shape of their own (a webhook secret may be any
    string): text is searched for them literally. None before the settings are loaded, as in
    gunicorn's master process, which logs without them."""
    if not settings.configured:
        return ()
    return _configured_secrets_read() + tuple(secret for source in _SECRET_SOURCES for secret in source())


# Secrets held elsewhere than in the settings (a registered GitHub App's, in the database); each
# source answers from memory, as redaction runs inside logging and may not query.
_SECRET_SOURCES: list[Callable[[], tuple[str, ...]]] = []


def secret_source_register(source: Callable[[], tuple[str, ...]]) -> None:
    if source not in _SECRET_SOURCES:
        _SECRET_SOURCES.append(source)


@cache
def _configured_secrets_read() -> tuple[str, ...]:
    values = [
        settings.SECRET_KEY,
        settings.SIMPLE_JWT["SIGNING_KEY"],
        *settings.ENCRYPTION_KEY,
        settings.GITHUB_WEBHOOK_SECRET,
        settings.GITHUB_WEBHOOK_SECRET_PREVIOUS,
        settings.GITHUB_CLIENT_SECRET,
        settings.AI_API_KEY,
        settings.METRICS_BEARER_TOKEN,
    ]
    return tuple(value for value in values if value and len(value) >= _SHORTEST_CONFIGURED_SECRET)
