"""`GET /metrics`: Prometheus' text format, merged from every process of the host.

Counters and histograms come from the processes' files (aiworkflow/metrics.py); figures the
database holds are read at scrape time, so they are right whichever process answers and however
many restarted since: active installations, backlogs, beat's heartbeat, the database's own health.
"""

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aiworkflow import metrics
from aiworkflow.api import error_body
from aiworkflow.beat import beat_heartbeat_age
from github_app.models import Installation
from operations.backlogs import Backlog, backlogs_read


def _gauge(name: str, documentation: str, value: float, **labels: str) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=list(labels))
    gauge.add_metric(list(labels.values()), value)
    return gauge


def _backlog_gauges(prefix: str, noun: str, backlog: Backlog) -> Iterator[Metric]:
    sizes = GaugeMetricFamily(f"{prefix}_backlog", f"{noun} not yet finished, by status.", labels=["status"])
    for status, size in backlog.by_status.items():
        sizes.add_metric([status], size)
    yield sizes
    age = backlog.oldest_age_seconds or 0.0
    yield _gauge(f"{prefix}_backlog_oldest_age_seconds", f"Age of the oldest {noun.lower()} not yet finished.", age)


class ProcessFiles(multiprocess.MultiProcessCollector):
    """The processes' samples, read while no compaction moves them between files."""

    def __init__(self) -> None:
        super().__init__(registry=None)

    def collect(self) -> Iterator[Metric]:
        with metrics.files_locked(shared=True):
            return iter(list(super().collect()))


class DatabaseFigures(Collector):
    def collect(self) -> Iterator[Metric]:
        try:
            figures = list(self._figures())
        except Exception:  # reported as a figure of its own: the database alert reads it
            figures = []
        yield _gauge("aiworkflow_database_up", "Whether the database answered this scrape.", 1 if figures else 0)
        yield from figures
        yield from self._beat()

    def _figures(self) -> Iterator[Metric]:
        active = Installation.objects.filter(deleted_at__isnull=True, suspended_at__isnull=True).count()
        yield _gauge("github_installations_active", "Installations neither suspended nor deleted.", active)
        backlogs = backlogs_read()
        yield from _backlog_gauges("github_webhook", "Deliveries", backlogs.deliveries)
        yield from _backlog_gauges("workflow_run", "Runs", backlogs.runs)

    def _beat(self) -> Iterator[Metric]:
        try:
            age = beat_heartbeat_age()
        except Exception:  # the cache is down: no figure rather than a wrong one
            return
        if age is not None:
            yield _gauge("celery_beat_heartbeat_age_seconds", "Seconds since beat's last heartbeat.", age)


def _authorized(request: HttpRequest) -> bool:
    expected = settings.METRICS_BEARER_TOKEN
    if not expected:
        return True
    presented = request.META.get("HTTP_AUTHORIZATION", "")
    return hmac.compare_digest(presented.encode(), f"Bearer {expected}".encode())


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = JsonResponse(error_body("A valid bearer token is required."), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry()
    registry.register(ProcessFiles())
    registry.register(DatabaseFigures())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
