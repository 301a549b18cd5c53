import json
from collections.abc import Iterator
from pathlib import Path

import freezegun
import pytest
import responses
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from aiworkflow.celery import app as celery_app
from github_app.credentials import registered_app_credentials_forget
from github_app.webhooks.views import spent_addresses
from tests.github_double import Chat, Double, GitHub, mock_double, served
from tests.github_double.served import LLM_PREFIX

FIXTURES = Path(__file__).parent / "fixtures"

# freezegun's default ignore list holds "gi" (GObject) as a name prefix, which would leave code in
# `github_app` on the real clock.
freezegun.configure(
    default_ignore_list=["threading", "queue", "multiprocessing", "_pytest.terminal.", "_pytest.runner."]
)


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / "github" / f"{name}.json").read_text())


@pytest.fixture(autouse=True, scope="session")
def metrics_of_earlier_runs_compacted():
    """Files of earlier test runs' processes would otherwise pile up for every scrape to read."""
    from aiworkflow import metrics

    metrics.dead_processes_compact()


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle and failure counters would otherwise carry over from one test to the next (the
    test cache lives as long as the process), and so would the addresses a web process knows
    to have used up their failures."""
    cache.clear()
    spent_addresses.clear()
    registered_app_credentials_forget()


@pytest.fixture(autouse=True)
def no_shared_installation_tokens(settings):
    """Installation tokens in Redis outlive a test; each test starts without any."""
    if settings.REDIS_URL:
        from github_app.api.tokens import RedisTokenStore, token_store

        store = token_store()
        for key in store.redis.scan_iter(f"{RedisTokenStore.prefix}*"):
            store.redis.delete(key)


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(username="alice", password="correct horse battery staple")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user(username="bob", password="another long passphrase")


def github_connection(user, installation_id: int, *, repositories: dict[int, str] | None = None, **fields):
    """The user's connection to a GitHub App installation, as the install flow stores it, with
    access to `repositories` ({id: "owner/name"}): the installation covers them, and the user's
    own GitHub token sees them."""
    from github_app.models import Installation, InstallationRepository, RepositoryAccess
    from integrations.models import Integration, OAuthToken

    defaults = {
        "provider": "github",
        "access_token": "ghu_user",
        "credential_data": {"installation_id": str(installation_id), "setup_action": "install"},
    }
    connection = OAuthToken.objects.create(
        user=user,
        integration=Integration.objects.get(integration_id="github_app"),
        external_id=str(installation_id),
        **{**defaults, **fields},
    )
    for repository_id, full_name in (repositories or {}).items():
        installation, _ = Installation.objects.get_or_create(
            installation_id=installation_id,
            defaults={
                "account_id": 1,
                "account_login": full_name.split("/")[0],
                "account_type": "Organization",
                "repository_selection": "selected",
            },
        )
        InstallationRepository.objects.get_or_create(
            installation=installation, repository_id=repository_id, defaults={"full_name": full_name}
        )
        RepositoryAccess.objects.create(
            connection=connection, installation_id=installation_id, repository_id=repository_id, full_name=full_name
        )
    return connection


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def api(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def github_http():
    """Every outgoing HTTP request must be stubbed; an unexpected one fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def github_double(github_http) -> Double:
    """GitHub and the LLM as the double models them, answering what `github_http` intercepts."""
    return mock_double(github_http)


@pytest.fixture
def github(github_double) -> GitHub:
    return github_double.github


@pytest.fixture
def llm(github_double, settings) -> Iterator[Chat]:
    """The double's LLM, over real HTTP (the SDK of `ai.prompt` speaks httpx, which `responses`
    does not intercept): AI_BASE_URL points at it, over what fixtures instantiated earlier set."""
    with served(github_double) as serving:
        settings.AI_BASE_URL = f"{serving.url}{LLM_PREFIX}"
        yield serving.llm


@pytest.fixture
def broker(monkeypatch):
    """Tasks go to the configured broker, for a worker process to run, not run in the test; the
    test queue starts empty."""
    from tests.worker import broker_queue_purge

    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    broker_queue_purge()


@pytest.fixture
def cache_unreachable(settings):
    """The shared cache is a Redis where nothing listens: every cache call fails to connect."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }


@pytest.fixture
def broker_unreachable(monkeypatch):
    """Messages go to a broker address where nothing listens; the app's cached pools are set
    aside so that the new address is used, and restored afterwards."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(celery_app.conf, "broker_transport", None)  # the embedded default names its own
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
