"""The service's Prometheus metrics, in prometheus-client's multiprocess mode.

Every process (gunicorn workers, Celery pool processes) writes its samples to files under
PROMETHEUS_MULTIPROC_DIR, and `GET /metrics` merges them, so a scrape sees the whole host whichever
worker answers it. Files are named by host and pid, so containers may share one directory.
https://prometheus.github.io/client_python/multiprocess/

Figures that the database already holds (active installations, backlogs) are not counted here but
read when /metrics is scraped (operations/metrics.py).
"""

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator

# The directory must be known before prometheus_client is imported: it picks its value class then.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "metrics")
)
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

import threading  # noqa: E402

from prometheus_client import Counter, Gauge, Histogram, values  # noqa: E402
from prometheus_client.mmap_dict import MmapedDict  # noqa: E402

_HOST = socket.gethostname().replace("_", "-")


def process_identifier() -> str:
    """Host and pid: unique across the containers that may share the metrics directory."""
    return f"{_HOST}-{os.getpid()}"


_MmapedValue = values.MultiProcessValue(process_identifier)
_creation = threading.Lock()


class _ValueWrittenOnFirstUse:
    """prometheus-client's file-backed value, with its file made when the value is first
    changed rather than when the metric is defined: every command and probe that merely
    imports the code (manage.py, a health probe every 30 s) would otherwise leave files of
    zeros behind, for every scrape to read."""

    _multiprocess = True

    def __init__(self, *args, **kwargs) -> None:
        self._args, self._kwargs = args, kwargs
        self._value = None

    def _written(self):
        with _creation:
            if self._value is None:
                self._value = _MmapedValue(*self._args, **self._kwargs)
        return self._value

    def inc(self, amount: float) -> None:
        self._written().inc(amount)

    def set(self, value: float, timestamp: float | None = None) -> None:
        self._written().set(value, timestamp)

    def set_exemplar(self, exemplar) -> None:
        """Exemplars are not kept in multiprocess mode."""

    def get(self) -> float:
        return 0.0 if self._value is None else self._value.get()

    def get_exemplar(self) -> None:
        return None


# Before any metric exists, so that every value is one of these.
values.ValueClass = _ValueWrittenOnFirstUse

WEBHOOK_RECEIVED = Counter("github_webhook_received", "Deliveries accepted and stored.", ["event"])
WEBHOOK_PROCESSED = Counter(
    "github_webhook_processed",
    "Deliveries whose processing ended, by outcome (processed, ignored, failed).",
    ["event", "status"],
)
WEBHOOK_FAILED = Counter("github_webhook_failed", "Processing attempts of a delivery that failed.")
WEBHOOK_INTAKE_SECONDS = Histogram(
    "github_webhook_intake_seconds",
    "Time from a delivery's request to its answer, in the web process.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBHOOK_PROCESSING_LAG_SECONDS = Histogram(
    "github_webhook_processing_lag_seconds",
    "Time from a delivery's arrival to the end of its processing.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600),
)
INSTALLATION_EVENTS = Counter(
    "github_installation_events", "Installation lifecycle events processed, by action.", ["action"]
)
REDELIVERIES_REQUESTED = Counter(
    "github_redeliveries_requested", "Deliveries GitHub was asked to send again after a failed attempt."
)

GITHUB_API_REQUESTS = Counter("github_api_requests", "Requests made to GitHub's API, by answer status.", ["status"])
GITHUB_API_RATE_LIMIT_REMAINING = Gauge(
    "github_api_rate_limit_remaining",
    "Requests left in the current rate-limit window, as GitHub last reported, by installation.",
    ["installation"],
    multiprocess_mode="mostrecent",
)
GITHUB_TOKEN_REFRESHES = Counter("github_token_refresh", "Installation access tokens minted.")

TRIGGERS_EXECUTED = Counter("workflow_triggers_executed", "Trigger matches that started a workflow run.")
RUNS_FINISHED = Counter("workflow_runs", "Workflow runs that ended, by conclusion.", ["conclusion"])
RUN_DURATION_SECONDS = Histogram(
    "workflow_run_duration_seconds",
    "Time from a run's start to its end.",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
LLM_TOKENS = Counter("workflow_llm_tokens", "LLM tokens used by ai.prompt steps, by model and kind.", ["model", "kind"])


def files_locked(*, shared: bool) -> contextlib.AbstractContextManager:
    """The directory's lock: a scrape reads (shared) while no compaction moves samples between
    files (exclusive), or it would count them twice, or not at all."""
    return _flock(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], ".lock"), shared=shared)


@contextlib.contextmanager
def _flock(path: str, *, shared: bool) -> Iterator[None]:
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def dead_processes_compact() -> None:
    """Fold the files of this host's processes that have exited into one archive file per kind,
    and remove them. Totals stay what they were: a sum that fell would read as a counter reset,
    and rate() would see a burst. The files a scrape reads stay few however often workers are
    replaced (gunicorn's and Celery's children, manage.py commands that counted something)."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    with files_locked(shared=False):
        for name in os.listdir(directory):
            kind = _kind_of_dead_process_file(name)
            if kind in _FOLDED:
                _fold(os.path.join(directory, name), os.path.join(directory, f"{kind}_{_HOST}-archive.db"), kind=kind)
            elif kind not in _LIVE_GAUGES:  # not a dead process's file, or a gauge kept per process
                continue
            os.remove(os.path.join(directory, name))


_FOLDED = {"counter", "histogram", "summary", "gauge_mostrecent"}
# A live gauge's samples end with their process.
_LIVE_GAUGES = {"gauge_livesum", "gauge_livemax", "gauge_livemin", "gauge_liveall", "gauge_livemostrecent"}


def _kind_of_dead_process_file(name: str) -> str | None:
    """`counter`, `histogram`, `gauge_mostrecent`... for `<kind>_<this host>-<pid>.db` of a pid
    that no longer runs here; None for any other file."""
    stem, _, pid = name.removesuffix(".db").rpartition("-")
    suffix = f"_{_HOST}"
    if not (stem.endswith(suffix) and pid.isdigit()) or _process_running(int(pid)):
        return None
    return stem.removesuffix(suffix)


def _fold(path: str, archive_path: str, *, kind: str) -> None:
    archive = MmapedDict(archive_path)
    try:
        for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(path):
            kept, kept_at = archive.read_value(key)
            if kind == "gauge_mostrecent":
                if timestamp >= kept_at:
                    archive.write_value(key, value, timestamp)
            else:
                archive.write_value(key, kept + value, 0.0)
    finally:
        archive.close()


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
