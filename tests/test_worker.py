from datetime import timedelta

import pytest
from django.utils import timezone

from aiworkflow.celery import app as celery_app
from github_app.install.tasks import install_states_purge
from github_app.models import UsedInstallState
from tests.worker import broker_queue_purge, wait_until, worker_process


@pytest.fixture
def worker(monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    broker_queue_purge()
    with worker_process() as process:
        yield process


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_task_sent_over_the_broker_runs_in_a_worker_process_and_changes_the_database(worker, user):
    expired = UsedInstallState.objects.create(nonce="expired", user=user)
    UsedInstallState.objects.filter(pk=expired.pk).update(used_at=timezone.now() - timedelta(hours=2))
    UsedInstallState.objects.create(nonce="recent", user=user)

    install_states_purge.delay()

    assert wait_until(lambda: not UsedInstallState.objects.filter(nonce="expired").exists()), worker.log
    assert UsedInstallState.objects.filter(nonce="recent").exists()
    assert wait_until(lambda: "install_states_purge" in worker.log and "succeeded" in worker.log), worker.log
