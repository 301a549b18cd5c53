"""Hands stored deliveries to the broker from a background thread, so that a webhook answer
never waits on the broker; deliveries that arrive within LINGER_SECONDS of one another share messages.

The rows are already stored when a delivery id reaches this queue. A stopping process hands
over what the thread holds, for at most STOP_SECONDS; anything still here when a process stops or
dies is `received`, and the relay enqueues it after WEBHOOK_ENQUEUE_GRACE_SECONDS.
"""

import atexit
import logging
import os
import queue
import threading
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError

from aiworkflow.celery import task_enqueue
from github_app.models import WebhookDelivery

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status
# The longest a stopping web process waits for the broker to take what the thread holds: within
# the shortest grace it gets before SIGKILL (honcho's 5 s under bin/run; gunicorn's
# graceful_timeout is 30 s, `docker compose stop` 10 s), after the request in progress ends.
STOP_SECONDS = 3
# How long the thread lets the deliveries after the first gather before it sends their message.
# A message costs the web process about half a millisecond of CPU, under the GIL its requests
# need: sent at once, a sync worker's deliveries went out one a message, and the hand-off cost
# more than the rest of intake. Processing starts this much later.
LINGER_SECONDS = 0.05
PROCESS_DELIVERIES_TASK = "github_app.tasks.process_deliveries"


def deliveries_publish(*, delivery_pks: list[int]) -> bool:
    """One processing message for these deliveries. When the broker is out of reach the rows are
    marked due at once, for the relay; returns whether the message went out."""
    try:
        task_enqueue(PROCESS_DELIVERIES_TASK, delivery_pks)
    except (OperationalError, OSError):
        logger.warning(
            "broker unreachable; the relay will enqueue the deliveries", extra={"delivery_pks": delivery_pks}
        )
        WebhookDelivery.objects.filter(pk__in=delivery_pks, status__in=[Status.RECEIVED, Status.QUEUED]).update(
            status=Status.RECEIVED, next_attempt_at=timezone.now(), enqueued_at=None
        )
        return False
    return True


class DeliveryPublisher:
    def __init__(self) -> None:
        # Delivery ids, and None once the process is stopping.
        self._pending: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._owner_pid: int | None = None

    def submit(self, delivery_pk: int) -> None:
        if not settings.WEBHOOK_ENQUEUE_IN_BACKGROUND:
            deliveries_publish(delivery_pks=[delivery_pk])
            return
        self._ensure_thread()
        self._pending.put(delivery_pk)

    def stop(self, *, timeout: float = STOP_SECONDS) -> None:
        """At process exit: let the thread hand over every delivery it holds, waiting for it at
        most `timeout` seconds. What it could not hand over is still `received`: the relay
        enqueues it after WEBHOOK_ENQUEUE_GRACE_SECONDS."""
        if self._owner_pid != os.getpid() or self._thread is None:
            return  # no thread of this process holds anything (a forked child's copy is its parent's)
        self._pending.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("deliveries left to the relay: the broker did not take them before the process stopped")

    def _ensure_thread(self) -> None:
        # A forked child inherits the queue but not the thread: start one per process.
        if self._owner_pid == os.getpid():
            return
        with self._lock:
            if self._owner_pid != os.getpid():
                self._pending = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._run, name="delivery-publisher", daemon=True)
                self._thread.start()
                self._owner_pid = os.getpid()

    def _take(self) -> tuple[list[int], bool]:
        """The next delivery ids: the first (waiting for it), then all that are queued
        LINGER_SECONDS later, up to WEBHOOK_ENQUEUE_BATCH_SIZE; and whether the process is
        stopping after them."""
        batch: list[int] = []
        delivery_pk = self._pending.get()
        if delivery_pk is not None:
            time.sleep(LINGER_SECONDS)
        while delivery_pk is not None:
            batch.append(delivery_pk)
            if len(batch) == settings.WEBHOOK_ENQUEUE_BATCH_SIZE:
                return batch, False
            try:
                delivery_pk = self._pending.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._take()
            if not batch:
                continue
            try:
                deliveries_publish(delivery_pks=batch)
            except Exception:  # the thread must outlive any failure; the relay has the rows
                logger.exception("publishing deliveries failed", extra={"delivery_pks": batch})
            finally:
                connection.close()


publisher = DeliveryPublisher()
# Runs when a web worker exits, gunicorn's graceful stop (SIGTERM) and quick stop (SIGINT,
# SIGQUIT) alike; a SIGKILL leaves the rows to the relay.
atexit.register(publisher.stop)
