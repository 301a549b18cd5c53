"""The webhook endpoint: a plain Django view, since it must read the raw body itself (to verify
its signature before parsing and to accept GitHub's 25 MiB, past Django's 2.5 MB form cap)."""

import ipaddress
import logging
import time
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from aiworkflow import metrics
from aiworkflow.api import error_body
from aiworkflow.net import client_ip
from github_app.webhooks.deliveries import delivery_receive
from github_app.webhooks.payloads import PayloadInvalid, payload_summarize
from github_app.webhooks.signatures import signature_is_valid

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
MAX_HEADER_LENGTH = 64
FAILURE_WINDOW_SECONDS = 60  # WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE counts per clock minute


def _error(status: int, message: str, **headers) -> JsonResponse:
    response = JsonResponse(error_body(message), status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> list:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]


def _source_allowed(ip: str) -> bool:
    if not settings.GITHUB_WEBHOOK_ALLOWED_CIDRS:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.GITHUB_WEBHOOK_ALLOWED_CIDRS)))


def _content_length(request: HttpRequest) -> int | None:
    """The declared body length; a missing header means an empty body, as WSGI has it."""
    value = request.META.get("CONTENT_LENGTH") or "0"
    return int(value) if value.isdigit() else None


def _failure_window() -> tuple[int, int]:
    """The current fixed window: (its number since the epoch, the seconds left in it)."""
    now = int(time.time())
    return now // FAILURE_WINDOW_SECONDS, FAILURE_WINDOW_SECONDS - now % FAILURE_WINDOW_SECONDS


def _failures_key(ip: str) -> str:
    """This minute's counter of the address. The minute is in the key, so the window ends on
    time on every cache backend: some (the file and database caches) re-set an incremented key
    with the default timeout, which would make a window counted on its own expiry restart at
    every failure."""
    window, _ = _failure_window()
    return f"webhook-verification-failures:{ip}:{window}"


def _too_many_failures() -> JsonResponse:
    _, seconds_left = _failure_window()
    return _error(429, "Too many requests failed verification.", Retry_After=str(seconds_left))


class _SpentAddresses:
    """The addresses this process has seen use up this minute's failures, in the shared count.

    Asking the shared cache before every body would cost each delivery a round trip. An address
    is instead known here once a failure of its own, counted in the shared cache, reaches the
    limit: a process reads at most one more body of an address that used up its failures in
    other processes, before refusing it unread for the rest of the minute.
    """

    def __init__(self) -> None:
        self._window = -1
        self._addresses: set[str] = set()

    def _current(self) -> set[str]:
        window, _ = _failure_window()
        if window != self._window:  # a new minute forgives every address
            self._window, self._addresses = window, set()
        return self._addresses

    def add(self, ip: str) -> None:
        self._current().add(ip)

    def clear(self) -> None:
        self._addresses.clear()

    def __contains__(self, ip: str) -> bool:
        return ip in self._current()


spent_addresses = _SpentAddresses()


def _failure_count(ip: str) -> int:
    """Count one more failure of the address this minute; 0 when the cache cannot count."""
    key = _failures_key(ip)
    try:
        cache.add(key, 0, timeout=2 * FAILURE_WINDOW_SECONDS)  # outlives its minute, whatever the processes' clock skew
        return cache.incr(key)
    except ValueError:  # the key was evicted between add and incr
        return 1
    except Exception:  # the cache's own connection errors: the answer is a 401 all the same
        logger.warning("the webhook failure count could not be updated", exc_info=True)
        return 0


def _verification_failed(ip: str) -> JsonResponse:
    """Count the failure against the address; past the per-minute limit, answer 429 instead."""
    failures = _failure_count(ip)
    if failures >= settings.WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE:
        spent_addresses.add(ip)
    if failures > settings.WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE:
        return _too_many_failures()
    logger.warning("webhook signature verification failed", extra={"client_ip": ip})
    return _error(401, "The request signature is missing or wrong.")


def _hook_id(request: HttpRequest) -> int | None:
    value = request.META.get("HTTP_X_GITHUB_HOOK_ID", "")
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _is_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json"


@csrf_exempt
def github_webhook(request: HttpRequest) -> JsonResponse:
    started = time.perf_counter()
    response = _delivery_answer(request)
    metrics.WEBHOOK_INTAKE_SECONDS.observe(time.perf_counter() - started)
    return response


def _delivery_answer(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return _error(405, "Only POST is accepted.", Allow="POST")
    ip = client_ip(request)
    if not _source_allowed(ip):
        return _error(403, "Deliveries are not accepted from this address.")
    length = _content_length(request)
    if length is None:
        return _error(400, "The Content-Length header is malformed.")
    if length > MAX_BODY_BYTES:
        return _error(413, "The body exceeds GitHub's 25 MiB payload cap.")
    if not settings.GITHUB_WEBHOOK_ALLOWED_CIDRS and ip in spent_addresses:
        # Without an allowlist, an address past its failures is not worth reading. Allowlisted
        # sources (GitHub's hook ranges) are always read: anyone can point a webhook of their own
        # at us through GitHub's senders, and refusing those unread would refuse ours with them.
        return _too_many_failures()

    body = request.read(length)
    # Headers read from META: request.headers would parse every header of the request first.
    if not signature_is_valid(body=body, header=request.META.get("HTTP_X_HUB_SIGNATURE_256")):
        return _verification_failed(ip)
    if not _is_json(request):
        return _error(415, "The body must be application/json; set the webhook's content type to JSON.")
    event = request.META.get("HTTP_X_GITHUB_EVENT", "")
    delivery_id = request.META.get("HTTP_X_GITHUB_DELIVERY", "")
    if not (0 < len(event) <= MAX_HEADER_LENGTH and 0 < len(delivery_id) <= MAX_HEADER_LENGTH):
        return _error(400, "X-GitHub-Event and X-GitHub-Delivery headers of at most 64 characters are required.")
    try:
        summary = payload_summarize(body)
    except PayloadInvalid as exc:
        return _error(400, str(exc))

    try:
        created = delivery_receive(
            delivery_id=delivery_id, event=event, hook_id=_hook_id(request), summary=summary, payload=body
        )
    except OperationalError:
        logger.exception("the delivery could not be stored", extra={"delivery_id": delivery_id})
        return _error(503, "The delivery could not be stored; redeliver it shortly.", Retry_After="30")
    answer = {
        "delivery_id": delivery_id,
        "event": event,
        "action": summary.action,
        "installation_id": summary.installation_id,
        "repository": summary.repository_full_name or None,
    }
    if event == "ping":
        return JsonResponse({"status": "pong", **answer}, status=200)
    if created is None:
        return JsonResponse({"status": "duplicate", **answer}, status=200)
    return JsonResponse({"status": "queued", **answer}, status=202)
