"""The pipeline with real Celery worker processes over the configured broker (Redis in CI), on
the test database, with GitHub served over HTTP by the GitHub double."""

import json
import signal
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection

from github_app.models import InstallationRepository, WebhookDelivery
from github_app.webhooks.deliveries import deliveries_relay, delivery_claim
from tests.github_app.webhooks import fixture_body, post_webhook
from tests.github_double import Served, served
from tests.worker import run_at_once, wait_until, worker_process

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

INSTALLATION_ID = 957387
Status = WebhookDelivery.Status


INSTALLATION = f"/app/installations/{INSTALLATION_ID}"


@pytest.fixture
def github_server(settings) -> Iterator[Served]:
    with served() as server:
        settings.GITHUB_API_BASE_URL = server.url
        server.github.installation(
            INSTALLATION_ID, repository_selection="all", repositories=["Codertocat/one", "Codertocat/two"]
        )
        yield server


def post_resync_delivery(client) -> WebhookDelivery:
    """A delivery whose processing calls GitHub: the selection switched to all repositories."""
    payload = json.loads(fixture_body("installation_repositories__added"))
    payload["repository_selection"] = "all"
    response = post_webhook(client, json.dumps(payload).encode(), event="installation_repositories")
    assert response.status_code == 202
    return WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])


def status_of(delivery: WebhookDelivery) -> str:
    return WebhookDelivery.objects.values_list("status", flat=True).get(pk=delivery.pk)


def test_a_delivery_goes_from_the_view_through_a_worker_process(client, broker, github_server, settings):
    settings.WEBHOOK_ENQUEUE_IN_BACKGROUND = True  # as the web server runs: handed over by a thread
    with worker_process(GITHUB_API_BASE_URL=github_server.url) as worker:
        delivery = post_resync_delivery(client)

        assert wait_until(lambda: status_of(delivery) == Status.PROCESSED), worker.log

    assert set(InstallationRepository.objects.values_list("full_name", flat=True)) == {
        "Codertocat/one",
        "Codertocat/two",
    }


def test_a_worker_killed_mid_processing_is_recovered_and_the_delivery_processed_once(
    client, broker, github_server, settings
):
    settings.WEBHOOK_PROCESSING_STALE_SECONDS = 1
    gate = github_server.github.hold("GET", INSTALLATION)

    with worker_process(GITHUB_API_BASE_URL=github_server.url) as doomed:
        delivery = post_resync_delivery(client)
        assert gate.held.wait(timeout=60), doomed.log
        assert status_of(delivery) == Status.PROCESSING
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(timeout=10)
    gate.release()
    assert status_of(delivery) == Status.PROCESSING, "the dead worker's claim is left behind"

    with worker_process(GITHUB_API_BASE_URL=github_server.url, WEBHOOK_PROCESSING_STALE_SECONDS="1") as survivor:
        time.sleep(1.5)  # the claim grows stale
        assert deliveries_relay() == 1
        assert wait_until(lambda: status_of(delivery) == Status.PROCESSED), survivor.log

    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert github_server.github.count("GET", "/installation/repositories") == 1, (
        "the repositories were synced exactly once"
    )
    assert InstallationRepository.objects.count() == 2


def test_two_workers_racing_for_one_delivery_process_it_once(client, broker, github_server):
    from github_app.webhooks.tasks import process_deliveries

    github_server.github.slow(0.3)  # keep the first worker busy while the second gets its message
    url = github_server.url
    with worker_process(GITHUB_API_BASE_URL=url) as first, worker_process(GITHUB_API_BASE_URL=url) as second:
        delivery = post_resync_delivery(client)
        for _ in range(3):
            process_deliveries.delay([delivery.pk])

        assert wait_until(lambda: status_of(delivery) == Status.PROCESSED), first.log + second.log
        assert wait_until(lambda: first.log.count("succeeded") + second.log.count("succeeded") == 4)
        assert "process_deliveries" in first.log and "process_deliveries" in second.log, "both workers took a message"

    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert github_server.github.count("GET", "/installation/repositories") == 1


def test_concurrent_claims_on_the_database_give_the_delivery_to_exactly_one():
    delivery = WebhookDelivery.objects.create(delivery_id="race", event="push", payload=b"{}", status=Status.QUEUED)
    claims = run_at_once(lambda: delivery_claim(delivery_pk=delivery.pk))

    assert sum(claim is not None for claim in claims) == 1
    assert WebhookDelivery.objects.get(pk=delivery.pk).attempts == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a dropped server connection is a PostgreSQL matter")
def test_a_delivery_arriving_on_a_connection_the_database_dropped_is_stored(client):
    client.get("/health")  # opens the persistent connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    with psycopg.connect(**connection.get_connection_params()) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])

    response = post_webhook(
        client, fixture_body("pull_request__opened"), event="pull_request", delivery_id="after-restart"
    )

    assert response.status_code == 202
    assert WebhookDelivery.objects.filter(delivery_id="after-restart").exists()


def test_the_background_publisher_hands_every_delivery_over(client, settings):
    settings.WEBHOOK_ENQUEUE_IN_BACKGROUND = True  # tasks run eagerly, in the publisher's thread
    for number in range(25):
        response = post_webhook(
            client, fixture_body("pull_request__opened"), event="pull_request", delivery_id=f"bg-{number}"
        )
        assert response.status_code == 202

    assert wait_until(lambda: WebhookDelivery.objects.filter(status=Status.PROCESSED).count() == 25)
