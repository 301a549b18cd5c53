"""Sign and post webhook deliveries the way GitHub does."""

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
