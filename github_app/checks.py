import ipaddress

from django.conf import settings
from django.core.checks import Error, Warning, register

from github_app.credentials import app_credentials

# Where a deployment with no GitHub App yet registers one (operations.app_setup).
REGISTRATION_HINT = "Register the App at /setup/github-app/ (staff only), or set the GITHUB_* settings."


@register()
def check_install_ownership_proof(app_configs, **kwargs) -> list:
    credentials = app_credentials()
    if credentials.client_id and credentials.client_secret:
        return []
    if settings.DEBUG:
        return [
            Warning(
                "GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET are not set: installations are bound on the signed state "
                "alone, without proof that the user can reach them. Acceptable only in development.",
                id="github_app.W001",
            )
        ]
    if not credentials.app_id:
        return []  # no App at all yet: github_app.W002 says how to register one
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
    credentials = app_credentials()
    missing = [
        name
        for name, value in (
            ("GITHUB_APP_ID", credentials.app_id),
            ("GITHUB_APP_SLUG", credentials.slug),
            ("GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_PATH", credentials.private_key),
        )
        if not value
    ]
    if not missing:
        return []
    return [
        Warning(
            f"The GitHub App is not configured: {', '.join(missing)} unset.",
            hint=REGISTRATION_HINT,
            id="github_app.W002",
        )
    ]


@register()
def check_webhook_secret(app_configs, **kwargs) -> list:
    credentials = app_credentials()
    if credentials.webhook_secret:
        return []
    message = "GITHUB_WEBHOOK_SECRET is not set: every webhook delivery is refused with 401."
    if settings.DEBUG or not credentials.app_id:
        return [Warning(message, hint=REGISTRATION_HINT, id="github_app.W003")]
    return [Error(message, hint="Set it to the App's webhook secret.", id="github_app.E003")]


@register()
def check_webhook_allowlist(app_configs, **kwargs) -> list:
    errors = []
    for cidr in settings.GITHUB_WEBHOOK_ALLOWED_CIDRS:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errors.append(
                Error(f"GITHUB_WEBHOOK_ALLOWED_CIDRS holds {cidr!r}, which is not a network.", id="github_app.E004")
            )
    return errors
