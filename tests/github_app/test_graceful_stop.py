"""A web process stopped while its publisher thread still holds deliveries: a real gunicorn on
the test database and broker, with every message slow to reach the broker, or never reaching it.
Every delivery answered 202 must end in a broker message or stay `received` for the relay."""

import signal
import time
import uuid
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import requests
from django.conf import settings

from aiworkflow.celery import app as celery_app
from github_app.models import WebhookDelivery
from github_app.webhooks.deliveries import deliveries_claim_due
from github_app.webhooks.publisher import STOP_SECONDS
from github_app.webhooks.signatures import signature_for
from tests.github_app.webhooks import fixture_body
from tests.worker import WorkerProcess, database_url_of_this_test, gunicorn_process

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DELIVERIES = 20
# Beyond the publisher's own wait: the request in progress, gunicorn's master noticing its worker gone.
EXIT_SECONDS = STOP_SECONDS + 3
# A gunicorn config whose worker takes `publish_seconds` to send each message to the broker.
SLOW_BROKER = """
import time

from kombu.messaging import Producer


def post_fork(server, worker):
    publish = Producer.publish

    def slow_publish(self, *args, **kwargs):
        time.sleep({publish_seconds})
        return publish(self, *args, **kwargs)

    Producer.publish = slow_publish
"""


def web_process(config: Path) -> AbstractContextManager[tuple[WorkerProcess, str]]:
    """gunicorn with one sync worker, as the Procfile runs it, handing deliveries over in the
    background; yields the process and its URL."""
    return gunicorn_process(
        ["--config", str(config)],
        DATABASE_URL=database_url_of_this_test(),
        CELERY_TASK_ALWAYS_EAGER="false",
        WEBHOOK_ENQUEUE_IN_BACKGROUND="true",
    )


def post_deliveries(url: str) -> list[str]:
    body = fixture_body("pull_request__opened")
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-Hub-Signature-256": signature_for(body=body, secret=settings.GITHUB_WEBHOOK_SECRET),
    }
    delivery_ids = [str(uuid.uuid4()) for _ in range(DELIVERIES)]
    with requests.Session() as session:
        for delivery_id in delivery_ids:
            response = session.post(
                f"{url}/webhooks/github", data=body, headers={**headers, "X-GitHub-Delivery": delivery_id}, timeout=10
            )
            assert response.status_code == 202, response.text
    return delivery_ids


def stopped_after(web: WorkerProcess, signum: int) -> float:
    """Send gunicorn's master `signum`; returns the seconds it took to exit."""
    started = time.monotonic()
    web.process.send_signal(signum)
    assert web.process.wait(timeout=30) == 0, web.log
    return time.monotonic() - started


def broker_messages() -> list[list[int]]:
    """The delivery ids of each processing message waiting in the broker, taken off it."""
    messages = []
    with celery_app.connection_for_read() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(settings.CELERY_TASK_DEFAULT_QUEUE, no_ack=True)) is not None:
            args, _, _ = message.decode()
            if message.headers["task"] == "github_app.tasks.process_deliveries":
                messages.append(args[0])
    return messages


def stored_pks(delivery_ids: list[str]) -> set[int]:
    rows = WebhookDelivery.objects.filter(delivery_id__in=delivery_ids)
    assert set(rows.values_list("status", flat=True)) == {WebhookDelivery.Status.RECEIVED}
    return set(rows.values_list("pk", flat=True))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT], ids=["TERM", "INT", "QUIT"])
def test_a_stopping_web_process_hands_every_delivery_it_holds_to_a_slow_broker(broker, tmp_path, signum):
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(SLOW_BROKER.format(publish_seconds=0.4))
    with web_process(config) as (web, url):
        delivery_ids = post_deliveries(url)  # the first message is on its way; the others wait for it
        seconds = stopped_after(web, signum)

    messages = broker_messages()
    assert sorted(pk for message in messages for pk in message) == sorted(stored_pks(delivery_ids)), web.log
    assert len(messages) < DELIVERIES, "deliveries that waited for the broker share messages"
    assert seconds < EXIT_SECONDS, web.log


def test_a_web_process_stopping_while_the_broker_hangs_leaves_the_deliveries_to_the_relay(broker, tmp_path, settings):
    settings.WEBHOOK_ENQUEUE_GRACE_SECONDS = 0
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(SLOW_BROKER.format(publish_seconds=3600))
    with web_process(config) as (web, url):
        delivery_ids = post_deliveries(url)
        seconds = stopped_after(web, signal.SIGTERM)

    assert broker_messages() == []
    assert STOP_SECONDS <= seconds < EXIT_SECONDS, web.log
    assert "deliveries left to the relay" in web.log
    left = stored_pks(delivery_ids)
    assert set(deliveries_claim_due()) == left, "the relay enqueues every one of them"
