import pytest

from tests.conftest import load_fixture

TEST = "/api/v1/app/triggers/test"


def ask(api, config, event="push", payload=None, **extra):
    body = {"config": {"repository": "Codertocat/Hello-World", **config}, "event": event, "payload": payload or {**load_fixture("push_5"), "ref": "refs/heads/release/v1"}, **extra}
    return api.post(TEST, body, format="json")


def test_explains_a_match_filter_by_filter(api):
    response = ask(api, {"events": ["push"], "branches": ["release/**"], "paths": ["docs/**"]}, changed_files=["docs/intro.md"])

    assert response.status_code == 200
    assert response.json() == {
        "matched": True,
        "reasons": [
            'event: "push" is in "push"',
            'branches: "release/v1" selected by "release/**"',
            'paths: "docs/intro.md" selected by "docs/**"',
        ],
    }


def test_explains_a_miss(api):
    body = ask(api, {"events": ["push"], "branches": ["main", "!release/**"]}).json()

    assert body["matched"] is False
    assert 'branches: "release/v1" excluded by "!release/**"' in body["reasons"]


def test_changed_files_default_to_the_push_commits(api):
    payload = {**load_fixture("push_5"), "ref": "refs/heads/main", "commits": [{"added": ["src/app.py"], "modified": [], "removed": []}]}

    body = ask(api, {"events": ["push"], "paths": ["docs/**"]}, payload=payload).json()

    assert body["matched"] is False and "none of 1 changed files selected" in body["reasons"][-1]


@pytest.mark.parametrize(
    "config, field, pattern",
    [
        ({"events": ["push"], "branches": [""]}, "branches", None),
        ({"events": ["push"], "branches": ["!"]}, "branches", "!"),
        ({"events": ["push"], "tags": ["+v1"]}, "tags", "+v1"),
        ({"events": ["push"], "paths": ["?x"]}, "paths", "?x"),
        ({"events": ["push"], "paths": ["src/[]"]}, "paths", "src/[]"),
        ({"events": ["push"], "paths": ["src/[a-"]}, "paths", "src/[a-"),
        ({"events": ["push"], "branches": ["v[9-1]"]}, "branches", "v[9-1]"),
        ({"events": ["push"], "paths": ["a"], "paths_ignore": ["b"]}, "paths", None),
        ({"events": ["pushes"]}, "events", None),
        ({"events": "push"}, "events", None),
        ({}, "events", None),
    ],
)
def test_invalid_configs_are_a_400_naming_the_field_and_pattern(api, config, field, pattern):
    response = ask(api, config)

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail["field"] == field
    assert detail.get("pattern") == pattern


@pytest.mark.parametrize("body", [{}, {"config": {}, "event": "push"}, {"config": {}, "event": "nope", "payload": {}}, {"config": [], "event": "push", "payload": {}}])
def test_malformed_requests_are_a_400(api, body):
    assert api.post(TEST, body, format="json").status_code == 400


def test_needs_a_jwt(client, db):
    assert client.post(TEST, {}, content_type="application/json").status_code == 401
