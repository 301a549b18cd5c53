"""A real Celery worker process on the test database, for tests of the asynchronous pipeline."""

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from aiworkflow.celery import app as celery_app
from tests.ports import accepts, free_port

PROJECT_DIR = Path(__file__).resolve().parent.parent


def database_url_of_this_test() -> str:
    """The URL of the database this test runs on, for a process that is not this one."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_until(condition: Callable[[], bool], *, timeout: float = 30, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


class WorkerProcess:
    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout or ():
            self.output.append(line)

    @property
    def log(self) -> str:
        return "".join(self.output)


def broker_queue_purge() -> None:
    """Drop messages an earlier run left, so that none of them runs in this test."""
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


@contextmanager
def worker_process(**extra_env: str) -> Iterator[WorkerProcess]:
    """Start `celery worker` over the configured broker and wait until it consumes."""
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aiworkflow.settings_test",
        "DATABASE_URL": database_url_of_this_test(),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        **extra_env,
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "aiworkflow",
        "worker",
        "--pool=solo",
        "--queues",
        queue,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
        "--hostname",
        f"test-{uuid.uuid4().hex[:8]}@%h",
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    worker = WorkerProcess(process)
    try:
        if not wait_until(lambda: " ready." in worker.log or process.poll() is not None, timeout=60):
            raise RuntimeError(f"the worker did not start:\n{worker.log}")
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{worker.log}")
        yield worker
    finally:
        stop(process)


@contextmanager
def gunicorn_process(options: list[str], **extra_env: str) -> Iterator[tuple[WorkerProcess, str]]:
    """gunicorn serving the project with one sync worker and `options`, on the test settings;
    yields the process and its URL once it accepts connections."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aiworkflow.settings_test", **extra_env}
    command = [sys.executable, "-m", "gunicorn", "aiworkflow.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1", *options]
    process = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    web = WorkerProcess(process)
    try:
        if not wait_until(lambda: "Booting worker" in web.log and accepts(port), timeout=30):
            raise RuntimeError(f"gunicorn did not start:\n{web.log}")
        yield web, f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Ask the process to stop; kill it when it has not within 30 s."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_at_once(function: Callable[[], object], *, threads: int = 8) -> list:
    """Call `function` from several threads released together; returns their results. Each
    thread has its own database connection, closed when it is done."""
    barrier = threading.Barrier(threads)
    results = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(function())
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results
