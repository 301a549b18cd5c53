"""The double behind `responses`, for code running in the test's own process: every request that
the mock intercepts goes to the double, which tells GitHub's API, GitHub's web flow and the LLM
apart by the URLs configured at the time of the request (a test may switch to an Enterprise
Server half-way)."""

import re
from urllib.parse import parse_qsl, urlsplit

import requests
import responses
from django.conf import settings
from requests.structures import CaseInsensitiveDict

from tests.github_double.double import Double
from tests.github_double.exchange import Request, Service

ANY_URL = re.compile(r"https?://.*")
DEFAULT_PORTS = {"https": 443, "http": 80}


def without_default_port(url: str) -> str:
    """PyGithub writes the default port out; the configured URLs do not."""
    parts = urlsplit(url)
    if parts.port == DEFAULT_PORTS.get(parts.scheme):
        parts = parts._replace(netloc=parts.hostname or "")
    return parts.geturl()


def service_for(double: Double, url: str) -> tuple[Service, str] | None:
    """The service that answers `url`, and its base URL."""
    bases = [
        (double.github, settings.GITHUB_API_BASE_URL),
        (double.github, settings.GITHUB_BASE_URL),
        (double.llm, settings.AI_BASE_URL),
    ]
    for service, base in bases:
        if base and (url == base or url.startswith(f"{base}/") or url.startswith(f"{base}?")):
            return service, base
    return None


def answer(double: Double, prepared: requests.PreparedRequest):
    url = without_default_port(str(prepared.url))
    found = service_for(double, url)
    if found is None:
        raise requests.ConnectionError(f"The GitHub double does not serve {url}")
    service, base = found
    parts = urlsplit(url[len(base) :])
    body = prepared.body or b""
    request = Request(
        method=str(prepared.method),
        url=url,
        base=base,
        path=parts.path,
        query=dict(parse_qsl(parts.query)),
        headers=CaseInsensitiveDict(prepared.headers),
        body=body if isinstance(body, bytes) else str(body).encode(),
    )
    result = service.respond(request)
    if result.error is not None:
        raise result.error
    return result.status, result.headers, result.body


def mock_double(mock: responses.RequestsMock, double: Double | None = None) -> Double:
    """Route every request of `mock` to `double` (a new one by default)."""
    double = double or Double()
    for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
        mock.add_callback(method, ANY_URL, callback=lambda prepared: answer(double, prepared), content_type=None)
    return double
