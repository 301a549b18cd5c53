"""Calls to GitHub on behalf of the install flow: as the App (JWT) and as the installing user.

A web request must answer promptly, so these calls time out and never retry or sleep; every
failure becomes one of the project's errors, whose messages never carry a token.
"""

import contextlib
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

import requests
from django.conf import settings
from github import Auth, Github, GithubException, GithubIntegration, RateLimitExceededException
from github.PaginatedList import PaginatedList
from github.Repository import Repository

from aiworkflow import logcontext
from aiworkflow.errors import ApplicationError
from github_app.api.app_jwt import app_auth
from github_app.api.call_log import github_call_log
from github_app.credentials import app_credentials
from github_app.errors import (
    AppManifestCodeInvalid,
    GitHubAppNotConfigured,
    GitHubBadGateway,
    GitHubUnavailable,
    InstallationNotFound,
    OAuthCodeInvalid,
    UserTokenRejected,
)

PER_PAGE = 100


def client_options() -> dict:
    """Where and how every PyGithub client of the project talks to GitHub."""
    return {
        "base_url": settings.GITHUB_API_BASE_URL,
        "timeout": settings.GITHUB_HTTP_TIMEOUT_SECONDS,
        "retry": None,
        "per_page": PER_PAGE,
    }


def _app_integration() -> GithubIntegration:
    auth = app_auth()
    if auth is None:
        raise GitHubAppNotConfigured(detail={"missing": "GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"})
    return GithubIntegration(auth=auth, **client_options())


def _retry_after(exc: GithubException) -> dict:
    seconds = (exc.headers or {}).get("retry-after")
    return {"Retry-After": seconds} if seconds else {}


def _is_rate_limit(exc: GithubException) -> bool:
    """PyGithub recognises some of GitHub's rate-limit messages only: a 429, or a 403 with the
    quota spent or a Retry-After, is a rate limit whatever its message says."""
    headers = exc.headers or {}
    quota_spent = headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers
    return isinstance(exc, RateLimitExceededException) or exc.status == 429 or (exc.status == 403 and quota_spent)


@contextlib.contextmanager
def github_errors(*, not_found: ApplicationError, unauthorized: ApplicationError | None = None) -> Iterator[None]:
    """Translate GitHub's failures; `from None` drops chained exceptions that hold headers."""
    try:
        yield
    except GithubException as exc:
        if _is_rate_limit(exc):
            raise GitHubUnavailable(
                "GitHub's rate limit is exhausted; try again shortly.", headers=_retry_after(exc)
            ) from None
        if exc.status == 404:
            raise not_found from None
        if exc.status == 401:
            raise unauthorized or GitHubBadGateway("GitHub rejected the App's credentials.") from None
        raise GitHubBadGateway(detail={"github_status": exc.status}) from None
    except requests.RequestException:
        raise GitHubUnavailable() from None


def app_request(method: str, path: str, *, installation_id: int, body: dict | None = None) -> tuple[dict, dict]:
    """One request as the App (JWT), about one installation; returns (headers, data)."""
    integration = _app_integration()
    with (
        logcontext.bound(installation_id=installation_id),
        github_errors(not_found=InstallationNotFound(detail={"installation_id": installation_id})),
    ):
        return integration.requester.requestJsonAndCheck(method, path, input=body)


def installation_fetch(*, installation_id: int) -> dict:
    """`GET /app/installations/{id}` as the App: proves the installation is ours and real."""
    _, data = app_request("GET", f"/app/installations/{installation_id}", installation_id=installation_id)
    return data


def oauth_code_exchange(*, code: str) -> dict:
    """Trade the code GitHub sent with the redirect for the installing user's token."""
    return _oauth_token_request({"code": code})


def oauth_token_refresh(*, refresh_token: str) -> dict:
    """A new user token (and a new refresh token: GitHub rotates them) for one that expired.
    https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
    """
    return _oauth_token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})


def _oauth_token_request(grant: dict) -> dict:
    credentials = app_credentials()
    try:
        response = requests.post(
            f"{settings.GITHUB_BASE_URL}/login/oauth/access_token",
            data={"client_id": credentials.client_id, "client_secret": credentials.client_secret, **grant},
            headers={"Accept": "application/json"},
            timeout=settings.GITHUB_HTTP_TIMEOUT_SECONDS,
            hooks={"response": github_call_log},
        )
    except requests.RequestException:
        raise GitHubUnavailable() from None
    if response.status_code >= 500:
        raise GitHubBadGateway(detail={"github_status": response.status_code})
    try:
        data = response.json()
    except ValueError:
        raise GitHubBadGateway("GitHub's answer to the code exchange was not JSON.") from None
    if not isinstance(data, dict) or not data.get("access_token"):
        reason = data.get("error", "no_token") if isinstance(data, dict) else "no_token"
        raise OAuthCodeInvalid(detail={"reason": str(reason)})
    return data


def app_manifest_convert(*, code: str) -> dict:
    """The App GitHub registered from our manifest, with its credentials, for the code of the
    redirect (`POST /app-manifests/{code}/conversions`, unauthenticated, within the hour).
    https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
    """
    try:
        response = requests.post(
            f"{settings.GITHUB_API_BASE_URL}/app-manifests/{quote(code, safe='')}/conversions",
            headers={"Accept": "application/vnd.github+json"},
            timeout=settings.GITHUB_HTTP_TIMEOUT_SECONDS,
            hooks={"response": github_call_log},
        )
    except requests.RequestException:
        raise GitHubUnavailable() from None
    if response.status_code in (404, 422):
        raise AppManifestCodeInvalid()
    if response.status_code != 201:
        raise GitHubBadGateway(detail={"github_status": response.status_code})
    try:
        data = response.json()
    except ValueError:
        raise GitHubBadGateway("GitHub's answer to the registration was not JSON.") from None
    required = ("id", "slug", "pem", "webhook_secret", "client_id", "client_secret")
    if not isinstance(data, dict) or not all(data.get(key) for key in required):
        raise GitHubBadGateway("GitHub's answer to the registration lacks the App's credentials.")
    return data


def app_bot_user_id(*, slug: str) -> int | None:
    """The id of the App's `<slug>[bot]` account (`GET /users/{login}`), or None when GitHub
    does not answer it: the bot is then recognised by its login alone."""
    try:
        with Github(**client_options()) as anonymous:
            return anonymous.get_user(f"{slug}[bot]").id
    except (GithubException, requests.RequestException):
        return None


def user_installation_access(*, user_token: str, installation_id: int) -> dict | None:
    """The user's GitHub account (`GET /user`) if the installation is among theirs
    (`GET /user/installations`), else None."""
    user_github = Github(auth=Auth.Token(user_token), **client_options())
    with github_errors(not_found=GitHubBadGateway()), user_github:
        user = user_github.get_user()
        if not any(item.id == installation_id for item in user.get_installations()):
            return None
        return {"id": user.id, "login": user.login}


def user_installation_repositories(*, user_token: str, installation_id: int) -> list[dict]:
    """The repositories of the installation that the user can see
    (`GET /user/installations/{id}/repositories` with the user's own token): GitHub grants
    people access per repository, and this is theirs. An installation the user cannot see at
    all gives none; a token GitHub refuses raises UserTokenRejected."""
    user_github = Github(auth=Auth.Token(user_token), **client_options())
    path = f"/user/installations/{installation_id}/repositories"
    try:
        with github_errors(not_found=_NotVisible(), unauthorized=UserTokenRejected()), user_github:
            pages = PaginatedList(Repository, user_github.requester, path, None, list_item="repositories")
            return [{"id": repo.id, "full_name": repo.full_name, "private": repo.private} for repo in pages]
    except _NotVisible:
        return []


class _NotVisible(ApplicationError):
    """The user cannot see the installation at all."""


# Refusals of one redelivery that asking again would meet again: the log entry is gone (404,
# 410) or GitHub will not redeliver it (400, 422).
REDELIVERY_REFUSALS = frozenset({400, 404, 410, 422})


class RedeliveryRefused(ApplicationError):
    status_code = 502
    default_message = "GitHub refused to redeliver this delivery."


@contextlib.contextmanager
def _app_hook_errors(*, refusals: frozenset[int] = frozenset()) -> Iterator[None]:
    """github_errors, with a status among `refusals` raising RedeliveryRefused."""
    with github_errors(not_found=GitHubBadGateway("GitHub knows no webhook delivery log for this App.")):
        try:
            yield
        except GithubException as exc:
            if exc.status in refusals:
                raise RedeliveryRefused(detail={"github_status": exc.status}) from None
            raise


def _next_cursor(link_header: str) -> str | None:
    """The `cursor` of the `rel="next"` page in GitHub's Link header; None on the last page."""
    for link in requests.utils.parse_header_links(link_header):
        if link.get("rel") == "next":
            return parse_qs(urlsplit(link["url"]).query).get("cursor", [None])[0]
    return None


def app_hook_deliveries_page(*, cursor: str | None = None) -> tuple[list[dict], str | None]:
    """One page of the App's webhook delivery log, newest first, as the App (JWT), and the cursor
    of the next page (None on the last).
    https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook
    """
    parameters = {"per_page": PER_PAGE, **({"cursor": cursor} if cursor else {})}
    with _app_hook_errors():
        requester = _app_integration().requester
        headers, data = requester.requestJsonAndCheck("GET", "/app/hook/deliveries", parameters=parameters)
    return data, _next_cursor(headers.get("link", ""))


def app_hook_delivery_redeliver(*, log_entry_id: int) -> None:
    """Ask GitHub to send a logged delivery again (202), as the App (JWT).
    https://docs.github.com/en/rest/apps/webhooks#redeliver-a-delivery-for-an-app-webhook
    """
    with _app_hook_errors(refusals=REDELIVERY_REFUSALS):
        _app_integration().requester.requestJsonAndCheck("POST", f"/app/hook/deliveries/{log_entry_id}/attempts")


def app_identity() -> dict:
    """`GET /app` as the App (JWT): proves that GitHub accepts the App's id and private key."""
    with github_errors(not_found=GitHubBadGateway("GitHub knows no App with this id.")):
        _, data = _app_integration().requester.requestJsonAndCheck("GET", "/app")
    return data
