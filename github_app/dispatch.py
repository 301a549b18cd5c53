from github_app.models import WebhookDelivery


def dispatch_nowhere(delivery: WebhookDelivery, payload: dict) -> int:
    """The dispatcher while no trigger engine is configured: starts no run."""
    return 0
