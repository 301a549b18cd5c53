import pytest

from github_app.models import Installation, InstallationRepository, WebhookDelivery
from tests.github_app.webhooks import recorded_event_deliver
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
        return recorded_event_deliver(
            client, django_capture_on_commit_callbacks, name, event=event, installation_id=INSTALLATION, **changes
        )

    return post
