import json
import logging
import sys

import pytest

from aiworkflow.logging import JsonFormatter, TextFormatter
from aiworkflow.redaction import REDACTED, redact_secrets

LEAKY_OUTPUT = {"result": "visible-output", "token": "ghs_secret", "nested": {"api_key": "api-key-value"}}
HIDDEN_OUTPUT = {"result": "visible-output", "token": REDACTED, "nested": {"api_key": REDACTED}}


def test_secret_like_keys_are_hidden_at_any_depth_in_lists_and_tuples():
    value = {"items": ({"password": "p"}, [{"Authorization": "Bearer x", "name": "kept"}])}

    assert redact_secrets(value) == {"items": [{"password": REDACTED}, [{"Authorization": REDACTED, "name": "kept"}]]}


def test_the_run_api_hides_secret_like_values_of_step_outputs(api, user):
    from workflows.models import StepRun, WorkflowRun
    from workflows.services import workflow_create

    workflow = workflow_create(
        owner=user,
        name="Leaky",
        definition={"nodes": [{"id": "c", "type": "logic.condition", "params": {"condition": "1"}}], "edges": []},
    )
    run = WorkflowRun.objects.create(
        workflow=workflow, version=workflow.current_version, owner=user, trigger={"event": "push", "action": ""}
    )
    StepRun.objects.create(run=run, node_id="c", node_type="logic.condition", position=0, output=LEAKY_OUTPUT)

    response = api.get(f"/api/v1/app/runs/{run.pk}")

    assert response.status_code == 200
    assert response.json()["steps"][0]["output"] == HIDDEN_OUTPUT
    assert "ghs_secret" not in response.content.decode()


def format_json_line(**extra) -> dict:
    record = logging.makeLogRecord(
        {"name": "workflows", "levelno": logging.INFO, "levelname": "INFO", "msg": "step done", **extra}
    )
    return json.loads(JsonFormatter().format(record))


def test_json_logs_hide_secret_like_values_inside_extra_fields():
    line = format_json_line(run_id="r-1", output=LEAKY_OUTPUT)

    assert line["run_id"] == "r-1"
    assert line["output"] == HIDDEN_OUTPUT


def test_json_logs_hide_extra_fields_whose_names_are_secret_like():
    line = format_json_line(access_token="ghs_secret", headers=[{"Authorization": "Bearer ghs_secret"}])

    assert line["access_token"] == REDACTED
    assert line["headers"] == [{"Authorization": REDACTED}]
    assert "ghs_secret" not in json.dumps(line)


FERNET_KEY = "4b8qap75aMQkFETj26ocDGYp1i8PJUhHcmdJL1zMdaE="
PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0"
# (what a log line might say, the secret in it that must not be printed)
SECRETS_IN_TEXT = [
    (
        "installation token",
        "minted ghs_16C7e42F292c6912E7710c838347Ae178B4a ok",
        "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    ),
    ("user token", "user ghu_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F292c6912E7710c838347Ae178B4a"),
    ("oauth token", "oauth gho_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F292c6912E7710c838347Ae178B4a"),
    ("personal token", "pat ghp_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F292c6912E7710c838347Ae178B4a"),
    (
        "fine-grained token",
        "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "11ABCDEFG0123456789_abcdefghijklmnop",
    ),
    (
        "refresh token",
        "refresh ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c",
        "1B4a2e77838347a7E420ce178F2E7c6912E169246c",
    ),
    (
        "app jwt",
        "jwt eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIxMjM0NTYiLCJpYXQiOjF9.c2lnbmF0dXJlLXZhbHVl",
        "eyJpc3MiOiIxMjM0NTYiLCJpYXQiOjF9",
    ),
    ("pem block", f"key -----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY----- loaded", PEM_BODY),
    ("pem block, escaped breaks", f"-----BEGIN PRIVATE KEY-----\\n{PEM_BODY}\\n-----END PRIVATE KEY-----", PEM_BODY),
    ("pem block, cut short", f"bad key: -----BEGIN EC PRIVATE KEY-----\n{PEM_BODY}", PEM_BODY),
    ("webhook secret", "signed with test-webhook-secret", "test-webhook-secret"),
    ("client secret", "client secret test-client-secret", "test-client-secret"),
    ("bearer header", "Authorization: Bearer opaque-credential-value", "opaque-credential-value"),
    ("token header", "authorization=token 0123456789abcdef0123456789abcdef01234567", "0123456789abcdef01234567"),
    ("header in a dict's text", "{'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "dXNlcjpwYXNzd29yZA"),
    ("bearer alone", "sent Bearer AbCdEf0123456789AbCdEf0123456789", "AbCdEf0123456789AbCdEf0123456789"),
    ("oauth code", "GET /auth?installation_id=1&code=a1b2c3d4e5&state=signed.state.value", "a1b2c3d4e5"),
    ("oauth state", "GET /auth?state=signed.state.value&code=a1b2c3d4e5", "signed.state.value"),
    ("client_secret parameter", "POST client_id=Iv1.x&client_secret=9f8e7d6c5b4a", "9f8e7d6c5b4a"),
    ("password", "login password=hunter2hunter2 refused", "hunter2hunter2"),
    ("password in json text", 'body {"password": "hunter2hunter2"}', "hunter2hunter2"),
    ("fernet key", f"ENCRYPTION_KEY={FERNET_KEY}", FERNET_KEY),
    ("fernet key alone", f"key {FERNET_KEY} rotated", FERNET_KEY),
    (
        "fernet token",
        "gAAAAABrDJB1Lfeq3b6qI0PccBl0OXchc8Jj_JeOhA_4YBBiIGGqoTqnqq5p4ZiJVlluyc2qjxVIgiRvYrSoKjGXKjwoftz72Q==",
        "Lfeq3b6qI0PccBl0OXchc8Jj",
    ),
    ("openai key", "AI key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"),
]
SECRET_IDS = [case[0] for case in SECRETS_IN_TEXT]
# Ordinary text that looks a little like a secret and must stay readable.
ORDINARY_TEXT = [
    "installation token minted",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 pushed",
    "GET /repos/{owner}/{repo}/pulls/{number} 200",
    "state open, 3 tokens used",
]


def text_line(message: str, **extra) -> str:
    record = logging.makeLogRecord(
        {"name": "workflows", "levelno": logging.INFO, "levelname": "INFO", "msg": message, **extra}
    )
    return TextFormatter().format(record)


def raised(message: str) -> logging.LogRecord:
    try:
        raise RuntimeError(message)
    except RuntimeError:
        return logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})


@pytest.mark.parametrize("text, secret", [case[1:] for case in SECRETS_IN_TEXT], ids=SECRET_IDS)
def test_no_log_line_prints_a_secret_in_its_message_a_field_or_an_exception(text, secret):
    lines = [
        json.dumps(format_json_line(msg=text)),
        json.dumps(format_json_line(detail=text, nested={"items": [text]})),
        JsonFormatter().format(raised(text)),
        text_line(text),
        text_line("step done", detail=text),
        TextFormatter().format(raised(text)),
    ]

    assert [line for line in lines if secret in line] == []


@pytest.mark.parametrize("text", ORDINARY_TEXT)
def test_ordinary_text_is_logged_as_it_is(text):
    assert format_json_line(msg=text)["message"] == text


def test_secrets_nested_under_secret_like_keys_are_hidden_in_both_formats():
    output = {"config": {"items": [{"client_secret": "plain-1"}, {"webhook_secret": "plain-2"}]}, "Cookie": "plain-3"}
    fields = {"output": output, "password": "plain-4", "api_key": "plain-5", "refresh_token": "plain-6"}

    lines = [json.dumps(format_json_line(**fields)), text_line("step done", **fields)]

    assert [line for line in lines if "plain-" in line] == []
    assert format_json_line(**fields)["output"]["config"]["items"] == [
        {"client_secret": REDACTED},
        {"webhook_secret": REDACTED},
    ]


def test_an_object_in_a_field_is_logged_as_its_text_scrubbed():
    """Django's request log passes the request itself, whose text holds the query string."""

    class Request:
        def __str__(self) -> str:
            return "<WSGIRequest: GET '/auth?code=a1b2c3d4e5&state=xyz'>"

    assert (
        format_json_line(request=Request())["request"] == "<WSGIRequest: GET '/auth?code=[redacted]&state=[redacted]'>"
    )
