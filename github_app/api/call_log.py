"""One log line and the metrics for every answer GitHub gives: method, route template, status,
remaining rate limit, duration; never a token, a header, a body or a query string.

Every PyGithub client of the project sends through a requests Session that PyGithub's connection
classes create; the subclasses below hang `github_call_log` on it as a response hook. The OAuth
exchange, which is plain requests, passes the hook itself.
"""

import logging
import re
from urllib.parse import urlsplit

import requests
from django.conf import settings
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass, Requester

from aiworkflow import logcontext, metrics

logger = logging.getLogger(__name__)

# Concrete values become placeholders, so that the lines of one endpoint aggregate.
_ROUTE_VALUES = [
    (re.compile(r"^/repos/[^/]+/[^/]+"), "/repos/{owner}/{repo}"),
    (re.compile(r"/contents/.*"), "/contents/{path}"),
    (re.compile(r"/compare/.*"), "/compare/{basehead}"),
    (re.compile(r"/commits/[^/]+"), "/commits/{ref}"),
    (re.compile(r"/(pulls|issues)/\d+(?=/|$)"), r"/\1/{number}"),
    (re.compile(r"/\d+(?=/|$)"), "/{id}"),
    (re.compile(r"/(?:[0-9a-f]{40}|[0-9a-f]{64})(?=/|$)"), "/{sha}"),
]
# GitHub's rate limit is per credential: only an installation token's answer tells what is left
# of the installation's own quota (the App's JWT and users' tokens have quotas of their own).
_INSTALLATION_TOKEN_SCHEME = "token ghs_"


def route_template(path: str) -> str:
    """`/repos/octo/hello/pulls/7/files` -> `/repos/{owner}/{repo}/pulls/{number}/files`; a
    GitHub Enterprise Server's `/api/v3` prefix is left out."""
    route = path.removeprefix(urlsplit(settings.GITHUB_API_BASE_URL).path.rstrip("/"))
    for value, placeholder in _ROUTE_VALUES:
        route = value.sub(placeholder, route)
    return route


def github_call_log(response: requests.Response, *args, **kwargs) -> None:
    """A requests response hook: GitHub answered one request (after any retries)."""
    remaining = response.headers.get("X-RateLimit-Remaining")
    installation_id = logcontext.fields().get("installation_id")
    metrics.GITHUB_API_REQUESTS.labels(status=str(response.status_code)).inc()
    if remaining is not None and installation_id is not None and _installation_token_used(response.request):
        metrics.GITHUB_API_RATE_LIMIT_REMAINING.labels(installation=str(installation_id)).set(float(remaining))
    logger.info(
        "github api call",
        extra={
            "method": response.request.method,
            "route": route_template(urlsplit(response.request.path_url).path),
            "status": response.status_code,
            "rate_limit_remaining": int(float(remaining)) if remaining is not None else None,
            "duration_ms": round(response.elapsed.total_seconds() * 1000, 1),
        },
    )


def _installation_token_used(request: requests.PreparedRequest) -> bool:
    return str(request.headers.get("Authorization", "")).startswith(_INSTALLATION_TOKEN_SCHEME)


class _LoggedHTTPSConnection(HTTPSRequestsConnectionClass):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session.hooks["response"].append(github_call_log)


class _LoggedHTTPConnection(HTTPRequestsConnectionClass):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session.hooks["response"].append(github_call_log)


def pygithub_calls_log() -> None:
    """Make every PyGithub client created from now on log its calls.

    PyGithub has no public hook on its requests: its own `injectConnectionClasses` would also
    turn off connection reuse (it is meant for its tests), so the connection classes, which it
    looks up on the class when a client is created, are replaced directly. test_log_github_calls
    fails if a PyGithub release renames them."""
    Requester._Requester__httpsConnectionClass = _LoggedHTTPSConnection  # type: ignore[attr-defined]
    Requester._Requester__httpConnectionClass = _LoggedHTTPConnection  # type: ignore[attr-defined]
