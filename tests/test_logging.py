import json
import logging
import re
import sys

import pytest
from celery import shared_task

from aiworkflow import logcontext
from aiworkflow.logging import JsonFormatter, TextFormatter
from tests.log_capture import console_output


def test_json_lines_keep_the_extra_fields():
    record = logging.makeLogRecord(
        {
            "name": "github_app",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "stored %s",
            "args": ("x",),
            "delivery_id": "d-1",
        }
    )

    line = json.loads(JsonFormatter().format(record))

    assert (line["logger"], line["level"], line["message"], line["delivery_id"]) == (
        "github_app",
        "INFO",
        "stored x",
        "d-1",
    )
    assert "args" not in line and "msg" not in line


def test_exceptions_are_included():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})

    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exception"]


def test_text_lines_read_time_level_logger_message_then_the_fields():
    record = logging.makeLogRecord(
        {"name": "workflows", "levelno": logging.INFO, "levelname": "INFO", "msg": "step done", "run_id": "r-1"}
    )
    record.detail = {"node": "pr review"}

    line = TextFormatter().format(record)

    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d [\d:,]+ INFO workflows step done run_id=r-1 detail=\{\"node\": \"pr review\"\}", line
    )


def test_bound_fields_reach_every_line_until_the_block_ends_and_a_call_s_own_field_wins():
    logger = logging.getLogger("tests.logcontext")

    with console_output(JsonFormatter()) as output:
        with logcontext.bound(delivery_id="d-1", installation_id=7, run_id=None):
            logger.info("inside")
            logger.info("own", extra={"delivery_id": "d-2"})
        logger.info("after")

    inside, own, after = [json.loads(line) for line in output.getvalue().splitlines()]
    assert (inside["delivery_id"], inside["installation_id"], "run_id" in inside) == ("d-1", 7, False)
    assert own["delivery_id"] == "d-2"
    assert "delivery_id" not in after and "installation_id" not in after


WRONG_SIGNATURE = {"HTTP_X_GITHUB_EVENT": "ping", "HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64}


@pytest.mark.parametrize(
    "sent, kept",
    [("abc.123_X-y", True), ("a" * 64, True), ("a" * 65, False), ("id\nforged line", False), ('x" level=ERROR', False)],
)
def test_a_request_id_is_kept_only_when_it_is_a_plain_token(client, db, sent, kept):
    with console_output(JsonFormatter()) as output:
        response = client.post(
            "/webhooks/github",
            b"{}",
            content_type="application/json",
            HTTP_X_REQUEST_ID=sent,
            HTTP_X_GITHUB_DELIVERY="d-42",
            **WRONG_SIGNATURE,
        )

    request_id = response["X-Request-ID"]
    assert (request_id == sent) is kept
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", request_id)
    # The view's warning and Django's own line for the 401, written once the middleware returned.
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    assert [(line["message"], line["request_id"], line["delivery_id"]) for line in lines] == [
        ("webhook signature verification failed", request_id, "d-42"),
        ("Unauthorized: /webhooks/github", request_id, "d-42"),
    ]


def test_each_request_gets_its_own_id_and_leaves_nothing_bound(client, db):
    first, second = (client.get("/health/live")["X-Request-ID"] for _ in range(2))

    assert first != second and len(first) == 32
    assert dict(logcontext.fields()) == {}


def test_deliveries_through_the_fast_path_get_a_request_id_and_their_delivery_id(db):
    from aiworkflow.wsgi import application
    from tests.github_app.test_webhook_intake import call_wsgi

    with console_output(JsonFormatter()) as output:
        answer = call_wsgi(
            application, "POST", "/webhooks/github", b"{}", HTTP_X_GITHUB_DELIVERY="d-7", **WRONG_SIGNATURE
        )

    warning = json.loads(output.getvalue().splitlines()[0])
    assert (warning["request_id"], warning["delivery_id"]) == (answer.headers["X-Request-ID"], "d-7")


@shared_task(name="tests.test_logging.log_in_task")
def log_in_task(run_id: str) -> str:
    logging.getLogger("tests.task").info("before bind")
    logcontext.bind(run_id=run_id)
    logging.getLogger("tests.task").info("after bind")
    return str(log_in_task.request.id)


def test_a_task_s_lines_carry_its_id_and_what_it_bound_goes_with_it(db):
    with console_output(JsonFormatter()) as output, logcontext.bound(request_id="the-request"):
        first_id = log_in_task.delay("run-1").get()
        second_id = log_in_task.delay("run-2").get()
        logging.getLogger("tests.task").info("after the tasks")

    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    ours = [line for line in lines if line["logger"] == "tests.task"]
    assert [(line["message"], line["request_id"], line.get("run_id")) for line in ours] == [
        ("before bind", first_id, None),
        ("after bind", first_id, "run-1"),
        ("before bind", second_id, None),
        ("after bind", second_id, "run-2"),
        ("after the tasks", "the-request", None),
    ]
