"""Getting runs to a worker, and back to one when they lose their way.

A run's `stale_after` is when it is due back in the queue: set when it is enqueued, re-queued
for a retry or taken up by a worker, one WORKFLOW_RUN_STALE_SECONDS past the moment its message
should have been run (an execution lasts no longer than the task's hard time limit, which that
exceeds). A run still unfinished then has lost its message (a broker restart, a worker killed
while holding it, which Redis gives back only after its one-hour visibility timeout) or its
worker: the relay, every WORKFLOW_RUN_RELAY_INTERVAL_SECONDS from beat, enqueues it again, and it
resumes at its first unfinished step.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from aiworkflow.celery import task_enqueue
from workflows.models import Status, WorkflowRun

logger = logging.getLogger(__name__)
UNFINISHED = [Status.QUEUED, Status.IN_PROGRESS]
EXECUTE_RUN_TASK = "workflows.tasks.execute_run"


def run_stale_after(*, countdown: float = 0) -> datetime:
    """When a run whose message is to run in `countdown` seconds has lost it, if not finished."""
    return timezone.now() + timedelta(seconds=countdown + settings.WORKFLOW_RUN_STALE_SECONDS)


def _runs_make_due(*, run_ids: list[str]) -> None:
    WorkflowRun.objects.filter(pk__in=run_ids, status__in=UNFINISHED).update(stale_after=timezone.now())


def run_enqueue(*, run_id: str) -> bool:
    """Send the run's message; when the broker is out of reach, the run is due for the relay's
    next pass instead. Returns whether the message went out."""
    try:
        task_enqueue(EXECUTE_RUN_TASK, run_id)
    except (OperationalError, OSError):
        logger.warning("broker unreachable; the relay will enqueue the run", extra={"run_id": run_id})
        _runs_make_due(run_ids=[run_id])
        return False
    return True


def runs_claim_due(*, limit: int = 500) -> list[str]:
    """The ids of the unfinished runs past their stale time, each given a new stale time and
    freed of the execution that held it (gone: none outlives the hard time limit), so that the
    message enqueued next may claim it. Rows other relays hold are skipped, not waited for."""
    with transaction.atomic():
        run_ids = [
            str(pk)
            for pk in WorkflowRun.objects.select_for_update(skip_locked=True)
            .filter(status__in=UNFINISHED, stale_after__lt=timezone.now())
            .order_by("stale_after")
            .values_list("pk", flat=True)[:limit]
        ]
        WorkflowRun.objects.filter(pk__in=run_ids).update(stale_after=run_stale_after(), claimed_by="")
    return run_ids


def runs_relay(*, limit: int = 500) -> int:
    """Enqueue every due run; returns how many were handed to the broker. When the broker
    fails, the rest stay due for the next pass rather than each waiting out its own failure."""
    run_ids = runs_claim_due(limit=limit)
    for enqueued, run_id in enumerate(run_ids):
        if not run_enqueue(run_id=run_id):
            _runs_make_due(run_ids=run_ids[enqueued + 1 :])
            return enqueued
    return len(run_ids)
