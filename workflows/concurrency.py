"""Concurrency groups, as in GitHub Actions: at most one run of a group is in progress.

A workflow's definition may name a group, a template rendered over the run's context when a
worker first takes the run up; the group is scoped to its workflow (its id prefixes it), so that
the groups of two workflows, or of two customers, never meet. A run is admitted (run_admit)
with its workflow's row locked, so that two runs of a group taken up at the same moment are
decided one after the other; a unique constraint on the group's run in progress holds besides.

- A run with a newer run in its group has been superseded: it is cancelled, never started
  (GitHub keeps only the newest pending run), and so are the group's older runs still waiting.
- With a run of the group in progress, the run waits (stays queued), or, with
  `cancel_in_progress`, cancels that run and starts.
- A run that finishes enqueues the group's oldest waiting run (group_next_enqueue). Should that
  message be lost, a waiting run is also due for the relay once stale, and asks again.

A cancelled run is completed at once (`cancelled`, with its unfinished steps); its execution, if
one is mid-step, stops before its next step. The engine calls the node types' `on_cancel` for its
successful steps.
"""

import hashlib
import logging
from dataclasses import dataclass, field
from enum import Enum

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from aiworkflow import metrics
from workflows.models import Conclusion, Status, StepRun, Workflow, WorkflowRun
from workflows.relay import UNFINISHED, run_enqueue

logger = logging.getLogger(__name__)
MAX_GROUP_NAME_LENGTH = 200  # characters of a rendered group kept as they are; a longer one is hashed
SUPERSEDED = "Cancelled: a newer run of the same concurrency group superseded this pending run."
CANCELLED_IN_PROGRESS = "Cancelled: a newer run of the same concurrency group started (cancel_in_progress)."


class Decision(Enum):
    START = "start"
    WAIT = "wait"
    CANCELLED = "cancelled"


@dataclass
class Admission:
    decision: Decision
    # The runs this admission cancelled while in progress, with their steps that had succeeded:
    # what their node types' `on_cancel` is to close.
    cancelled_steps: dict[str, list[int]] = field(default_factory=dict)


def concurrency_group_name(*, workflow_id, rendered: str) -> str:
    """The stored group: the workflow's id, then the rendered group (hashed when long, so that
    two long groups differing only at their end stay apart)."""
    name = rendered.strip()
    if len(name) > MAX_GROUP_NAME_LENGTH:
        name = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
    return f"{workflow_id}:{name}"


def concurrency_lock(*, workflow_id) -> None:
    """Hold the workflow's row until the transaction ends: admissions and completions of its
    runs are decided one at a time. Called within a transaction."""
    Workflow.objects.select_for_update().filter(pk=workflow_id).values_list("pk", flat=True).first()


def _runs_cancel(run_ids: list, reason: str) -> None:
    if not run_ids:
        return
    now = timezone.now()
    StepRun.objects.filter(run_id__in=run_ids).exclude(status=Status.COMPLETED).update(
        status=Status.COMPLETED, conclusion=Conclusion.CANCELLED, error=reason, finished_at=now
    )
    cancelled = WorkflowRun.objects.filter(pk__in=run_ids, status__in=UNFINISHED).update(
        status=Status.COMPLETED, conclusion=Conclusion.CANCELLED, error=reason, finished_at=now
    )
    metrics.RUNS_FINISHED.labels(conclusion=Conclusion.CANCELLED).inc(cancelled)
    logger.info("runs cancelled by their concurrency group", extra={"run_ids": [str(pk) for pk in run_ids]})


def _succeeded_steps(run_ids: list) -> dict[str, list[int]]:
    steps = StepRun.objects.filter(run_id__in=run_ids, conclusion=Conclusion.SUCCESS).values_list("run_id", "pk")
    succeeded: dict[str, list[int]] = {str(run_id): [] for run_id in run_ids}
    for run_id, step_pk in steps:
        succeeded[str(run_id)].append(step_pk)
    return succeeded


def run_admit(*, run: WorkflowRun, group: str, cancel_in_progress: bool) -> Admission:
    """Decide whether a queued run of `group` starts now, waits or is cancelled (see above),
    and record it: the run's group, the runs it cancels. Called within a transaction, which must
    also mark a starting run in progress, before the lock it takes is released."""
    concurrency_lock(workflow_id=run.workflow_id)
    if not WorkflowRun.objects.filter(pk=run.pk, status=Status.QUEUED).exists():
        return Admission(Decision.CANCELLED)  # a newer run superseded it since it was loaded
    run.concurrency_group = group
    WorkflowRun.objects.filter(pk=run.pk).update(concurrency_group=group)
    others = WorkflowRun.objects.filter(concurrency_group=group).exclude(pk=run.pk)
    newer = others.filter(Q(created_at__gt=run.created_at) | Q(created_at=run.created_at, pk__gt=run.pk))
    if newer.exists():
        _runs_cancel([run.pk], SUPERSEDED)
        return Admission(Decision.CANCELLED)
    _runs_cancel(list(others.filter(status=Status.QUEUED).values_list("pk", flat=True)), SUPERSEDED)
    in_progress = list(others.filter(status=Status.IN_PROGRESS).values_list("pk", flat=True))
    if in_progress and not cancel_in_progress:
        return Admission(Decision.WAIT)
    cancelled_steps = _succeeded_steps(in_progress)
    _runs_cancel(in_progress, CANCELLED_IN_PROGRESS)
    return Admission(Decision.START, cancelled_steps)


def run_cancelled(*, run_id) -> bool:
    return WorkflowRun.objects.filter(pk=run_id, conclusion=Conclusion.CANCELLED).exists()


def group_next_enqueue(*, group: str) -> None:
    """Enqueue the group's oldest waiting run, once the transaction that finished a run commits.
    Called within that transaction, under the workflow's lock: a run deciding to wait meanwhile
    is either seen here or sees the finished run."""
    waiting = (
        WorkflowRun.objects.filter(concurrency_group=group, status=Status.QUEUED)
        .order_by("created_at")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None:
        transaction.on_commit(lambda: run_enqueue(run_id=str(waiting)))
