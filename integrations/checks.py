from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, register


@register()
def check_encryption_keys(app_configs, **kwargs) -> list[Error]:
    if not settings.ENCRYPTION_KEY:
        return [
            Error("ENCRYPTION_KEY is empty.", hint="Generate one with Fernet.generate_key().", id="integrations.E001")
        ]
    errors = []
    for position, key in enumerate(settings.ENCRYPTION_KEY, start=1):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                Error(
                    f"Key {position} of ENCRYPTION_KEY is not a Fernet key.",
                    hint="Each key is 32 bytes, url-safe base64 encoded: Fernet.generate_key().",
                    id="integrations.E002",
                )
            )
    return errors
