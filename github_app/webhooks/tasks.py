"""Celery tasks for deliveries. Their names are fixed, not derived from this module's path, so
that messages already queued keep finding their task when code moves."""

from celery import shared_task

from github_app.errors import GitHubAppNotConfigured
from github_app.webhooks import deliveries, redelivery
from github_app.webhooks.publisher import PROCESS_DELIVERIES_TASK


@shared_task(name=PROCESS_DELIVERIES_TASK)
def process_deliveries(delivery_pks: list[int]) -> None:
    for delivery_pk in delivery_pks:
        deliveries.delivery_process(delivery_pk=delivery_pk)


@shared_task(name="github_app.tasks.deliveries_relay")
def deliveries_relay() -> int:
    return deliveries.deliveries_relay()


@shared_task(name="github_app.tasks.delivery_payloads_purge")
def delivery_payloads_purge() -> int:
    return deliveries.delivery_payloads_purge()


@shared_task(name="github_app.tasks.deliveries_redeliver_missed")
def deliveries_redeliver_missed() -> int:
    """A pass cut short by GitHub stops cleanly; beat runs the next one an interval later."""
    try:
        return len(redelivery.deliveries_redeliver_missed().requested)
    except GitHubAppNotConfigured:  # no App, no delivery log: nothing to recover
        return 0
