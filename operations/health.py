"""Live and ready health, per DESIGN §5 (Operations).

Ready means "can accept work": only the database is required. Webhook intake stores deliveries
without the broker (the relay enqueues them later) and the cache is an optimisation, so both are
reported and not fatal; so is beat, whose death stops the relays but not intake.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from aiworkflow.beat import beat_heartbeat_age
from aiworkflow.broker import broker_connection_error
from github_app.api.app_client import app_identity
from operations.backlogs import backlogs_read

GITHUB_CHECK_KEY = "health-github-app"


class CheckFailed(Exception):
    """A check's own finding, worded for the operator."""


def _outcome(check: Callable[[], dict]) -> dict:
    try:
        return {"ok": True, **check()}
    except CheckFailed as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # any failure is a result to report, not an error to raise; its text may name hosts
        return {"ok": False, "error": type(exc).__name__}


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


def _broker() -> dict:
    error = broker_connection_error()
    if error:
        raise CheckFailed(f"unreachable ({error})")
    return {}


def _beat() -> dict:
    age = beat_heartbeat_age()
    if age is None:
        raise CheckFailed("no heartbeat: beat has not run since the cache was emptied, or ever")
    if age > settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS:
        raise CheckFailed(f"last heartbeat {age:.0f} s ago (limit {settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS} s)")
    return {"heartbeat_age_seconds": round(age, 1)}


def _github_app() -> dict:
    """GitHub's answer to the App's JWT, asked at most once per HEALTH_GITHUB_CHECK_CACHE_SECONDS
    whatever the probes' rate: a broken key shows within a minute, and GitHub is not hammered."""
    outcome = cache.get(GITHUB_CHECK_KEY)
    if outcome is None:
        outcome = _outcome(lambda: {"app": app_identity().get("slug", "")})
        cache.set(GITHUB_CHECK_KEY, outcome, timeout=settings.HEALTH_GITHUB_CHECK_CACHE_SECONDS)
    if not outcome["ok"]:
        raise CheckFailed(outcome["error"])
    return {"app": outcome["app"]}


def _oldest_waiting() -> dict:
    backlogs = backlogs_read()
    return {
        "deliveries": backlogs.deliveries.size,
        "oldest_delivery_age_seconds": backlogs.deliveries.oldest_age_seconds,
        "runs": backlogs.runs.size,
        "oldest_run_age_seconds": backlogs.runs.oldest_age_seconds,
    }


@never_cache
@require_GET
def health_live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health_ready(request: HttpRequest) -> JsonResponse:
    checks = {"database": _outcome(_database), "broker": _outcome(_broker), "beat": _outcome(_beat)}
    if request.GET.get("full") == "1":
        checks["github_app"] = _outcome(_github_app)
        checks["waiting"] = _outcome(_oldest_waiting)
    if not checks["database"]["ok"]:
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    degraded = not all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "degraded" if degraded else "ok", "checks": checks})
