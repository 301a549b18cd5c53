"""The two ways intake reads a payload agree on every fixture and on every bad input."""

import pytest

from github_app.webhooks import payloads
from github_app.webhooks.payloads import PayloadInvalid, payload_summarize
from tests.github_app.webhooks import FIXTURE_NAMES, fixture_body


@pytest.fixture(params=["in_memory", "streaming"])
def reader(request, monkeypatch):
    if request.param == "streaming":
        monkeypatch.setattr(payloads, "STREAMING_THRESHOLD_BYTES", 0)
    return request.param


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_both_readers_give_the_same_summary(monkeypatch, name):
    body = fixture_body(name)
    in_memory = payload_summarize(body)
    monkeypatch.setattr(payloads, "STREAMING_THRESHOLD_BYTES", 0)

    assert payload_summarize(body) == in_memory


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"{", b'{"a": 1} x', b'{"a": 1}{}', b'{"a": "\xff"}', b'{"a": NaN}', b"{'a': 1}", b'{"a": 1,}'],
)
def test_invalid_json_is_refused(reader, body):
    with pytest.raises(PayloadInvalid, match="not valid JSON"):
        payload_summarize(body)


@pytest.mark.parametrize("body", [b"[]", b"null", b"1", b'"text"', b"true"])
def test_a_document_other_than_an_object_is_refused(reader, body):
    with pytest.raises(PayloadInvalid, match="JSON object"):
        payload_summarize(body)


@pytest.mark.parametrize(
    "body",
    [b'{"action": "opened", "big": 1e999}', b'{"action": "opened", "huge": 123456789012345678901234567890}'],
)
def test_valid_json_with_numbers_past_64_bits_is_accepted(reader, body):
    assert payload_summarize(body).action == "opened"


def test_fields_of_the_wrong_type_are_dropped(reader):
    body = b'{"action": 5, "installation": {"id": "7"}, "repository": {"id": -1, "full_name": {}}, "sender": [1]}'

    assert payload_summarize(body) == payloads.PayloadSummary()


def test_only_top_level_fields_count(reader):
    body = b'{"pull_request": {"action": "x", "repository": {"id": 9}}, "repository": {"id": 3, "full_name": "o/r"}}'

    summary = payload_summarize(body)

    assert (summary.action, summary.repository_id, summary.repository_full_name) == ("", 3, "o/r")
