"""Sign and post webhook deliveries the way GitHub does."""

import json
import re
import uuid

from django.conf import settings
from django.test import Client

from github_app.webhooks.signatures import signature_for
from tests.conftest import FIXTURES

WEBHOOK_URL = "/webhooks/github"
FIXTURE_NAMES = sorted(path.stem for path in (FIXTURES / "github").glob("*.json"))


def fixture_event(name: str) -> str:
    """`<event>__<action>[_N]` or `<event>[_N]`: the part before `__` is the X-GitHub-Event."""
    return name.split("__")[0] if "__" in name else re.sub(r"_\d+$", "", name)


def fixture_body(name: str) -> bytes:
    return (FIXTURES / "github" / f"{name}.json").read_bytes()


def post_webhook(
    client: Client,
    body: bytes,
    *,
    event: str,
    delivery_id: str | None = None,
    secret: str | None = None,
    url: str = WEBHOOK_URL,
    content_type: str = "application/json",
    **headers,
):
    signature = signature_for(body=body, secret=secret if secret is not None else settings.GITHUB_WEBHOOK_SECRET)
    return client.post(
        url,
        data=body,
        content_type=content_type,
        HTTP_X_GITHUB_EVENT=event,
        HTTP_X_GITHUB_DELIVERY=delivery_id or str(uuid.uuid4()),
        HTTP_X_GITHUB_HOOK_ID="30",
        HTTP_X_HUB_SIGNATURE_256=signature,
        **headers,
    )


def post_fixture(client: Client, name: str, **kwargs):
    return post_webhook(client, fixture_body(name), event=fixture_event(name), **kwargs)


def recorded_event_deliver(client: Client, capture, name: str, *, event: str, installation_id: int, **changes):
    """Post a recorded payload aimed at `installation_id`, with `changes` (`key` or `key__field`),
    signed as GitHub signs it, and process it (and its runs) at once; `capture` is pytest-django's
    django_capture_on_commit_callbacks. Returns the stored delivery."""
    from github_app.models import WebhookDelivery
    from tests.conftest import load_fixture

    payload = load_fixture(name)
    payload["installation"] = {"id": installation_id}
    for key, value in changes.items():
        target, _, field = key.partition("__")
        if field:
            payload[target][field] = value
        else:
            payload[key] = value
    with capture(execute=True):
        response = post_webhook(client, json.dumps(payload).encode(), event=event)
    assert response.status_code == 202
    return WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])
