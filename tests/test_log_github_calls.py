"""One log line, and the API metrics, for every request GitHub answers; never a token."""

import json

import pytest

from aiworkflow import metrics
from aiworkflow.logging import JsonFormatter, TextFormatter
from github_app.api.app_client import oauth_code_exchange
from github_app.api.call_log import route_template
from github_app.api.installation_client import installation_call, installation_repositories_fetch
from github_app.errors import InstallationNotFound
from tests.log_capture import console_output

INSTALLATION = 4343


@pytest.mark.parametrize(
    "path, template",
    [
        ("/repos/octo/widgets", "/repos/{owner}/{repo}"),
        ("/repos/octo/widgets/pulls/7/files", "/repos/{owner}/{repo}/pulls/{number}/files"),
        ("/repos/octo/widgets/issues/comments/991", "/repos/{owner}/{repo}/issues/comments/{id}"),
        ("/repos/octo/widgets/contents/src/app/main.py", "/repos/{owner}/{repo}/contents/{path}"),
        ("/repos/octo/widgets/compare/main...feature/x", "/repos/{owner}/{repo}/compare/{basehead}"),
        ("/repos/octo/widgets/commits/9fceb02d0ae598e95dc970b74767f19372d61af8", "/repos/{owner}/{repo}/commits/{ref}"),
        (
            "/repos/octo/widgets/git/trees/9fceb02d0ae598e95dc970b74767f19372d61af8",
            "/repos/{owner}/{repo}/git/trees/{sha}",
        ),
        ("/app/installations/4343/access_tokens", "/app/installations/{id}/access_tokens"),
        ("/user/installations/4343/repositories", "/user/installations/{id}/repositories"),
    ],
)
def test_routes_are_logged_as_templates(path, template):
    assert route_template(path) == template


def test_a_github_enterprise_server_s_api_prefix_is_left_out(settings):
    settings.GITHUB_API_BASE_URL = "https://ghe.example.com/api/v3"

    assert route_template("/api/v3/repos/octo/widgets/pulls/7") == "/repos/{owner}/{repo}/pulls/{number}"


def sample(metric, **labels) -> float:
    return (metric.labels(**labels) if labels else metric)._value.get()


@pytest.fixture
def installation(github):
    installation = github.installation(INSTALLATION, repositories=[github.repository("octo/widgets", id=1)])
    installation.rate_limit.remaining = 4321
    return installation


def repo_name() -> str:
    return installation_call(INSTALLATION, lambda github: github.get_repo("octo/widgets").full_name)


def json_lines(output) -> list[dict]:
    return [json.loads(line) for line in output.getvalue().splitlines()]


def test_each_call_is_one_line_with_its_route_status_rate_limit_and_installation(db, installation):
    with console_output(JsonFormatter()) as output:
        assert repo_name() == "octo/widgets"

    calls = [line for line in json_lines(output) if line["message"] == "github api call"]
    assert [
        (line["method"], line["route"], line["status"], line.get("rate_limit_remaining"), line["installation_id"])
        for line in calls
    ] == [
        ("POST", "/app/installations/{id}/access_tokens", 201, None, INSTALLATION),
        ("GET", "/repos/{owner}/{repo}", 200, 4320, INSTALLATION),
    ]
    assert all(isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0 for line in calls)


def test_no_call_line_holds_a_token_a_header_or_a_code(db, github, installation):
    github.user(code="oauth-code-123")
    with console_output(JsonFormatter()) as json_output:
        repo_name()
        oauth_code_exchange(code="oauth-code-123")
    with console_output(TextFormatter()) as text_output:
        repo_name()
        oauth_code_exchange(code="oauth-code-123")

    written = json_output.getvalue() + text_output.getvalue()
    assert "/login/oauth/access_token" in written
    assert [
        secret for secret in ("ghs_", "ghu_", "ghr_", "oauth-code-123", "Authorization", "eyJ") if secret in written
    ] == []


def test_calls_are_counted_by_status_and_the_installation_s_remaining_quota_is_kept(db, installation):
    ok = sample(metrics.GITHUB_API_REQUESTS, status="200")
    minted = sample(metrics.GITHUB_API_REQUESTS, status="201")
    refreshes = sample(metrics.GITHUB_TOKEN_REFRESHES)

    repo_name()
    repo_name()  # the token is reused: minted once

    assert sample(metrics.GITHUB_API_REQUESTS, status="200") == ok + 2
    assert sample(metrics.GITHUB_API_REQUESTS, status="201") == minted + 1
    assert sample(metrics.GITHUB_TOKEN_REFRESHES) == refreshes + 1
    assert sample(metrics.GITHUB_API_RATE_LIMIT_REMAINING, installation=str(INSTALLATION)) == 4319


def test_a_refusal_is_logged_and_counted_with_its_status(db, github, installation):
    github.fail("GET", "/installation/repositories", 404, json={"message": "Not Found"})
    refused = sample(metrics.GITHUB_API_REQUESTS, status="404")

    with console_output(JsonFormatter()) as output, pytest.raises(InstallationNotFound):
        installation_repositories_fetch(installation_id=INSTALLATION)

    assert ("GET", "/installation/repositories", 404) in [
        (line["method"], line["route"], line["status"])
        for line in json_lines(output)
        if line["message"] == "github api call"
    ]
    assert sample(metrics.GITHUB_API_REQUESTS, status="404") == refused + 1
