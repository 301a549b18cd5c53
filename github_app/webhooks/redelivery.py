"""Recovery of deliveries GitHub failed to send: GitHub never redelivers one by itself.

A pass reads the App's delivery log at GitHub, newest first, down to where the last complete pass
began (the first pass: WEBHOOK_REDELIVER_LOOKBACK_HOURS back). For each delivery GUID its latest
attempt decides: GitHub is asked to send it again only if that attempt failed, we never stored
the delivery, and we never asked for it before.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from aiworkflow import metrics
from aiworkflow.errors import ApplicationError
from github_app.api import app_client
from github_app.errors import GitHubBadGateway, GitHubUnavailable
from github_app.models import DeliveryLogPosition, RedeliveryRequest, WebhookDelivery

logger = logging.getLogger(__name__)

# 100 entries a page: a pass reads at most 1,000 log entries; one cut short by this bound goes
# on from there next time.
MAX_PAGES_PER_PASS = 10
POSITION_PK = 1


@dataclass(frozen=True)
class LogEntry:
    """One attempt in GitHub's delivery log; a delivery GUID has one per attempt."""

    id: int
    guid: str
    delivered_at: datetime
    status: str
    status_code: int
    event: str
    action: str
    installation_id: int | None

    @classmethod
    def from_github(cls, item: dict) -> "LogEntry":
        return cls(
            id=item["id"],
            guid=item["guid"],
            delivered_at=datetime.fromisoformat(item["delivered_at"]),
            status=item.get("status") or "",
            status_code=item.get("status_code") or 0,
            event=item.get("event") or "",
            action=item.get("action") or "",
            installation_id=item.get("installation_id"),
        )

    @property
    def failed(self) -> bool:
        return not 200 <= self.status_code < 300


@dataclass
class RedeliveryPass:
    """What one pass read and did; `stopped_by` is the GitHub failure that cut it short."""

    dry_run: bool = False
    entries_read: int = 0
    requested: list[LogEntry] = field(default_factory=list)
    refused: list[tuple[LogEntry, int]] = field(default_factory=list)
    skipped_stored: int = 0
    skipped_asked_before: int = 0
    complete: bool = False
    stopped_by: ApplicationError | None = None


@dataclass(frozen=True)
class _PassBounds:
    """Where a pass ends: at the newest entry a complete pass covered, or, before any pass
    completed, at the lookback horizon."""

    covered_through_id: int | None
    horizon: datetime

    def reached(self, entry: LogEntry) -> bool:
        if self.covered_through_id is not None:
            return entry.id <= self.covered_through_id
        return entry.delivered_at < self.horizon


def deliveries_redeliver_missed(*, lookback_hours: int | None = None, dry_run: bool = False) -> RedeliveryPass:
    """One pass over the App's delivery log. A GitHub failure or rate limit ends the pass where
    it was (reported in `stopped_by`, not raised): the next pass goes on from the first page this
    one did not finish. A dry run asks GitHub nothing, records no request and leaves the position
    where it was. Without an App configured, GitHubAppNotConfigured is raised."""
    position, _ = DeliveryLogPosition.objects.get_or_create(pk=POSITION_PK)
    hours = settings.WEBHOOK_REDELIVER_LOOKBACK_HOURS if lookback_hours is None else lookback_hours
    bounds = _PassBounds(position.newest_entry_id, timezone.now() - timedelta(hours=hours))
    result = RedeliveryPass(dry_run=dry_run)
    try:
        _pass_run(position, bounds, result)
    except (GitHubUnavailable, GitHubBadGateway) as exc:
        logger.warning("redelivery pass stopped", extra={"reason": exc.message})
        result.stopped_by = exc
    return result


def _pass_run(position: DeliveryLogPosition, bounds: _PassBounds, result: RedeliveryPass) -> None:
    resuming = bool(position.resume_cursor)
    cursor = position.resume_cursor or None
    top: tuple[int, datetime] | None = None
    if resuming and position.pass_newest_entry_id is not None and position.pass_newest_delivered_at is not None:
        top = (position.pass_newest_entry_id, position.pass_newest_delivered_at)
    seen: set[str] = set()
    for _ in range(MAX_PAGES_PER_PASS):
        items, next_cursor = app_client.app_hook_deliveries_page(cursor=cursor)
        entries = [LogEntry.from_github(item) for item in items]
        if top is None and entries:
            top = (entries[0].id, entries[0].delivered_at)
        within = _entries_within(entries, bounds)
        _entries_handle(within, seen=seen, result=result)
        if len(within) < len(entries) or next_cursor is None:
            result.complete = True
            if top is not None and not result.dry_run:
                _position_complete(top)
            return
        cursor = next_cursor
        if top is not None and not result.dry_run:
            _position_progress(top, resume_cursor=cursor)


def _entries_within(entries: list[LogEntry], bounds: _PassBounds) -> list[LogEntry]:
    """The leading entries of a page that this pass covers (the log is newest first)."""
    for index, entry in enumerate(entries):
        if bounds.reached(entry):
            return entries[:index]
    return entries


def _entries_handle(entries: list[LogEntry], *, seen: set[str], result: RedeliveryPass) -> None:
    guids = {entry.guid for entry in entries}
    stored = set(WebhookDelivery.objects.filter(delivery_id__in=guids).values_list("delivery_id", flat=True))
    asked = set(RedeliveryRequest.objects.filter(delivery_id__in=guids).values_list("delivery_id", flat=True))
    for entry in entries:
        result.entries_read += 1
        if entry.guid in seen:  # an older attempt: the newest, met first, decides
            continue
        seen.add(entry.guid)
        if not entry.failed:
            continue
        if entry.guid in stored:  # GitHub may log a timeout for a delivery we stored in time
            result.skipped_stored += 1
        elif entry.guid in asked:
            result.skipped_asked_before += 1
        elif result.dry_run:
            result.requested.append(entry)
        else:
            _redelivery_ask(entry, result)


def _redelivery_ask(entry: LogEntry, result: RedeliveryPass) -> None:
    """Record the request and ask GitHub in one transaction: an ask that fails leaves no record,
    so the next pass asks again; of two passes asking at once, only the first to record asks. A
    refusal is kept, so that it is not asked again (GitHub would refuse again), and the pass
    goes on."""
    try:
        with transaction.atomic():
            request = RedeliveryRequest.objects.create(
                delivery_id=entry.guid,
                log_entry_id=entry.id,
                event=entry.event,
                action=entry.action,
                installation_id=entry.installation_id,
                failed_status=entry.status[:255],
                failed_status_code=entry.status_code,
                failed_at=entry.delivered_at,
            )
            refused_with = _github_refusal(entry)
            if refused_with is not None:
                RedeliveryRequest.objects.filter(pk=request.pk).update(refused_with=refused_with)
    except IntegrityError:
        result.skipped_asked_before += 1
        return
    if refused_with is None:
        logger.info("redelivery requested", extra={"delivery_id": entry.guid, "event": entry.event})
        result.requested.append(entry)
        metrics.REDELIVERIES_REQUESTED.inc()
    else:
        logger.warning("redelivery refused", extra={"delivery_id": entry.guid, "github_status": refused_with})
        result.refused.append((entry, refused_with))


def _github_refusal(entry: LogEntry) -> int | None:
    """Ask GitHub to send the entry's delivery again: None when it accepted, else its refusal."""
    try:
        app_client.app_hook_delivery_redeliver(log_entry_id=entry.id)
    except app_client.RedeliveryRefused as exc:
        return exc.detail["github_status"]
    return None


def _position_progress(top: tuple[int, datetime], *, resume_cursor: str) -> None:
    newest_entry_id, newest_delivered_at = top
    DeliveryLogPosition.objects.filter(pk=POSITION_PK).update(
        pass_newest_entry_id=newest_entry_id, pass_newest_delivered_at=newest_delivered_at, resume_cursor=resume_cursor
    )


def _position_complete(top: tuple[int, datetime]) -> None:
    """The pass covered everything up to `top`; the position only moves forward, whichever of
    two overlapping passes completes last."""
    newest_entry_id, newest_delivered_at = top
    DeliveryLogPosition.objects.filter(pk=POSITION_PK).update(
        pass_newest_entry_id=None, pass_newest_delivered_at=None, resume_cursor=""
    )
    DeliveryLogPosition.objects.filter(
        Q(newest_entry_id__isnull=True) | Q(newest_entry_id__lt=newest_entry_id), pk=POSITION_PK
    ).update(newest_entry_id=newest_entry_id, newest_delivered_at=newest_delivered_at)
