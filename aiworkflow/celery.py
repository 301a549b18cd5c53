import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiworkflow.settings")

app = Celery("aiworkflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each app's `tasks` module, and those of the GitHub App's sub-packages.
app.autodiscover_tasks()
app.autodiscover_tasks(["github_app.webhooks", "github_app.install"])


def task_enqueue(name: str, *args) -> None:
    """Send a message for the task registered under `name`. Services that feed a task reach it by
    name, so that they need not import the task module (which imports them); unlike `send_task`,
    the registered task keeps eager mode and its own options. Raises kombu's OperationalError or
    OSError when the broker cannot be reached."""
    if name not in app.tasks:
        app.loader.import_default_modules()  # task autodiscovery, which only a worker runs by itself
    app.tasks[name].apply_async(args=args, retry=True)


@signals.worker_init.connect
@signals.worker_process_init.connect
def _metrics_of_exited_processes_compact(**_) -> None:
    """A worker starts, or replaces a pool process that exited (max memory, a time limit)."""
    from aiworkflow.metrics import dead_processes_compact  # once the settings chose the directory

    dead_processes_compact()


@signals.task_prerun.connect
def _log_context_begin(task_id: str, **_) -> None:
    from aiworkflow.logcontext import task_context_begin

    task_context_begin(task_id)


@signals.task_postrun.connect
def _log_context_end(task_id: str, **_) -> None:
    from aiworkflow.logcontext import task_context_end

    task_context_end(task_id)
