"""Celery tasks of the install flow; named as fixed strings, like every task of the project."""

from celery import shared_task

from github_app.install.flow import install_completions_purge, used_install_states_purge
from github_app.install.repository_access import repository_access_sync_due as access_sync_due


@shared_task(name="github_app.tasks.install_states_purge")
def install_states_purge() -> int:
    return used_install_states_purge() + install_completions_purge()


@shared_task(name="github_app.tasks.repository_access_sync_due")
def repository_access_sync_due() -> int:
    return access_sync_due()
