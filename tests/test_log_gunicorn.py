"""gunicorn's own lines, as the Procfile runs it (`--access-logfile -`, ./gunicorn.conf.py): in the
same format as the application's, one JSON object per request in production, with no query
string secret."""

import json
from contextlib import AbstractContextManager

import requests

from tests.worker import WorkerProcess, gunicorn_process, wait_until

INSTALLATION_TOKEN = "ghs_" + "t" * 36
QUERY = "code=oauth-code-1&state=signed-state-1&full=1"


def gunicorn(log_format: str) -> AbstractContextManager[tuple[WorkerProcess, str]]:
    return gunicorn_process(["--access-logfile", "-"], LOG_FORMAT=log_format)


def probe(url: str) -> requests.Response:
    return requests.get(
        f"{url}/health/live?{QUERY}",
        headers={"X-Request-ID": "req-1", "User-Agent": f"probe/1.0 {INSTALLATION_TOKEN}"},
        timeout=10,
    )


def test_json_mode_logs_each_request_as_one_json_object_like_every_other_line():
    with gunicorn("json") as (web, url):
        answer = probe(url)
        assert wait_until(lambda: '"gunicorn.access"' in web.log), web.log

    lines = [json.loads(line) for line in web.log.splitlines() if line.startswith("{")]
    (access,) = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert {key: access[key] for key in ("method", "path", "status", "remote_addr", "request_id")} == {
        "method": "GET",
        "path": "/health/live",
        "status": answer.status_code,
        "remote_addr": "127.0.0.1",
        "request_id": "req-1",
    }
    assert answer.headers["X-Request-ID"] == "req-1"
    assert access["query"] == "?code=[redacted]&state=[redacted]&full=1"
    assert access["user_agent"] == "probe/1.0 [redacted]"
    assert isinstance(access["duration_ms"], float)
    assert any(line["logger"] == "gunicorn.error" and line["message"].startswith("Booting worker") for line in lines)


def test_text_mode_logs_a_readable_line_per_request():
    with gunicorn("text") as (web, url):
        probe(url)
        assert wait_until(lambda: "gunicorn.access" in web.log), web.log

    (access,) = [line for line in web.log.splitlines() if " gunicorn.access " in line]
    assert " INFO gunicorn.access GET /health/live 200 method=GET path=/health/live " in access
    assert "request_id=req-1" in access
    assert "oauth-code-1" not in web.log and "signed-state-1" not in web.log and INSTALLATION_TOKEN not in web.log
