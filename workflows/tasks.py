from celery import shared_task

from workflows.engine import run_delivery_release, run_delivery_take, run_execute
from workflows import services


@shared_task(bind=True, max_retries=None)
def execute_run(self, run_id: str) -> None:
    """Run or resume a workflow run; a step asking to be tried later re-queues the whole run,
    which resumes at that step. Run eagerly (tests, CELERY_TASK_ALWAYS_EAGER), Celery cannot
    re-queue, so the run resumes at once instead. A run whose workers keep dying is stopped."""
    if not run_delivery_take(run_id=run_id):
        return
    try:
        while (delay := run_execute(run_id=run_id)) is not None:
            if not self.request.is_eager:
                raise self.retry(countdown=delay)
    finally:
        run_delivery_release(run_id=run_id)


@shared_task
def run_payloads_purge() -> int:
    return services.run_payloads_purge()
