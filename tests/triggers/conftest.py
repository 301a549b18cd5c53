import json

import pytest

from github_app.models import Installation, InstallationRepository, WebhookDelivery
from tests.conftest import load_fixture
from tests.github_app.webhooks import post_webhook
from tests.workflows.test_engine import INSTALLATION, REPO


@pytest.fixture
def installation(db):
    installation = Installation.objects.create(
        installation_id=INSTALLATION,
        account_id=1,
        account_login="Codertocat",
        account_type="User",
        repository_selection="selected",
    )
    InstallationRepository.objects.create(installation=installation, repository_id=186853002, full_name=REPO)
    return installation


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    def post(name: str = "pull_request__opened", event: str = "pull_request", **changes) -> WebhookDelivery:
        payload = load_fixture(name)
        payload["installation"] = {"id": INSTALLATION}
        for key, value in changes.items():
            target, _, field = key.partition("__")
            if field:
                payload[target][field] = value
            else:
                payload[key] = value
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, json.dumps(payload).encode(), event=event)
        assert response.status_code == 202
        return WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])

    return post
