"""A delivery's life: stored at intake, handed to the broker, claimed by exactly one worker,
processed, retried with backoff by the relay, failed visibly after WEBHOOK_MAX_ATTEMPTS,
replayable on demand."""

import functools
import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper
from django.db.models import F, Q
from django.utils import timezone

from aiworkflow import logcontext, metrics
from aiworkflow.backoff import backoff_seconds
from aiworkflow.errors import ApplicationError
from github_app.api.installation_client import GitHubRetryLater
from github_app.models import WebhookDelivery
from github_app.webhooks import events
from github_app.webhooks.payloads import PayloadSummary
from github_app.webhooks.publisher import deliveries_publish, publisher
from github_app.webhooks.signals import workflow_event_send

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status


class DeliveryNotReplayable(ApplicationError):
    status_code = 409
    default_message = "This delivery cannot be replayed now."


def delivery_receive(
    *, delivery_id: str, event: str, hook_id: int | None, summary: PayloadSummary, payload: bytes
) -> int | None:
    """Store a verified delivery and hand it to the publisher; returns the new row's id, or None
    for a delivery id already stored.

    One statement, `INSERT ... ON CONFLICT DO NOTHING RETURNING`: the row is durable when it
    returns (autocommit), a duplicate is no error, and nothing else sits between GitHub and its
    answer. The ORM has no single-row form of it.
    """
    db = connections[DEFAULT_DB_ALIAS]  # looked up once: every `connection.x` looks it up again
    now = db.ops.adapt_datetimefield_value(timezone.now())
    ignored = events.is_ignored(event, summary.action)
    columns = {
        "delivery_id": delivery_id,
        "event": event,
        "action": summary.action,
        "hook_id": hook_id,
        "installation_id": summary.installation_id,
        "repository_id": summary.repository_id,
        "repository_full_name": summary.repository_full_name,
        "sender_login": summary.sender_login,
        "sender_type": summary.sender_type,
        "payload": payload,
        "status": Status.IGNORED if ignored else Status.RECEIVED,
        "attempts": 0,
        "last_error": "",
        "runs_started": 0,
        "received_at": now,
        "processed_at": now if ignored else None,
    }
    row = _execute_on_live_connection(db, _insert_statement(tuple(columns)), list(columns.values()))
    if row is None:
        return None
    metrics.WEBHOOK_RECEIVED.labels(event=event).inc()
    if ignored:
        metrics.WEBHOOK_PROCESSED.labels(event=event, status=Status.IGNORED).inc()
    else:
        # robust: whatever goes wrong handing it over, the answer stays 202 and the row is kept.
        db.on_commit(lambda: publisher.submit(row[0]), robust=True)
    return row[0]


@functools.cache
def _insert_statement(names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    table = quote(WebhookDelivery._meta.db_table)
    placeholders = ", ".join(["%s"] * len(names))
    columns = ", ".join(map(quote, names))
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT (delivery_id) DO NOTHING RETURNING id"


def _execute_on_live_connection(db: BaseDatabaseWrapper, sql: str, params: list) -> tuple | None:
    """Run one statement, reconnecting once if the database dropped our persistent connection.

    Connections are not health-checked before each request (a round trip per request); a
    delivery GitHub sends after a database restart must still be stored, not answered 5xx.
    """
    try:
        return _fetch_one(db, sql, params)
    except (InterfaceError, OperationalError):
        if db.in_atomic_block:
            raise
        db.close()
        return _fetch_one(db, sql, params)


def _fetch_one(db: BaseDatabaseWrapper, sql: str, params: list) -> tuple | None:
    with _insert_cursor(db) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _insert_cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    """On PostgreSQL, a cursor that sends the payload as a parameter of a statement prepared once
    per connection. Django's own cursors bind on the client, which writes the payload (up to 25
    MiB) into the SQL text, for the server to parse and plan again at every delivery."""
    if db.vendor != "postgresql":
        return db.cursor()
    db.ensure_connection()
    # django-stubs describe psycopg's cursor and Django's wrapper around it as one class.
    cursor: Any = _PreparedCursor(db.connection)  # type: ignore[call-arg]
    return db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)


class _PreparedCursor(ServerBindingCursor):
    # Django turns psycopg's automatic preparing off for every statement, to keep connection
    # poolers working; this one statement is prepared at its first run on each connection.
    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def delivery_claim(*, delivery_pk: int) -> WebhookDelivery | None:
    """Take a delivery for processing with one conditional UPDATE: of any number of workers
    holding a message for it, exactly one gets it. A claim older than
    WEBHOOK_PROCESSING_STALE_SECONDS belonged to a worker that died and may be taken over."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_PROCESSING_STALE_SECONDS)
    claimable = Q(status__in=[Status.RECEIVED, Status.QUEUED]) | Q(status=Status.PROCESSING, claimed_at__lt=stale)
    claimed = WebhookDelivery.objects.filter(claimable, pk=delivery_pk).update(
        status=Status.PROCESSING, claimed_at=now, attempts=F("attempts") + 1
    )
    return WebhookDelivery.objects.get(pk=delivery_pk) if claimed else None


def _attempt_failed(delivery: WebhookDelivery, error: Exception) -> None:
    """Record a failed attempt; the next waits out the backoff, or GitHub's rate limit if longer."""
    gave_up = delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    seconds = backoff_seconds(
        attempt=delivery.attempts, base=settings.WEBHOOK_RETRY_BASE_SECONDS, cap=settings.WEBHOOK_RETRY_MAX_SECONDS
    )
    if isinstance(error, GitHubRetryLater):
        seconds = max(seconds, error.retry_after)
    delay = timedelta(seconds=seconds)
    metrics.WEBHOOK_FAILED.inc()
    if gave_up:
        _finished(delivery, Status.FAILED)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.FAILED if gave_up else Status.RECEIVED,
        next_attempt_at=None if gave_up else timezone.now() + delay,
        last_error=f"{type(error).__name__}: {error}"[:2000],
    )


def _finished(delivery: WebhookDelivery, status: str) -> None:
    metrics.WEBHOOK_PROCESSED.labels(event=delivery.event, status=status).inc()
    if status != Status.FAILED:
        metrics.WEBHOOK_PROCESSING_LAG_SECONDS.observe((timezone.now() - delivery.received_at).total_seconds())


def _apply(delivery: WebhookDelivery) -> tuple[str, int]:
    """Run the event's handling; returns the final status and the number of runs started."""
    if events.is_ignored(delivery.event, delivery.action):
        return Status.IGNORED, 0
    handler = events.lifecycle_handler(delivery.event, delivery.action)
    dispatched = delivery.event in events.WORKFLOW_EVENTS
    if handler is None and not dispatched:
        logger.info("unknown event ignored", extra={"delivery_id": delivery.delivery_id, "event": delivery.event})
        return Status.IGNORED, 0
    payload = json.loads(bytes(delivery.payload))
    if handler is not None:
        if events.lifecycle_is_stale(delivery.event, delivery.action, payload, delivery.received_at):
            logger.info("stale lifecycle event not applied", extra={"delivery_id": delivery.delivery_id})
            return Status.IGNORED, 0
        handler(payload, delivery.received_at)
        if delivery.event == "installation":  # installs and uninstalls, for the uninstall-spike alert
            metrics.INSTALLATION_EVENTS.labels(action=delivery.action).inc()
    runs = workflow_event_send(delivery=delivery, payload=payload) if dispatched else 0
    return Status.PROCESSED, runs


def delivery_process(*, delivery_pk: int) -> WebhookDelivery | None:
    """Claim and process one delivery. A failure is recorded on the row, for the relay to retry
    with backoff, rather than raised: the row, not the broker, holds the delivery's fate."""
    delivery = delivery_claim(delivery_pk=delivery_pk)
    if delivery is None:
        return None
    logcontext.bind(delivery_id=delivery.delivery_id, installation_id=delivery.installation_id)
    try:
        status, runs = _apply(delivery)
    except Exception as exc:  # any failure of a handler is one failed attempt
        logger.exception("delivery processing failed", extra={"delivery_id": delivery.delivery_id})
        _attempt_failed(delivery, exc)
        return delivery
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status, runs_started=runs, processed_at=timezone.now(), next_attempt_at=None, last_error=""
    )
    _finished(delivery, status)
    return delivery


def deliveries_claim_due(*, limit: int = 500) -> list[int]:
    """Mark `queued` the deliveries that need a (new) message and return their ids: those left
    `received` past the publisher's grace (the process holding them died) or whose retry is
    due, `queued` too long (message lost) and `processing` too long (worker died). Rows other
    relays hold are skipped, not waited for."""
    now = timezone.now()
    grace = timedelta(seconds=settings.WEBHOOK_ENQUEUE_GRACE_SECONDS)
    due = (
        Q(status=Status.RECEIVED, next_attempt_at__isnull=True, received_at__lt=now - grace)
        | Q(status=Status.RECEIVED, next_attempt_at__lte=now)
        | Q(status=Status.QUEUED, enqueued_at__lt=now - timedelta(seconds=settings.WEBHOOK_QUEUED_STALE_SECONDS))
        | Q(status=Status.PROCESSING, claimed_at__lt=now - timedelta(seconds=settings.WEBHOOK_PROCESSING_STALE_SECONDS))
    )
    with transaction.atomic():
        rows = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("received_at")
            .values_list("pk", "status", "attempts", "event")[:limit]
        )
        lost = {
            pk: event
            for pk, status, attempts, event in rows
            if status == Status.PROCESSING and attempts >= settings.WEBHOOK_MAX_ATTEMPTS
        }
        WebhookDelivery.objects.filter(pk__in=lost).update(
            status=Status.FAILED, last_error="The worker processing this delivery was lost on every attempt."
        )
        for event in lost.values():
            metrics.WEBHOOK_PROCESSED.labels(event=event, status=Status.FAILED).inc()
        pks = [pk for pk, *_ in rows if pk not in lost]
        WebhookDelivery.objects.filter(pk__in=pks).update(status=Status.QUEUED, enqueued_at=now)
    return pks


def deliveries_relay(*, limit: int = 500) -> int:
    """Enqueue every due delivery; returns how many were handed to the broker."""
    pks = deliveries_claim_due(limit=limit)
    batch = settings.WEBHOOK_ENQUEUE_BATCH_SIZE
    batches = [pks[start : start + batch] for start in range(0, len(pks), batch)]
    return sum(len(part) for part in batches if deliveries_publish(delivery_pks=part))


def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Run a stored delivery's processing again, whatever its outcome was."""
    if delivery.payload_purged_at is not None:
        raise DeliveryNotReplayable("The payload of this delivery has been purged; it cannot be replayed.")
    stale = timezone.now() - timedelta(seconds=settings.WEBHOOK_PROCESSING_STALE_SECONDS)
    with transaction.atomic():
        reset = WebhookDelivery.objects.filter(
            ~Q(status=Status.PROCESSING) | Q(claimed_at__lt=stale), pk=delivery.pk
        ).update(status=Status.QUEUED, enqueued_at=timezone.now(), attempts=0, next_attempt_at=None, last_error="")
        if not reset:
            raise DeliveryNotReplayable("This delivery is being processed right now.")
        transaction.on_commit(lambda: deliveries_publish(delivery_pks=[delivery.pk]), robust=True)
    delivery.refresh_from_db()
    return delivery


def delivery_payloads_purge() -> int:
    """Empty the payloads of finished deliveries older than WEBHOOK_PAYLOAD_RETENTION_DAYS."""
    horizon = timezone.now() - timedelta(days=settings.WEBHOOK_PAYLOAD_RETENTION_DAYS)
    return WebhookDelivery.objects.filter(
        received_at__lt=horizon,
        status__in=[Status.PROCESSED, Status.IGNORED, Status.FAILED],
        payload_purged_at__isnull=True,
    ).update(payload=b"", payload_purged_at=timezone.now())
