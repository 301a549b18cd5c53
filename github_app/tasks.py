from celery import shared_task

from github_app.errors import GitHubAppNotConfigured
from github_app.services import deliveries, redelivery, repository_access
from github_app.services.install_flow import install_completions_purge, used_install_states_purge


@shared_task
def process_deliveries(delivery_pks: list[int]) -> None:
    for delivery_pk in delivery_pks:
        deliveries.delivery_process(delivery_pk=delivery_pk)


@shared_task
def deliveries_relay() -> int:
    return deliveries.deliveries_relay()


@shared_task
def delivery_payloads_purge() -> int:
    return deliveries.delivery_payloads_purge()


@shared_task
def install_states_purge() -> int:
    return used_install_states_purge() + install_completions_purge()


@shared_task
def repository_access_sync_due() -> int:
    return repository_access.repository_access_sync_due()


@shared_task
def deliveries_redeliver_missed() -> int:
    """A pass cut short by GitHub stops cleanly; beat runs the next one an interval later."""
    try:
        return len(redelivery.deliveries_redeliver_missed().requested)
    except GitHubAppNotConfigured:  # no App, no delivery log: nothing to recover
        return 0
