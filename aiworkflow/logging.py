"""Log formats: JSON lines in production, readable text in development (settings.LOG_FORMAT), for
Django, Celery and gunicorn alike (gunicorn.conf.py). Neither ever prints a credential: extra fields
under secret-like names are hidden, and tokens and keys are scrubbed from every text (redaction.py).
"""

import json
import logging
from datetime import UTC, datetime

from aiworkflow.redaction import redact_for_log, secret_shapes_redact

# Attributes every LogRecord has; anything else was passed through `extra=` or bound to the
# context (aiworkflow/logcontext.py) and is kept.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _extra_fields(record: logging.LogRecord) -> dict:
    extra = {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}
    return redact_for_log(extra)


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the `extra=` and context fields (delivery_id, run_id...) as keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": secret_shapes_redact(record.getMessage()),
        }
        entry.update(_extra_fields(record))
        if record.exc_info:
            entry["exception"] = secret_shapes_redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value...`: the extra and context fields follow the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={_text_value(value)}" for key, value in _extra_fields(record).items())
        return f"{super().formatMessage(record)} {fields}".rstrip()

    def format(self, record: logging.LogRecord) -> str:
        return secret_shapes_redact(super().format(record))


def _text_value(value: object) -> str:
    """A value as one unambiguous word: quoted (JSON) when it has spaces or structure."""
    if isinstance(value, str) and value and " " not in value:
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, default=str)


class GunicornAccessFilter(logging.Filter):
    """Turns gunicorn's access record, whose arguments are its `atoms`, into a short message and
    fields, instead of an Apache line whose query string may hold an OAuth code or a token.
    https://docs.gunicorn.org/en/stable/settings.html#access-log-format"""

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if not isinstance(atoms, dict):
            return True
        # As the client sent it, still percent-encoded: no decoded line break can forge a line.
        path, _, query = atoms["{raw_uri}e"].partition("?")
        method, status = atoms["m"], atoms["s"]
        fields = {
            "method": method,
            "path": path,
            "query": secret_shapes_redact(f"?{query}") if query else None,
            "status": int(status),
            "duration_ms": round(atoms["D"] / 1000, 1),
            "remote_addr": atoms["h"],
            "user_agent": atoms["a"],
            "request_id": atoms["{x-request-id}o"],
        }
        record.__dict__.update({name: value for name, value in fields.items() if value not in ("-", None)})
        record.msg, record.args = "%s %s %s", (method, path, status)
        return True


def gunicorn_logging_config(django_logging: dict) -> dict:
    """Django's logging (settings.LOGGING), with gunicorn's error and access loggers handing their
    records to its handlers, so that gunicorn's lines come in the same format. The loggers' own
    handlers (`--access-logfile -` adds one, in Apache format) are replaced by none; the level of
    gunicorn.error stays that of `--log-level`."""
    return {
        **django_logging,
        "filters": {**django_logging.get("filters", {}), "gunicorn_access": {"()": GunicornAccessFilter}},
        "loggers": {
            **django_logging.get("loggers", {}),
            "gunicorn.error": {"handlers": [], "propagate": True},
            "gunicorn.access": {"handlers": [], "propagate": True, "filters": ["gunicorn_access"]},
        },
    }
