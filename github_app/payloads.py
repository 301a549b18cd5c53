"""What intake needs from a payload, read without building it in memory.

A delivery can be 25 MiB; parsing it into Python objects would cost several times that in the
web process. ijson streams the body instead: it validates the whole document and keeps only the
few top-level fields a delivery row records.
"""

from dataclasses import dataclass

import ijson

_BIGINT_MAX = 2**63 - 1
_FIELDS = {
    ("action", "string"): "action",
    ("installation.id", "number"): "installation_id",
    ("repository.id", "number"): "repository_id",
    ("repository.full_name", "string"): "repository_full_name",
    ("sender.login", "string"): "sender_login",
    ("sender.type", "string"): "sender_type",
}
_MAX_LENGTHS = {"action": 100, "repository_full_name": 255, "sender_login": 255, "sender_type": 32}


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


def _fit(field: str, value):
    if field in _MAX_LENGTHS:
        return value[: _MAX_LENGTHS[field]]
    is_id = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _BIGINT_MAX
    return value if is_id else None


def payload_summarize(body: bytes) -> PayloadSummary:
    """Validate `body` as one JSON object and pick out its summary fields."""
    found: dict = {}
    try:
        events = ijson.parse(body)
        if next(events, None) != ("", "start_map", None):
            raise PayloadInvalid("The body must be a JSON object.")
        for prefix, event, value in events:
            field = _FIELDS.get((prefix, event))
            if field is not None and field not in found:
                found[field] = _fit(field, value)
    except ijson.JSONError as exc:
        raise PayloadInvalid("The body is not valid JSON.") from exc
    return PayloadSummary(**found)
