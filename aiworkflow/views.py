"""Django-level error pages and health: JSON everywhere, in the API's error shape."""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from aiworkflow.api import error_body
from aiworkflow.broker import broker_connection_error


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(error_body("The request is malformed."), status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(error_body("You do not have permission to perform this action."), status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(error_body("Not found."), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("Internal server error."), status=500)


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure is a result to report, not an error to raise
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _check_broker() -> dict:
    error = broker_connection_error()
    return {"ok": False, "error": error} if error else {"ok": True}


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )
