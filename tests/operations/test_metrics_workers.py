"""/metrics with the pipeline's processes apart: a delivery stored by this process and processed
by a real Celery worker process over the configured broker shows in one scrape."""

import pytest

from github_app.models import WebhookDelivery
from tests.github_app.test_delivery_workers import github_server, post_resync_delivery, status_of  # noqa: F401
from tests.operations.test_metrics import change, scrape
from tests.worker import wait_until, worker_process

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_scrape_merges_what_the_worker_process_counted(client, broker, github_server):  # noqa: F811
    before = scrape(client)

    with worker_process(GITHUB_API_BASE_URL=github_server.url) as worker:
        delivery = post_resync_delivery(client)
        assert wait_until(lambda: status_of(delivery) == WebhookDelivery.Status.PROCESSED), worker.log

    after = scrape(client)  # the worker has exited: what it counted stays
    event = "installation_repositories"
    assert change(before, after, "github_webhook_received_total", event=event) == 1
    assert change(before, after, "github_webhook_processed_total", event=event, status="processed") == 1
    assert change(before, after, "github_webhook_processing_lag_seconds_count") == 1
