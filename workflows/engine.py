"""Runs a workflow version's nodes in dependency order, each step persisted before the next.

A run re-executed (a retry, or a worker that died) resumes at its first unfinished step, so no
completed step's side effect is repeated; a step that was cut short runs again, which is why
write nodes are idempotent (a comment carries a marker). Downstream of a failed step, or of a
condition that is false, steps are skipped; past the run's deadline the run is timed out.

One execution at a time: an execution claims the run before running it (run_claim) and gives it
back when it ends (run_release, run_abandon), so that a run's message arriving twice (the relay's
and a late redelivery of the original) never runs it twice at once.

A workflow with a concurrency group starts a run only once the group admits it
(workflows/concurrency.py). A run of a group checks before each step that no newer run cancelled
it; a cancelled run writes nothing more, and its successful steps' node types close what they
opened (`on_cancel`).
"""

import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from aiworkflow import logcontext, metrics
from aiworkflow.backoff import backoff_seconds
from workflows.concurrency import (
    Decision,
    concurrency_group_name,
    concurrency_lock,
    group_next_enqueue,
    run_admit,
    run_cancelled,
)
from workflows.definitions import definition_order
from workflows.models import Conclusion, Status, StepRun, WorkflowRun
from workflows.nodes import NODE_TYPES, StepContext, StepFailed, StepRetryLater
from workflows.relay import UNFINISHED, run_stale_after
from workflows.selectors import run_payload
from workflows.templating import TemplateInvalid, template_render

logger = logging.getLogger(__name__)


def _retry_delay(step: StepRun, retry: StepRetryLater) -> float:
    if retry.delay is not None:
        return retry.delay
    return backoff_seconds(
        attempt=step.attempts,
        base=settings.WORKFLOW_STEP_RETRY_BASE_SECONDS,
        cap=settings.WORKFLOW_STEP_RETRY_MAX_SECONDS,
        jitter=0.2,
    )


def _capped(output: dict) -> tuple[dict, bool]:
    """The output as stored: long strings are cut until it fits WORKFLOW_STEP_OUTPUT_MAX_BYTES."""
    limit = settings.WORKFLOW_STEP_OUTPUT_MAX_BYTES
    if len(json.dumps(output, default=str)) <= limit:
        return output, False
    longest = limit
    while longest > 16:
        longest //= 2
        shortened = _shorten(output, longest)
        if len(json.dumps(shortened, default=str)) <= limit:
            return shortened, True
    return {"truncated": True}, True


def _shorten(value, longest: int):
    if isinstance(value, str) and len(value) > longest:
        return value[:longest] + f"… [{len(value) - longest} more characters]"
    if isinstance(value, dict):
        return {key: _shorten(item, longest) for key, item in value.items()}
    if isinstance(value, list):
        return [_shorten(item, longest) for item in value]
    return value


def _finish_step(step: StepRun, conclusion: str, *, output: dict | None = None, error: str = "") -> None:
    step.status = Status.COMPLETED
    step.conclusion = conclusion
    step.output, step.output_truncated = _capped(output) if output is not None else (None, False)
    step.error = error[:5000]
    step.finished_at = timezone.now()
    step.save()


def _template_context(run: WorkflowRun, trigger: dict, outputs: dict) -> dict:
    workflow = {"id": str(run.workflow_id), "name": run.workflow.name, "version": run.version.number}
    return {"trigger": trigger, "nodes": outputs, "workflow": workflow}


def _step_context(run: WorkflowRun, trigger: dict, node_id: str) -> StepContext:
    return StepContext(
        run_id=str(run.pk),
        node_id=node_id,
        owner_id=run.owner_id,
        installation_id=run.installation_id,
        repository=run.repository,
        trigger=trigger,
        dry_run=run.dry_run,
    )


def _execute_step(run: WorkflowRun, trigger: dict, step: StepRun, node: dict, outputs: dict) -> float | None:
    """Run one step; returns a delay when it should be tried again later."""
    step.status = Status.IN_PROGRESS
    step.started_at = step.started_at or timezone.now()
    step.attempts += 1
    step.save(update_fields=["status", "started_at", "attempts"])
    node_type = NODE_TYPES[node["type"]]
    context = _step_context(run, trigger, step.node_id)
    try:
        params = template_render(node.get("params", {}), _template_context(run, trigger, outputs))
        if node_type.writes and run.dry_run:
            output = {"dry_run": True, "would": {"type": node_type.name, "params": params}}
        else:
            output = node_type.execute(params, context)
    except TemplateInvalid as exc:
        _finish_step(step, Conclusion.FAILURE, error=f"Template error: {exc}")
    except StepFailed as exc:
        _finish_step(step, Conclusion.FAILURE, error=str(exc))
    except StepRetryLater as exc:
        if step.attempts >= settings.WORKFLOW_STEP_MAX_ATTEMPTS:
            _finish_step(step, Conclusion.FAILURE, error=str(exc))
            return None
        step.status = Status.QUEUED
        step.error = f"Attempt {step.attempts}: {exc}"[:5000]
        step.save(update_fields=["status", "error"])
        return _retry_delay(step, exc)
    except Exception as exc:  # a node's defect: fails the step, and is logged with its traceback
        logger.exception("step failed", extra={"run_id": str(run.pk), "node_id": step.node_id})
        _finish_step(step, Conclusion.FAILURE, error=f"{type(exc).__name__}: {exc}")
    else:
        _finish_step(step, Conclusion.SUCCESS, output=output)
        outputs[step.node_id] = step.output
    return None


def _blocked(node_id: str, parents: dict, steps: dict) -> bool:
    """A step waits on every parent's success, and on each gating parent letting it through."""
    for parent in parents[node_id]:
        step = steps[parent]
        if step.conclusion != Conclusion.SUCCESS or not NODE_TYPES[step.node_type].lets_through(step.output):
            return True
    return False


def _steps_of(run: WorkflowRun, order: list[str], nodes: dict) -> dict[str, StepRun]:
    existing = {step.node_id: step for step in run.steps.all()}
    missing = [
        StepRun(run=run, node_id=node_id, node_type=nodes[node_id]["type"], position=position)
        for position, node_id in enumerate(order)
        if node_id not in existing
    ]
    StepRun.objects.bulk_create(missing, ignore_conflicts=True)
    return {step.node_id: step for step in run.steps.all()}


def _run_start(run: WorkflowRun) -> None:
    started = timezone.now()
    run.status, run.started_at = Status.IN_PROGRESS, started
    run.deadline_at = started + timedelta(seconds=settings.WORKFLOW_RUN_TIMEOUT_SECONDS)
    run.save(update_fields=["status", "started_at", "deadline_at"])


def _run_begin(run: WorkflowRun, trigger: dict, steps: dict[str, StepRun]) -> datetime | None:
    """Start the run if it has not started, once its concurrency group (if any) admits it;
    returns its deadline, or None when it is not to run now: waiting for its group, cancelled,
    or its group's template failed (which fails the run, as in GitHub Actions)."""
    if run.status != Status.QUEUED and run.deadline_at is not None:
        return run.deadline_at
    concurrency = run.version.definition.get("concurrency")
    if concurrency is None or run.status != Status.QUEUED:
        _run_start(run)
        return run.deadline_at
    try:
        rendered = template_render(concurrency["group"], _template_context(run, trigger, {}))
    except TemplateInvalid as exc:
        _run_finish(run, steps, error=f"Concurrency group template error: {exc}")
        return None
    group = concurrency_group_name(workflow_id=run.workflow_id, rendered=str(rendered))
    with transaction.atomic():
        admission = run_admit(run=run, group=group, cancel_in_progress=concurrency.get("cancel_in_progress", False))
        if admission.decision == Decision.START:
            _run_start(run)
    for cancelled_run_id, step_pks in admission.cancelled_steps.items():
        _cancel_hooks_call(run_id=cancelled_run_id, step_pks=step_pks)
    return run.deadline_at if admission.decision == Decision.START else None


def _step_cancel_hook(run: WorkflowRun, trigger: dict, step: StepRun) -> None:
    """Let a successful step's node type close what it opened, now that its run is cancelled.
    A step may reach here twice (its run cancelled just as it succeeded), so `on_cancel` is
    idempotent. Its failure is logged, not raised: the run is cancelled all the same, and the
    newer run that cancelled it must start."""
    node_type = NODE_TYPES.get(step.node_type)
    if run.dry_run or node_type is None or node_type.on_cancel is None or step.conclusion != Conclusion.SUCCESS:
        return
    try:
        node_type.on_cancel(step.output or {}, _step_context(run, trigger, step.node_id))
    except Exception:
        logger.exception("on_cancel failed", extra={"run_id": str(run.pk), "node_id": step.node_id})


def _cancel_hooks_call(*, run_id: str, step_pks: list[int]) -> None:
    if not step_pks:
        return
    run = WorkflowRun.objects.select_related("workflow", "version").get(pk=run_id)
    trigger = {**run.trigger, "payload": run_payload(run=run)}
    for step in run.steps.filter(pk__in=step_pks):
        _step_cancel_hook(run, trigger, step)


def _stop_cancelled(run: WorkflowRun, trigger: dict, step: StepRun) -> None:
    """A newer run of the group cancelled this one while `step` ran: the step's own outcome
    stands (it may have written), the steps left stay cancelled, and the step, if it succeeded,
    is closed like the others were."""
    StepRun.objects.filter(run=run).exclude(status=Status.COMPLETED).update(
        status=Status.COMPLETED, conclusion=Conclusion.CANCELLED, finished_at=timezone.now()
    )
    step.refresh_from_db()
    _step_cancel_hook(run, trigger, step)


def run_execute(*, run_id: str) -> float | None:
    """Run (or resume) a run; returns a delay when a step asked to be retried later."""
    run = WorkflowRun.objects.select_related("workflow", "version").get(pk=run_id)
    logcontext.bind(run_id=run_id, delivery_id=run.trigger.get("delivery_id"), installation_id=run.installation_id)
    if run.status == Status.COMPLETED:
        return None
    definition = run.version.definition
    order = definition_order(definition)  # checked in full when the version was saved
    nodes = {node["id"]: node for node in definition["nodes"]}
    parents = {
        node_id: [edge["from"] for edge in definition.get("edges", []) if edge["to"] == node_id] for node_id in nodes
    }
    steps = _steps_of(run, order, nodes)
    outputs = {node_id: step.output for node_id, step in steps.items() if step.conclusion == Conclusion.SUCCESS}
    trigger = {**run.trigger, "payload": run_payload(run=run)}
    deadline = _run_begin(run, trigger, steps)
    if deadline is None:
        return None
    for node_id in order:
        step = steps[node_id]
        if step.status == Status.COMPLETED:
            continue
        if run.concurrency_group and run_cancelled(run_id=run.pk):
            return None
        if timezone.now() >= deadline:
            _run_finish(run, steps, timed_out=True)
            return None
        if _blocked(node_id, parents, steps):
            _finish_step(step, Conclusion.SKIPPED)
            continue
        delay = _execute_step(run, trigger, step, nodes[node_id], outputs)
        if run.concurrency_group and run_cancelled(run_id=run.pk):
            _stop_cancelled(run, trigger, step)
            return None
        if delay is not None:
            return delay
    _run_finish(run, steps)
    return None


def _run_finish(
    run: WorkflowRun,
    steps: dict[str, StepRun],
    *,
    timed_out: bool = False,
    worker_lost: str = "",
    error: str = "",
) -> None:
    reason = "The run's deadline passed." if timed_out else worker_lost or error
    for step in steps.values():
        if step.status != Status.COMPLETED:
            _finish_step(step, Conclusion.CANCELLED, error=reason)
    failed = worker_lost or error or any(step.conclusion == Conclusion.FAILURE for step in steps.values())
    run.status = Status.COMPLETED
    run.conclusion = Conclusion.TIMED_OUT if timed_out else Conclusion.FAILURE if failed else Conclusion.SUCCESS
    run.error = worker_lost or error
    run.finished_at = timezone.now()
    if not _run_completion_save(run):
        return
    metrics.RUNS_FINISHED.labels(conclusion=run.conclusion).inc()
    if run.started_at is not None:
        metrics.RUN_DURATION_SECONDS.observe((run.finished_at - run.started_at).total_seconds())


def _run_completion_save(run: WorkflowRun) -> bool:
    """Save a run's end unless a newer run of its group cancelled it meanwhile (which stands);
    a run of a group hands its turn to the group's oldest waiting run. Returns whether saved."""
    with transaction.atomic():
        if run.concurrency_group:
            concurrency_lock(workflow_id=run.workflow_id)
        saved = WorkflowRun.objects.filter(pk=run.pk, status__in=UNFINISHED).update(
            status=run.status, conclusion=run.conclusion, error=run.error, finished_at=run.finished_at
        )
        if saved and run.concurrency_group:
            group_next_enqueue(group=run.concurrency_group)
    return bool(saved)


def run_claim(*, run_id: str, claim: str) -> bool:
    """Take the run for the execution of the task message `claim`; False when it must not run
    here: it is finished, another execution holds it, or its workers keep being lost.

    One conditional UPDATE, so that of any number of messages for the run exactly one gets it. A
    run is free when no execution holds it, when its holder is past its stale time (no execution
    outlives the hard time limit, which WORKFLOW_RUN_STALE_SECONDS exceeds), or when the holder
    is this very message: a broker hands a message out again only once whoever held it is gone
    (a worker lost, a message requeued), and a retry keeps its task's id.

    Each claim counts one in `deliveries`, and only a clean end (run_release) clears the count: what
    stays counted is executions that were lost (a worker killed for memory or past the hard time
    limit, an execution cut short), however the run came back, by the broker or by the relay. A
    run that lost WORKFLOW_RUN_MAX_DELIVERIES of them ends `failure` instead of losing one more.
    """
    now = timezone.now()
    claimed = WorkflowRun.objects.filter(
        Q(claimed_by__in=["", claim]) | Q(stale_after__lt=now), pk=run_id, status__in=UNFINISHED
    ).update(claimed_by=claim, stale_after=run_stale_after(), deliveries=F("deliveries") + 1)
    if not claimed:
        return False
    run = WorkflowRun.objects.select_related("workflow", "version").get(pk=run_id)
    if run.deliveries <= settings.WORKFLOW_RUN_MAX_DELIVERIES:
        return True
    lost = run.deliveries - 1
    logger.error("run stopped: its worker was lost on every attempt", extra={"run_id": run_id, "workers_lost": lost})
    nodes = {node["id"]: node for node in run.version.definition["nodes"]}
    _run_finish(
        run,
        _steps_of(run, definition_order(run.version.definition), nodes),
        worker_lost=f"Worker lost: the worker running this run was lost {lost} times (killed out of memory or past "
        "the time limit, or stopped mid-run), so the run was stopped.",
    )
    return False


def run_release(*, run_id: str, claim: str, retry_in: float | None = None) -> None:
    """Give the run back after an execution that ended cleanly: finished, or re-queued to be
    tried again in `retry_in` seconds. A re-queued run stays with its retry message (same task
    id), due for the relay only if that message is not run by its countdown plus the stale time."""
    held = WorkflowRun.objects.filter(pk=run_id, claimed_by=claim)
    if retry_in is None:
        held.update(claimed_by="", deliveries=0)
    else:
        held.update(deliveries=0, stale_after=run_stale_after(countdown=retry_in))


def run_abandon(*, run_id: str, claim: str) -> None:
    """Give the run back after an execution cut short (stopped mid-run, an error out of the
    engine): due for the relay's next pass at once, and counted as a lost execution."""
    WorkflowRun.objects.filter(pk=run_id, claimed_by=claim).update(claimed_by="", stale_after=timezone.now())
