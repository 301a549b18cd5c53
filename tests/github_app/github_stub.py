"""GitHub's side of the install flow, served through `responses` with bodies shaped like GitHub's."""

import copy
import json
import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from responses import matchers
from django.conf import settings

from tests.conftest import load_fixture

INSTALLATION_ID = 957387
USER_TOKEN = "ghu_" + "u" * 36
REFRESHED_USER_TOKEN = "ghu_" + "f" * 36
GITHUB_USER_ID = 21031067
GITHUB_LOGIN = "Codertocat"
INSTALLATION_TOKEN = "ghs_" + "i" * 36


def installation_body(installation_id: int = INSTALLATION_ID, **changes) -> dict:
    body = copy.deepcopy(load_fixture("installation__created")["installation"])
    body.update(id=installation_id, **changes)
    return body


def repository(repo_id: int, full_name: str, private: bool = False) -> dict:
    return {"id": repo_id, "node_id": f"R_{repo_id}", "name": full_name.split("/")[1], "full_name": full_name, "private": private}


def api_url(path: str) -> re.Pattern:
    """The API URL of `path`, with or without the explicit default port PyGithub puts in it."""
    base = urlsplit(settings.GITHUB_API_BASE_URL)
    origin = re.escape(f"{base.scheme}://{base.hostname}")
    return re.compile(rf"{origin}(:\d+)?{re.escape(base.path + path)}(\?.*)?$")


class GitHubStub:
    def __init__(self, mock: responses.RequestsMock):
        self.mock = mock

    def installation(self, installation_id: int = INSTALLATION_ID, *, status: int = 200, **changes):
        body = installation_body(installation_id, **changes) if status == 200 else {"message": "Server Error"}
        return self.mock.get(api_url(f"/app/installations/{installation_id}"), json=body, status=status)

    def installation_unreachable(self, installation_id: int = INSTALLATION_ID, error: Exception | None = None):
        url = api_url(f"/app/installations/{installation_id}")
        return self.mock.get(url, body=error or requests.ConnectTimeout("timed out"))

    def repositories(self, installation_id: int = INSTALLATION_ID, repositories: list[dict] | None = None):
        if repositories is None:
            repositories = [repository(186853002, "Codertocat/Hello-World")]
        expires_at = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.mock.post(
            api_url(f"/app/installations/{installation_id}/access_tokens"),
            json={"token": INSTALLATION_TOKEN, "expires_at": expires_at, "permissions": {"contents": "read"}},
            status=201,
        )
        return self.mock.get(
            api_url("/installation/repositories"),
            json={"total_count": len(repositories), "repository_selection": "selected", "repositories": repositories},
        )

    def oauth_exchange(self, *, status: int = 200, body: dict | None = None):
        if body is None:
            body = {
                "access_token": USER_TOKEN,
                "expires_in": 28800,
                "refresh_token": "ghr_" + "r" * 76,
                "refresh_token_expires_in": 15811200,
                "scope": "",
                "token_type": "bearer",
            }
        return self.mock.post(f"{settings.GITHUB_BASE_URL}/login/oauth/access_token", json=body, status=status)

    def oauth_refresh(self, *, status: int = 200, body: dict | None = None):
        """GitHub's answer to `grant_type=refresh_token`: a new user token and a new refresh token."""
        if body is None:
            body = {"access_token": REFRESHED_USER_TOKEN, "expires_in": 28800, "refresh_token": "ghr_" + "n" * 76}
        return self.mock.post(
            f"{settings.GITHUB_BASE_URL}/login/oauth/access_token",
            json=body,
            status=status,
            match=[matchers.urlencoded_params_matcher({"grant_type": "refresh_token"}, strict_match=False)],
        )

    def user_installations(self, installation_ids: list[int]):
        installations = [installation_body(installation_id) for installation_id in installation_ids]
        self.mock.get(api_url("/user"), json={"login": GITHUB_LOGIN, "id": GITHUB_USER_ID, "type": "User"})
        return self.mock.get(
            api_url("/user/installations"), json={"total_count": len(installations), "installations": installations}
        )

    def user_repositories(
        self,
        installation_id: int = INSTALLATION_ID,
        repositories: list[dict] | None = None,
        *,
        status: int = 200,
        delay: float = 0.0,
    ):
        """`GET /user/installations/{id}/repositories`: what the user's own token sees there,
        answered after `delay` seconds."""
        if repositories is None:
            repositories = [repository(186853002, "Codertocat/Hello-World")]
        body = {"total_count": len(repositories), "repositories": repositories} if status == 200 else {"message": "error"}

        def answer(request):
            time.sleep(delay)
            return status, {}, json.dumps(body)

        url = api_url(f"/user/installations/{installation_id}/repositories")
        return self.mock.add_callback("GET", url, callback=answer, content_type="application/json")

    def accessible_installation(
        self,
        installation_id: int = INSTALLATION_ID,
        repositories: list[dict] | None = None,
        user_repositories: list[dict] | None = None,
    ):
        """Everything a successful verified install asks GitHub, at the callback and at the
        completion; the user sees every repository unless `user_repositories` says otherwise."""
        self.oauth_exchange()
        self.user_installations([installation_id])
        self.installation(installation_id)
        self.repositories(installation_id, repositories)
        self.user_repositories(installation_id, user_repositories if user_repositories is not None else repositories)


def api_url_matching(path_pattern: str) -> re.Pattern:
    """Like api_url, for a path given as a regular expression."""
    base = urlsplit(settings.GITHUB_API_BASE_URL)
    origin = re.escape(f"{base.scheme}://{base.hostname}")
    return re.compile(rf"{origin}(:\d+)?{re.escape(base.path)}{path_pattern}(\?.*)?$")


def log_status(status_code: int) -> str:
    """GitHub's account of an attempt that we answered `status_code` (0: no answer)."""
    if status_code == 0:
        return "timed out"
    return "OK" if 200 <= status_code < 300 else f"Invalid HTTP Response: {status_code}"


def hook_delivery(
    entry_id: int,
    guid: str,
    *,
    status_code: int = 202,
    minutes_ago: float = 5,
    event: str = "pull_request",
    action: str | None = "opened",
    redelivery: bool = False,
) -> dict:
    """One attempt in the App's delivery log, as `GET /app/hook/deliveries` lists it."""
    delivered_at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return {
        "id": entry_id,
        "guid": guid,
        "delivered_at": delivered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "redelivery": redelivery,
        "duration": 0.27 if status_code else 10.0,
        "status": log_status(status_code),
        "status_code": status_code,
        "event": event,
        "action": action,
        "installation_id": INSTALLATION_ID,
        "repository_id": 186853002,
        "throttled_at": None,
    }


def log_cursor(page: list[dict]) -> str:
    """GitHub's cursor for the page after `page`."""
    return f"v1_{page[-1]['id']}"


def delivery_log(mock: responses.RequestsMock, pages: list[list[dict]], *, first_cursor: str | None = None):
    """`GET /app/hook/deliveries`, newest first, over `pages` linked the way GitHub links them:
    a Link header whose rel="next" URL carries the next page's `cursor`. The first page is asked
    without a cursor, or with `first_cursor`."""
    url = api_url("/app/hook/deliveries")
    cursor = first_cursor
    for number, page in enumerate(pages):
        headers = {}
        if number + 1 < len(pages):
            next_url = f"{settings.GITHUB_API_BASE_URL}/app/hook/deliveries?per_page=100&cursor={log_cursor(page)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        params = {"per_page": "100", **({"cursor": cursor} if cursor else {})}
        mock.get(url, json=page, headers=headers, match=[matchers.query_param_matcher(params)])
        cursor = log_cursor(page)


def redeliveries_accepted(mock: responses.RequestsMock):
    """`POST /app/hook/deliveries/{id}/attempts` for any log entry: 202 Accepted."""
    return mock.post(api_url_matching(r"/app/hook/deliveries/\d+/attempts"), json={}, status=202)


def redeliveries_asked(mock: responses.RequestsMock) -> list[int]:
    """The log entry ids GitHub was asked to redeliver, in order."""
    attempts = re.compile(r"/app/hook/deliveries/(\d+)/attempts")
    return [
        int(attempts.search(call.request.url).group(1))
        for call in mock.calls
        if call.request.method == "POST" and attempts.search(call.request.url)
    ]


def delivery_log_pages_asked(mock: responses.RequestsMock) -> list[str | None]:
    """The `cursor` of each `GET /app/hook/deliveries`, in order (None: the newest page)."""
    return [
        parse_qs(urlsplit(call.request.url).query).get("cursor", [None])[0]
        for call in mock.calls
        if call.request.method == "GET" and "/app/hook/deliveries" in call.request.url
    ]
