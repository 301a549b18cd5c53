from celery import shared_task

from aiworkflow import logcontext
from workflows import relay, services
from workflows.engine import run_abandon, run_claim, run_execute, run_release


@shared_task(name=relay.EXECUTE_RUN_TASK, bind=True, max_retries=None)
def execute_run(self, run_id: str) -> None:
    """Run or resume a workflow run, unless another execution holds it; a step asking to be
    tried later re-queues the whole run, which resumes at that step. Run eagerly (tests,
    CELERY_TASK_ALWAYS_EAGER), Celery cannot re-queue, so the run resumes at once instead.

    A warm shutdown lets the execution end: the run finishes, or goes back to the queue with
    its retry. Cut short (any exception out of the engine, SystemExit included), the run is
    left due for the relay at once rather than after its stale time."""
    logcontext.bind(run_id=run_id)  # the run's delivery and installation once it is loaded (run_execute)
    claim = self.request.id
    if not run_claim(run_id=run_id, claim=claim):
        return
    try:
        delay = run_execute(run_id=run_id)
        while delay is not None and self.request.is_eager:
            delay = run_execute(run_id=run_id)
    except BaseException:
        run_abandon(run_id=run_id, claim=claim)
        raise
    run_release(run_id=run_id, claim=claim, retry_in=delay)
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task(name="workflows.tasks.runs_relay")
def runs_relay() -> int:
    return relay.runs_relay()


@shared_task(name="workflows.tasks.run_payloads_purge")
def run_payloads_purge() -> int:
    return services.run_payloads_purge()
