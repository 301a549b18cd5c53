from celery import shared_task

from github_app.services import deliveries
from github_app.services.install_flow import used_install_states_purge


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
    return used_install_states_purge()
