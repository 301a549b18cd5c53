"""PyGithub clients for an installation, with the shared token store and a bounded retry policy.

- 5xx answers and connection errors of idempotent requests are retried with backoff; writes are
  not, since a write GitHub performed before failing must not be repeated blindly.
- A rate limit is waited out only while the wait fits GITHUB_RETRY_WAIT_BUDGET_SECONDS; past it,
  GitHubRetryLater tells the Celery task how long to wait instead of parking the worker
  (PyGithub's default would sleep until the reset, up to an hour).
- 400, 401, 404, 422 and a 403 that is not a rate limit are never retried; a 401 refreshes the
  installation token once (installation_call).
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from github import Auth, BadCredentialsException, Github, GithubRetry, RateLimitExceededException
from github.PaginatedList import PaginatedList
from github.Repository import Repository
from urllib3.util.retry import Retry

from aiworkflow import logcontext, metrics
from aiworkflow.errors import ApplicationError
from github_app.api import app_client
from github_app.api.tokens import installation_token
from github_app.errors import InstallationNotFound

logger = logging.getLogger(__name__)
Result = TypeVar("Result")


class GitHubRetryLater(ApplicationError):
    """GitHub asked us to wait longer than a worker may block: retry the task after `retry_after`."""

    status_code = 503
    default_message = "GitHub's rate limit is exhausted; try again later."

    def __init__(self, retry_after: float, message: str | None = None):
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(
            message, detail={"retry_after": self.retry_after}, headers={"Retry-After": str(self.retry_after)}
        )


class BudgetedRetry(GithubRetry):
    """PyGithub's retry, with every wait it would take held to the configured budget."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.isdigit() and int(retry_after) > self.max_rate_limit_wait:
            raise GitHubRetryLater(int(retry_after))
        return super().increment(method, url, response, error, _pool, _stacktrace)


def retry_policy() -> BudgetedRetry:
    return BudgetedRetry(
        total=settings.GITHUB_HTTP_RETRIES,
        backoff_factor=0.5,
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,  # GET, HEAD, PUT, DELETE, OPTIONS, TRACE: no POST, PATCH
        secondary_rate_wait=settings.GITHUB_SECONDARY_RATE_LIMIT_WAIT_SECONDS,
        max_rate_limit_wait=settings.GITHUB_RETRY_WAIT_BUDGET_SECONDS,
        raise_on_status=False,
    )


def mint_installation_token(
    installation_id: int, permissions: dict | None, repositories: list[str] | None
) -> tuple[str, datetime]:
    """`POST /app/installations/{id}/access_tokens` as the App, narrowed to a scope if given."""
    body = {key: value for key, value in (("permissions", permissions), ("repositories", repositories)) if value}
    _, data = app_client.app_request(
        "POST", f"/app/installations/{installation_id}/access_tokens", installation_id=installation_id, body=body
    )
    metrics.GITHUB_TOKEN_REFRESHES.inc()
    logger.info("installation token minted", extra={"installation_id": installation_id})
    return data["token"], datetime.fromisoformat(data["expires_at"])


class InstallationTokenAuth(Auth.Auth):
    """Reads the token from the shared store at every request, so a client outlives its token."""

    def __init__(self, installation_id: int, permissions: dict | None = None) -> None:
        self.installation_id = installation_id
        self.permissions = permissions
        self.current: str | None = None

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        self.current = installation_token(
            installation_id=self.installation_id, permissions=self.permissions, mint=mint_installation_token
        )
        return self.current

    def refresh(self) -> None:
        """GitHub refused the current token: replace it in the store (once, across processes)."""
        self.current = installation_token(
            installation_id=self.installation_id,
            permissions=self.permissions,
            mint=mint_installation_token,
            rejected=self.current,
        )

    @property
    def _masked_token(self) -> str:
        return "token (installation token removed)"


def installation_github(auth: InstallationTokenAuth) -> Github:
    """A PyGithub client for the installation `auth` speaks for, bound to GITHUB_API_BASE_URL."""
    # Writes are paced by repository_context across processes, not per client by PyGithub.
    options = {**app_client.client_options(), "retry": retry_policy()}
    return Github(
        auth=auth,
        seconds_between_requests=None,
        seconds_between_writes=None,
        **options,
    )


def rate_limit_record(installation_id: int, github: Github) -> None:
    """Keep the installation's last seen rate-limit headers, for metrics and the dashboard."""
    remaining, limit = github.requester.rate_limiting
    if limit < 0:  # no request was made
        return
    cache.set(
        _rate_limit_key(installation_id),
        {"remaining": remaining, "limit": limit, "reset": github.requester.rate_limiting_resettime},
        timeout=3600,
    )


def _rate_limit_key(installation_id: int) -> str:
    return f"github-rate-limit:{installation_id}"


def installation_rate_limit(installation_id: int) -> dict | None:
    return cache.get(_rate_limit_key(installation_id))


def installation_rate_limits(installation_ids: list[int]) -> dict[int, dict]:
    """The last seen rate limits of many installations, in one cache round trip; an installation
    not seen within the cache's memory is left out."""
    found = cache.get_many([_rate_limit_key(installation_id) for installation_id in installation_ids])
    return {
        installation_id: found[_rate_limit_key(installation_id)]
        for installation_id in installation_ids
        if _rate_limit_key(installation_id) in found
    }


def installation_repositories_fetch(*, installation_id: int) -> list[dict]:
    """Every repository the installation can reach, through `GET /installation/repositories`."""

    def fetch(github: Github) -> list[dict]:
        pages = PaginatedList(
            Repository, github.requester, "/installation/repositories", None, list_item="repositories"
        )
        return [{"id": repo.id, "full_name": repo.full_name, "private": repo.private} for repo in pages]

    with app_client.github_errors(not_found=InstallationNotFound(detail={"installation_id": installation_id})):
        return installation_call(installation_id, fetch)


def installation_call(
    installation_id: int, operation: Callable[[Github], Result], *, permissions: dict | None = None
) -> Result:
    """Run `operation` with the installation's client: after a 401 the token is refreshed and
    the operation tried once more; a rate limit beyond the wait budget raises GitHubRetryLater."""
    auth = InstallationTokenAuth(installation_id, permissions)
    github = installation_github(auth)
    with logcontext.bound(installation_id=installation_id):
        try:
            try:
                return operation(github)
            except BadCredentialsException:
                auth.refresh()
                return operation(github)
        except RateLimitExceededException as exc:
            raise GitHubRetryLater(
                getattr(exc, "wait", None) or settings.GITHUB_SECONDARY_RATE_LIMIT_WAIT_SECONDS
            ) from None
        finally:
            rate_limit_record(installation_id, github)
