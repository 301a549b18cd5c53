from celery import shared_task

from github_app.services import used_install_states_purge


@shared_task
def install_states_purge() -> int:
    return used_install_states_purge()
