"""Hands stored deliveries to the broker from a background thread, so that a webhook answer
never waits on the broker, and several deliveries share one message when they arrive together.

The rows are already stored when a delivery id reaches this queue; anything still queued here
when a process dies is found by the relay after WEBHOOK_ENQUEUE_GRACE_SECONDS.
"""

import atexit
import logging
import os
import queue
import threading

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError

from github_app.models import WebhookDelivery

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status


def deliveries_publish(*, delivery_pks: list[int]) -> bool:
    """One processing message for these deliveries. When the broker is out of reach the rows are
    marked due at once, for the relay; returns whether the message went out."""
    from github_app.tasks import process_deliveries  # the task module imports the services

    try:
        process_deliveries.apply_async(args=[delivery_pks], retry=True)
    except (OperationalError, OSError):
        logger.warning("broker unreachable; the relay will enqueue the deliveries", extra={"delivery_pks": delivery_pks})
        WebhookDelivery.objects.filter(pk__in=delivery_pks, status__in=[Status.RECEIVED, Status.QUEUED]).update(
            status=Status.RECEIVED, next_attempt_at=timezone.now(), enqueued_at=None
        )
        return False
    return True


class DeliveryPublisher:
    def __init__(self) -> None:
        self._pending: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._owner_pid: int | None = None

    def submit(self, delivery_pk: int) -> None:
        if not settings.WEBHOOK_ENQUEUE_IN_BACKGROUND:
            deliveries_publish(delivery_pks=[delivery_pk])
            return
        self._ensure_thread()
        self._pending.put(delivery_pk)

    def flush(self) -> None:
        """Publish whatever is waiting, in this thread (at process exit)."""
        while batch := self._take(block=False):
            deliveries_publish(delivery_pks=batch)

    def _ensure_thread(self) -> None:
        # A forked child inherits the queue but not the thread: start one per process.
        if self._owner_pid == os.getpid():
            return
        with self._lock:
            if self._owner_pid != os.getpid():
                self._pending = queue.SimpleQueue()
                threading.Thread(target=self._run, name="delivery-publisher", daemon=True).start()
                self._owner_pid = os.getpid()

    def _take(self, *, block: bool) -> list[int]:
        """The next delivery ids: the first (waiting for it if `block`), then all that are
        already queued, up to WEBHOOK_ENQUEUE_BATCH_SIZE."""
        try:
            batch = [self._pending.get(block=block)]
        except queue.Empty:
            return []
        while len(batch) < settings.WEBHOOK_ENQUEUE_BATCH_SIZE:
            try:
                batch.append(self._pending.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take(block=True)
            try:
                deliveries_publish(delivery_pks=batch)
            except Exception:  # the thread must outlive any failure; the relay has the rows
                logger.exception("publishing deliveries failed", extra={"delivery_pks": batch})
            finally:
                connection.close()


publisher = DeliveryPublisher()
atexit.register(publisher.flush)
