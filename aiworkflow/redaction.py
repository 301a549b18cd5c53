import re

# Keys whose values are credentials wherever they appear: token, secret, password, private key...
_SECRET_KEY = re.compile(r"token|secret|password|passwd|private_key|api_key|authorization|credential", re.IGNORECASE)
REDACTED = "[redacted]"


def redact_secrets(value):
    """A copy of a JSON value with the values of secret-like keys replaced, at any depth."""
    if isinstance(value, dict):
        return {key: REDACTED if _SECRET_KEY.search(str(key)) else redact_secrets(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_secrets(item) for item in value]
    return value
