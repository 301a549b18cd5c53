import json
import logging
import sys

from aiworkflow.logging import JsonFormatter


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
