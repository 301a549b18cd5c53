"""What intake needs from a payload, read without building the payload as Python objects.

Intake only records a few top-level fields; processing parses the whole payload later, in the
worker. simdjson validates a document at several hundred MB/s and reads fields lazily, but keeps
a parse tape of a few times the document's size; above STREAMING_THRESHOLD_BYTES ijson streams
the body instead, slower but in constant memory, so that a 25 MiB delivery stays cheap to hold.
"""

from dataclasses import dataclass

import ijson
import simdjson

STREAMING_THRESHOLD_BYTES = 4 * 1024 * 1024
_BIGINT_MAX = 2**63 - 1
_MAX_LENGTHS = {"action": 100, "repository_full_name": 255, "sender_login": 255, "sender_type": 32}
# (parent object, key) -> summary field; a parent of None is the top level.
_FIELDS = {
    (None, "action"): "action",
    ("installation", "id"): "installation_id",
    ("repository", "id"): "repository_id",
    ("repository", "full_name"): "repository_full_name",
    ("sender", "login"): "sender_login",
    ("sender", "type"): "sender_type",
}


class PayloadInvalid(ValueError):
    pass


@dataclass(frozen=True)
class PayloadSummary:
    action: str = ""
    installation_id: int | None = None
    repository_id: int | None = None
    repository_full_name: str = ""
    sender_login: str = ""
    sender_type: str = ""


def _fit(field: str, value) -> str | int | None:
    """The value as its column can hold it; anything of the wrong type is dropped."""
    if field in _MAX_LENGTHS:
        return value[: _MAX_LENGTHS[field]] if isinstance(value, str) else None
    is_id = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _BIGINT_MAX
    return value if is_id else None


def _summary(found: dict) -> PayloadSummary:
    return PayloadSummary(**{field: value for field, value in found.items() if value is not None})


def _summarize_in_memory(body: bytes) -> PayloadSummary:
    try:
        document = simdjson.Parser().parse(body)
    except (ValueError, RuntimeError):
        # Invalid JSON, or valid JSON simdjson cannot represent (integers past 64 bits, 1e999):
        # the streaming parser decides which.
        return _summarize_streaming(body)
    if not isinstance(document, simdjson.Object):
        raise PayloadInvalid("The body must be a JSON object.")
    found = {}
    for (parent, key), field in _FIELDS.items():
        container = document if parent is None else document.get(parent)
        if isinstance(container, simdjson.Object):
            found[field] = _fit(field, container.get(key))
    return _summary(found)


def _summarize_streaming(body: bytes) -> PayloadSummary:
    wanted = {f"{parent}.{key}" if parent else key: field for (parent, key), field in _FIELDS.items()}
    found: dict = {}
    try:
        events = ijson.parse(body)
        if next(events, None) != ("", "start_map", None):
            raise PayloadInvalid("The body must be a JSON object.")
        for prefix, event, value in events:
            field = wanted.get(prefix)
            if field is not None and field not in found and event in ("string", "number"):
                found[field] = _fit(field, value)
    except ijson.JSONError as exc:
        raise PayloadInvalid("The body is not valid JSON.") from exc
    return _summary(found)


def payload_summarize(body: bytes) -> PayloadSummary:
    """Validate `body` as one JSON object and pick out its summary fields."""
    if len(body) > STREAMING_THRESHOLD_BYTES:
        return _summarize_streaming(body)
    return _summarize_in_memory(body)


def payload_value(payload, *path: str):
    """The value at `path` in a parsed payload, or None wherever it has another shape: a sample
    payload a user sends may have any."""
    value = payload
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value
