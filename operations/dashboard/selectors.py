"""What the operators' dashboard shows, read in a fixed number of queries over bounded windows
(24 hours, 7 days, 30 days): each window of deliveries, runs and steps is an indexed range, so the
cost follows what happened in the window, not the size of the tables (installations are few)."""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from math import ceil, floor
from typing import Any

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, TruncDate, TruncHour
from django.utils import timezone

from github_app.api.installation_client import installation_rate_limits
from github_app.models import Installation, WebhookDelivery
from workflows.models import Conclusion, StepRun, WorkflowRun

logger = logging.getLogger(__name__)

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
HOURS_CHARTED = 24
DAYS_CHARTED = 7
INSTALL_DAYS_CHARTED = 30
FAILURE_RATE_THRESHOLD = 0.05
DELIVERY_STATUSES = [status.value for status in WebhookDelivery.Status]
DELIVERY_FINISHED = [WebhookDelivery.Status.PROCESSED, WebhookDelivery.Status.IGNORED, WebhookDelivery.Status.FAILED]
RUN_CONCLUSIONS = [conclusion.value for conclusion in Conclusion]
RUN_FAILED = [Conclusion.FAILURE, Conclusion.TIMED_OUT]
# Percentiles come from the latest finished runs only, so that a busy week costs no more to read.
DURATION_SAMPLE_MAX = 5000
# Rate limits live in the cache, one read per installation: only this many active installations
# (the most recently updated) are looked up.
HEADROOM_CANDIDATES_MAX = 200
# Token counts are whatever the LLM provider reported; only whole numbers are summed, so that one
# odd answer cannot make the cast fail and the whole page with it.
WHOLE_NUMBER = r"^[0-9]+$"


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _days_ending_today(*, now: datetime, count: int) -> list[date]:
    today = timezone.localdate(now)
    return [today - timedelta(days=offset) for offset in range(count - 1, -1, -1)]


# Installations


@dataclass(frozen=True)
class InstallationChanges:
    day: date
    installs: int
    uninstalls: int


@dataclass(frozen=True)
class InstallationSummary:
    active: int
    suspended: int
    deleted: int
    per_day: list[InstallationChanges]


def _count_per_day(queryset: QuerySet, timestamp: str) -> dict[date, int]:
    rows = queryset.order_by().annotate(day=TruncDate(timestamp)).values("day").annotate(count=Count("pk"))
    return {row["day"]: row["count"] for row in rows}


def installation_summary_get(*, now: datetime) -> InstallationSummary:
    """Installations by state, and installs (created_at) and uninstalls (deleted_at) per day over
    the last INSTALL_DAYS_CHARTED days."""
    counts = Installation.objects.aggregate(
        active=Count("pk", filter=Q(deleted_at__isnull=True, suspended_at__isnull=True)),
        suspended=Count("pk", filter=Q(deleted_at__isnull=True, suspended_at__isnull=False)),
        deleted=Count("pk", filter=Q(deleted_at__isnull=False)),
    )
    days = _days_ending_today(now=now, count=INSTALL_DAYS_CHARTED)
    since = _day_start(days[0])
    installs = _count_per_day(Installation.objects.filter(created_at__gte=since), "created_at")
    uninstalls = _count_per_day(Installation.objects.filter(deleted_at__gte=since), "deleted_at")
    return InstallationSummary(
        **counts,
        per_day=[InstallationChanges(day, installs.get(day, 0), uninstalls.get(day, 0)) for day in days],
    )


@dataclass(frozen=True)
class InstallationHeadroom:
    installation_id: int
    account_login: str
    remaining: int | None
    limit: int | None
    resets_at: datetime | None

    @property
    def fraction_left(self) -> float | None:
        return self.remaining / self.limit if self.remaining is not None and self.limit else None


def _headroom(installation_id: int, account_login: str, seen: dict | None) -> InstallationHeadroom:
    if not seen:
        return InstallationHeadroom(installation_id, account_login, None, None, None)
    reset = seen.get("reset")
    return InstallationHeadroom(
        installation_id,
        account_login,
        seen.get("remaining"),
        seen.get("limit"),
        datetime.fromtimestamp(reset, tz=UTC) if isinstance(reset, int | float) else None,
    )


def installation_headroom_list(*, limit: int = 50) -> list[InstallationHeadroom] | None:
    """GitHub's rate-limit headroom of active installations as last seen, lowest first; those not
    seen within the cache's memory come last. None when the cache cannot be read."""
    candidates = list(
        Installation.objects.filter(deleted_at__isnull=True, suspended_at__isnull=True)
        .order_by("-updated_at")
        .values_list("installation_id", "account_login")[:HEADROOM_CANDIDATES_MAX]
    )
    try:
        seen = installation_rate_limits([installation_id for installation_id, _ in candidates])
    except Exception:  # the cache is down: operators open this page when things fail, it must still show the rest
        logger.warning("Rate limits could not be read from the cache.", exc_info=True)
        return None
    headrooms = [_headroom(installation_id, login, seen.get(installation_id)) for installation_id, login in candidates]
    headrooms.sort(key=lambda headroom: (headroom.fraction_left is None, headroom.fraction_left or 0))
    return headrooms[:limit]


# Webhook deliveries


@dataclass(frozen=True)
class EventCounts:
    event: str
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class DeliveryWindow:
    """Deliveries received within one window, by event and status."""

    by_event: list[EventCounts]
    by_status: dict[str, int]
    threshold: float = FAILURE_RATE_THRESHOLD

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def finished(self) -> int:
        return sum(self.by_status[status] for status in DELIVERY_FINISHED)

    @property
    def failure_rate(self) -> float | None:
        """Failed among the finished: those still waiting have not failed yet."""
        return self.by_status[WebhookDelivery.Status.FAILED] / self.finished if self.finished else None

    @property
    def failure_percent(self) -> float | None:
        return None if self.failure_rate is None else 100 * self.failure_rate

    @property
    def threshold_percent(self) -> float:
        return 100 * self.threshold

    @property
    def over_threshold(self) -> bool:
        return self.failure_rate is not None and self.failure_rate > self.threshold


@dataclass(frozen=True)
class StatusBucket:
    """Deliveries received in one hour or one day, by status."""

    start: datetime
    by_status: dict[str, int]


@dataclass(frozen=True)
class DeliverySummary:
    last_24h: DeliveryWindow
    last_7d: DeliveryWindow
    per_hour: list[StatusBucket]
    per_day: list[StatusBucket]


def _zero_statuses() -> dict[str, int]:
    return dict.fromkeys(DELIVERY_STATUSES, 0)


def _delivery_window(rows: Iterable[Mapping[str, Any]], key: str) -> DeliveryWindow:
    by_event: dict[str, dict[str, int]] = defaultdict(_zero_statuses)
    by_status = _zero_statuses()
    for row in rows:
        if row[key]:
            by_event[row["event"]][row["status"]] += row[key]
            by_status[row["status"]] += row[key]
    events = [EventCounts(event, counts) for event, counts in by_event.items()]
    return DeliveryWindow(by_event=sorted(events, key=lambda counts: -counts.total), by_status=by_status)


def _status_buckets(
    hourly: Iterable[Mapping[str, Any]], starts: list[datetime], start_of: Callable
) -> list[StatusBucket]:
    buckets = {start: StatusBucket(start, _zero_statuses()) for start in starts}
    for row in hourly:
        bucket = buckets.get(start_of(row["hour"]))
        if bucket:
            bucket.by_status[row["status"]] += row["count"]
    return list(buckets.values())


def _hour_itself(hour: datetime) -> datetime:
    return hour


def _day_of(hour: datetime) -> datetime:
    return _day_start(timezone.localdate(hour))


def delivery_summary_get(*, now: datetime) -> DeliverySummary:
    """Deliveries by event and status over the last 24 hours and 7 days (rolling), and by status
    per hour over the last HOURS_CHARTED hours and per day over the last DAYS_CHARTED days."""
    counts = list(
        WebhookDelivery.objects.filter(received_at__gte=now - WEEK)
        .order_by()
        .values("event", "status")
        .annotate(week=Count("received_at"), day=Count("received_at", filter=Q(received_at__gte=now - DAY)))
    )
    days = [_day_start(day) for day in _days_ending_today(now=now, count=DAYS_CHARTED)]
    hourly = list(
        WebhookDelivery.objects.filter(received_at__gte=days[0])
        .order_by()
        .annotate(hour=TruncHour("received_at"))
        .values("hour", "status")
        .annotate(count=Count("*"))
    )
    this_hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    hours = [this_hour - timedelta(hours=offset) for offset in range(HOURS_CHARTED - 1, -1, -1)]
    return DeliverySummary(
        last_24h=_delivery_window(counts, "day"),
        last_7d=_delivery_window(counts, "week"),
        per_hour=_status_buckets(hourly, hours, _hour_itself),
        per_day=_status_buckets(hourly, days, _day_of),
    )


def delivery_failure_list(*, limit: int = 20) -> list[WebhookDelivery]:
    """The latest failed deliveries, without their payloads."""
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED)
        .order_by("-received_at")
        .only("delivery_id", "event", "action", "repository_full_name", "attempts", "last_error", "received_at")[:limit]
    )


# Workflow runs


@dataclass(frozen=True)
class RunWindow:
    """Runs finished within one window: how they concluded and how long they took."""

    by_conclusion: dict[str, int]
    p50_seconds: float | None
    p95_seconds: float | None
    durations_sampled: bool

    @property
    def total(self) -> int:
        return sum(self.by_conclusion.values())


@dataclass(frozen=True)
class RunSummary:
    last_24h: RunWindow
    last_7d: RunWindow


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    lower, upper = ordered[floor(position)], ordered[ceil(position)]
    return lower + (upper - lower) * (position - floor(position))


def _run_window(counts: Iterable[Mapping[str, Any]], key: str, durations: list[float], *, sampled: bool) -> RunWindow:
    by_conclusion = dict.fromkeys(RUN_CONCLUSIONS, 0) | {row["conclusion"]: row[key] for row in counts if row[key]}
    ordered = sorted(durations)
    return RunWindow(by_conclusion, _percentile(ordered, 0.5), _percentile(ordered, 0.95), sampled)


def run_summary_get(*, now: datetime) -> RunSummary:
    """Runs finished over the last 24 hours and 7 days by conclusion, with the median and 95th
    percentile of their durations (over the latest DURATION_SAMPLE_MAX of them at most)."""
    finished = WorkflowRun.objects.filter(finished_at__gte=now - WEEK, conclusion__isnull=False).order_by()
    counts = list(
        finished.values("conclusion").annotate(week=Count("pk"), day=Count("pk", filter=Q(finished_at__gte=now - DAY)))
    )
    timed = list(
        finished.filter(started_at__isnull=False)
        .annotate(
            # Computed by the database: parsing two timestamps per run costs more than the query.
            duration=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()),
            within_day=ExpressionWrapper(Q(finished_at__gte=now - DAY), output_field=BooleanField()),
        )
        .order_by("-finished_at")
        .values_list("duration", "within_day")[:DURATION_SAMPLE_MAX]
    )
    sampled = len(timed) == DURATION_SAMPLE_MAX
    week = [duration.total_seconds() for duration, _ in timed]
    day = [duration.total_seconds() for duration, within_day in timed if within_day]
    return RunSummary(
        last_24h=_run_window(counts, "day", day, sampled=sampled and len(day) == len(week)),
        last_7d=_run_window(counts, "week", week, sampled=sampled),
    )


def run_failure_list(*, limit: int = 20) -> list[WorkflowRun]:
    """The latest runs that concluded in failure or timed out, with their workflow's name."""
    return list(
        WorkflowRun.objects.filter(conclusion__in=RUN_FAILED, finished_at__isnull=False)
        .order_by("-finished_at")
        .select_related("workflow")
        .only("conclusion", "error", "repository", "finished_at", "workflow__name")[:limit]
    )


# LLM tokens


@dataclass(frozen=True)
class TokenUsage:
    day: date
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class TokenUsagePerDay:
    days: list[date]
    rows: list[TokenUsage] = field(default_factory=list)

    def totals(self, kind: str) -> list[int]:
        """`kind` tokens of every model, per day of `days`."""
        per_day: dict[date, int] = defaultdict(int)
        for row in self.rows:
            per_day[row.day] += getattr(row, kind)
        return [per_day[day] for day in self.days]


def _tokens_sum(key: str) -> Sum:
    lookup = f"output__usage__{key}"
    counted = When(**{f"{lookup}__regex": WHOLE_NUMBER}, then=Cast(KT(lookup), BigIntegerField()))
    return Sum(Case(counted, default=Value(0), output_field=BigIntegerField()))


def llm_usage_per_day_list(*, now: datetime) -> TokenUsagePerDay:
    """Tokens of ai.prompt steps (the provider's `usage`) per day and model over the last
    DAYS_CHARTED days, summed in the database."""
    days = _days_ending_today(now=now, count=DAYS_CHARTED)
    rows = (
        StepRun.objects.filter(node_type="ai.prompt", finished_at__gte=_day_start(days[0]))
        .order_by()
        .annotate(day=TruncDate("finished_at"), model=KT("output__model"))
        .values("day", "model")
        .annotate(
            calls=Count("pk"),
            prompt_tokens=_tokens_sum("prompt_tokens"),
            completion_tokens=_tokens_sum("completion_tokens"),
            total_tokens=_tokens_sum("total_tokens"),
        )
        .order_by("day", "model")
    )
    return TokenUsagePerDay(
        days=days,
        rows=[
            TokenUsage(
                day=row["day"],
                model=row["model"] or "unknown",
                calls=row["calls"],
                prompt_tokens=row["prompt_tokens"],
                completion_tokens=row["completion_tokens"],
                total_tokens=row["total_tokens"],
            )
            for row in rows
        ],
    )
