import uuid

import pytest
from django.conf import settings
from django.urls import get_resolver
from rest_framework.throttling import SimpleRateThrottle

from aiworkflow.throttling import UrlNameRateThrottle
from tests.conftest import client_for

CHEAP = "/api/v1/app/integrations"
EXPENSIVE = {
    "workflow-test": f"/api/v1/app/workflows/{uuid.uuid4()}/test",
    "run-rerun": f"/api/v1/app/runs/{uuid.uuid4()}/rerun",
    "delivery-replay": "/api/v1/app/deliveries/999999/replay",
    "trigger-test": "/api/v1/app/triggers/test",
}


def allowed_per_window(scope: str) -> int:
    requests, _ = UrlNameRateThrottle().parse_rate(SimpleRateThrottle.THROTTLE_RATES[scope])
    assert requests is not None, f"{scope} has a rate"
    return requests


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert set(response.json()) == {"error", "detail"}
    assert int(response["Retry-After"]) > 0


@pytest.fixture
def api_rate(monkeypatch):
    """Lower the per-user rate of every endpoint, so that a test need not make 500 requests."""

    def lower_to(rate: str) -> None:
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", rate)

    return lower_to


@pytest.mark.parametrize("scope, url", EXPENSIVE.items())
def test_hammering_an_expensive_endpoint_is_stopped_at_its_own_rate(api, scope, url):
    allowed = allowed_per_window(scope)

    answers = [api.post(url, {}, format="json") for _ in range(allowed + 1)]

    assert 429 not in [answer.status_code for answer in answers[:allowed]]
    assert_throttled(answers[allowed])
    assert api.get(CHEAP).status_code == 200


def test_an_expensive_endpoint_is_counted_per_user(api, other_user):
    url = EXPENSIVE["trigger-test"]
    for _ in range(allowed_per_window("trigger-test") + 1):
        api.post(url, {}, format="json")

    assert client_for(other_user).post(url, {}, format="json").status_code != 429


def test_a_user_past_the_api_rate_is_refused_on_every_endpoint(api, other_user, api_rate):
    api_rate("5/minute")
    for _ in range(5):
        assert api.get(CHEAP).status_code == 200

    assert_throttled(api.get(CHEAP))
    assert_throttled(api.post(EXPENSIVE["trigger-test"], {}, format="json"))
    assert client_for(other_user).get(CHEAP).status_code == 200


def test_without_a_token_requests_are_counted_per_address_whatever_it_forwards(client, db, settings, monkeypatch):
    settings.API_THROTTLE_SCOPES = {"schema": "schema"}
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "schema", "1/minute")

    first = client.get("/api/schema/")

    assert first.status_code == 200
    assert client.get("/api/schema/", HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert client.get("/api/schema/", REMOTE_ADDR="198.51.100.7").status_code == 200


def test_every_throttled_url_name_exists_and_has_a_rate():
    url_names = {name for name in get_resolver().reverse_dict if isinstance(name, str)}

    for url_name, scope in settings.API_THROTTLE_SCOPES.items():
        assert url_name in url_names
        assert scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]


def test_an_unreachable_cache_lets_api_requests_through_rather_than_fail(api, cache_unreachable):
    response = api.get("/api/v1/app/workflows")

    assert response.status_code == 200
