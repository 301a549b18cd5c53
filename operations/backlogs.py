"""Work waiting, read from the database (the truth about every delivery and run): what the relays
have yet to finish, and what GitHub was asked to send again. Each figure is one indexed query."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.utils import timezone

from github_app.models import RedeliveryRequest, WebhookDelivery
from workflows.models import Status as RunStatus
from workflows.models import WorkflowRun

DELIVERY_WAITING = [
    WebhookDelivery.Status.RECEIVED,
    WebhookDelivery.Status.QUEUED,
    WebhookDelivery.Status.PROCESSING,
]
RUN_WAITING = [RunStatus.QUEUED, RunStatus.IN_PROGRESS]


@dataclass(frozen=True)
class Backlog:
    """Unfinished work of one kind: how many by status, and how long the oldest has waited."""

    by_status: dict[str, int]
    oldest_age_seconds: float | None

    @property
    def size(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Backlogs:
    deliveries: Backlog
    runs: Backlog
    redeliveries_last_24h: int
    redeliveries_refused_last_24h: int


def _backlog(rows, statuses: Sequence[str], oldest: datetime | None, now: datetime) -> Backlog:
    by_status = {status: 0 for status in statuses} | {row["status"]: row["count"] for row in rows}
    return Backlog(by_status=by_status, oldest_age_seconds=(now - oldest).total_seconds() if oldest else None)


def backlogs_read(*, now: datetime | None = None) -> Backlogs:
    now = now or timezone.now()
    deliveries = WebhookDelivery.objects.filter(status__in=DELIVERY_WAITING)
    runs = WorkflowRun.objects.filter(status__in=RUN_WAITING)
    redeliveries = RedeliveryRequest.objects.filter(requested_at__gte=now - timedelta(hours=24))
    return Backlogs(
        deliveries=_backlog(
            deliveries.order_by().values("status").annotate(count=Count("pk")),
            DELIVERY_WAITING,
            deliveries.aggregate(oldest=Min("received_at"))["oldest"],
            now,
        ),
        runs=_backlog(
            runs.order_by().values("status").annotate(count=Count("pk")),
            RUN_WAITING,
            runs.aggregate(oldest=Min("created_at"))["oldest"],
            now,
        ),
        redeliveries_last_24h=redeliveries.count(),
        redeliveries_refused_last_24h=redeliveries.filter(refused_with__isnull=False).count(),
    )
