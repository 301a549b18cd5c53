"""Gives each request an id that its log lines carry (aiworkflow/logcontext.py) and its answer
returns in `X-Request-ID`; a proxy's id is kept, so that its logs and ours meet. A GitHub delivery's
lines carry its `X-GitHub-Delivery` as delivery_id as well.

First in MIDDLEWARE and WEBHOOK_MIDDLEWARE; cheap, as every delivery passes through it.
"""

import re
import uuid
from collections.abc import Callable

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from aiworkflow import logcontext

# A header value is used only when it cannot break a log line or pass for something else.
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def sane_id(value: str | None) -> str | None:
    return value if value is not None and _SANE_ID.fullmatch(value) else None


def _log_context_clear(**_: object) -> None:
    logcontext.clear()


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # The fields stay bound until the answer is sent, not only while this middleware runs:
        # Django logs a 4xx or 5xx answer ("Not Found: /x") once the whole chain has returned.
        request_finished.connect(_log_context_clear, dispatch_uid=__name__)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sane_id(request.META.get("HTTP_X_REQUEST_ID")) or uuid.uuid4().hex
        logcontext.begin(request_id=request_id, delivery_id=sane_id(request.META.get("HTTP_X_GITHUB_DELIVERY")))
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
