from django.conf import settings
from django.core.checks import Error, Warning, register

from github_app.client import app_private_key


@register()
def check_install_ownership_proof(app_configs, **kwargs) -> list:
    if settings.GITHUB_CLIENT_ID and settings.GITHUB_CLIENT_SECRET:
        return []
    if settings.DEBUG:
        return [
            Warning(
                "GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET are not set: installations are bound on the signed state "
                "alone, without proof that the user can reach them. Acceptable only in development.",
                id="github_app.W001",
            )
        ]
    return [
        Error(
            "GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET are not set: no installation can be bound, because its "
            "ownership cannot be verified outside DEBUG.",
            hint="Set the App's OAuth client id and secret and enable 'Request user authorization' on the App.",
            id="github_app.E001",
        )
    ]


@register()
def check_app_credentials(app_configs, **kwargs) -> list:
    missing = [name for name, value in (("GITHUB_APP_ID", settings.GITHUB_APP_ID), ("GITHUB_APP_SLUG", settings.GITHUB_APP_SLUG)) if not value]
    try:
        if not app_private_key():
            missing.append("GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_PATH")
    except OSError:
        return [Error("GITHUB_APP_PRIVATE_KEY_PATH cannot be read.", id="github_app.E002")]
    if not missing:
        return []
    return [Warning(f"The GitHub App is not configured: {', '.join(missing)} unset.", id="github_app.W002")]
