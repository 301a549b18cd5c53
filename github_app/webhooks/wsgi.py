"""GitHub's deliveries take a short way through Django.

A signed machine request has no session, user, CSRF token, message or static file: the webhook
endpoints are served by a handler of their own that runs only WEBHOOK_MIDDLEWARE, the part of
MIDDLEWARE whose headers every answer carries. Every other path goes through the full MIDDLEWARE.
The URLconf still routes the webhook paths to the view, so the test client and runserver reach it
the usual way, and this handler resolves them through it too.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.urls import ResolverMatch, resolve, reverse

WEBHOOK_URL_NAMES = ("github-webhook", "github-webhook-api")


class WebhookHandler(WSGIHandler):
    def __init__(self, paths: frozenset[str]) -> None:
        super().__init__()
        # Resolved once: this handler serves these paths only, and walking the URLconf for them
        # at every delivery cost more than the rest of Django's request handling.
        self.matches: dict[str, ResolverMatch] = {path: resolve(path) for path in paths}

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        request.resolver_match = self.matches[request.path_info]
        return request.resolver_match

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds a handler's chain from settings.MIDDLEWARE only: it reads the webhook
        # list instead while this chain is built, once, before the process serves any request.
        site_middleware = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.WEBHOOK_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = site_middleware


def with_webhook_fast_path(site: Callable) -> Callable:
    """The site's WSGI application, with the webhook paths handed to a WebhookHandler."""
    # As PATH_INFO has them, below any SCRIPT_NAME: the prefix is not set while the process starts.
    paths = frozenset(reverse(name) for name in WEBHOOK_URL_NAMES)
    webhooks = WebhookHandler(paths)

    def application(environ: dict, start_response: Callable):
        handler = webhooks if environ.get("PATH_INFO") in paths else site
        return handler(environ, start_response)

    return application
