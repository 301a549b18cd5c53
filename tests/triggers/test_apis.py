import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from github_app.webhooks.events import WORKFLOW_EVENTS
from tests.conftest import load_fixture
from triggers.models import Trigger
from workflows.models import Workflow

TEST = "/api/v1/app/triggers/test"
WORKFLOWS = "/api/v1/app/workflows"
EVIL_PATTERN = "**a**a**a**a**a**a**a**b"  # backtracking took more than 20 s on a 300-character branch


def ask(api, config, event="push", payload=None, **extra):
    body = {
        "config": {"repository": "Codertocat/Hello-World", **config},
        "event": event,
        "payload": payload or {**load_fixture("push_5"), "ref": "refs/heads/release/v1"},
        **extra,
    }
    return api.post(TEST, body, format="json")


def test_explains_a_match_filter_by_filter(api):
    response = ask(
        api, {"events": ["push"], "branches": ["release/**"], "paths": ["docs/**"]}, changed_files=["docs/intro.md"]
    )

    assert response.status_code == 200
    assert response.json() == {
        "matched": True,
        "reasons": [
            'event: "push" is in "push"',
            'branches: "release/v1" selected by "release/**"',
            'paths: "docs/intro.md" selected by "docs/**"',
            'ignore_bots: sender "Codertocat" is not a bot (default true)',
        ],
    }


def test_explains_a_miss(api):
    body = ask(api, {"events": ["push"], "branches": ["main", "!release/**"]}).json()

    assert body["matched"] is False
    assert 'branches: "release/v1" excluded by "!release/**"' in body["reasons"]


def test_changed_files_default_to_the_push_commits(api):
    payload = {
        **load_fixture("push_5"),
        "ref": "refs/heads/main",
        "commits": [{"added": ["src/app.py"], "modified": [], "removed": []}],
    }

    body = ask(api, {"events": ["push"], "paths": ["docs/**"]}, payload=payload).json()

    assert body["matched"] is False and "paths: none of 1 changed files selected" in body["reasons"]


def test_explains_that_bots_and_drafts_are_ignored_by_default(api):
    payload = {**load_fixture("pull_request__opened"), "sender": {"login": "x[bot]", "type": "Bot"}}
    payload["pull_request"]["draft"] = True

    body = ask(api, {"events": ["pull_request"]}, event="pull_request", payload=payload).json()

    assert body["matched"] is False
    assert body["reasons"][-2:] == [
        'ignore_bots: sender "x[bot]" is a bot (default true)',
        "ignore_drafts: the pull request is a draft (default true)",
    ]


def test_explains_that_the_apps_own_events_never_start_a_run(api):
    payload = {
        **load_fixture("issue_comment__created"),
        "sender": {"login": "ai-workflow-teams-test[bot]", "type": "Bot"},
    }

    body = ask(api, {"events": ["issue_comment"], "ignore_bots": False}, event="issue_comment", payload=payload).json()

    assert body == {
        "matched": False,
        "reasons": [
            'event: "issue_comment" is in "issue_comment"',
            "sender is this App: its own events never start a run",
        ],
    }


@pytest.mark.parametrize(
    "event, payload",
    [
        ("push", {"sender": "someone", "ref": 5, "commits": "abc"}),
        ("push", {"commits": [1, {"added": "a.py"}], "pusher": []}),
        ("pull_request", {"action": ["opened"], "pull_request": "2"}),
        (
            "pull_request",
            {"action": "opened", "pull_request": {"base": [], "labels": [1, {"name": 2}], "draft": "yes"}},
        ),
        ("issue_comment", {"comment": {"user": "x"}, "issue": {"labels": {}}, "sender": {"login": 7, "id": []}}),
        ("check_run", {"check_run": {"check_suite": "s"}}),
    ],
)
def test_sample_payloads_of_any_shape_are_explained_not_a_500(api, event, payload):
    config = {
        "events": [event],
        "branches": ["main"],
        "paths": ["src/**"],
        "label_filter": ["x"],
        "author_filter": ["y"],
    }

    response = ask(api, config, event=event, payload=payload)

    assert response.status_code == 200
    assert response.json()["matched"] is False


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


@pytest.mark.parametrize(
    "config, field, pattern",
    [
        ({"events": ["push"], "branches": ["**a" * 85 + "b"]}, "branches", "**a" * 85 + "b"),
        ({"events": ["push"], "tags": [f"v{n}.*" for n in range(101)]}, "tags", None),
        ({"events": ["push"], "paths": [f"docs/{n}/**" for n in range(101)]}, "paths", None),
        ({"events": ["pull_request"], "label_filter": [f"label-{n}" for n in range(101)]}, "label_filter", None),
        ({"events": ["pull_request"], "author_ignore": ["a" * 256]}, "author_ignore", None),
        ({"events": ["push"] * (len(WORKFLOW_EVENTS) + 1)}, "events", None),
    ],
    ids=[
        "256-character pattern",
        "101 tags",
        "101 paths",
        "101 labels",
        "256-character login",
        "more events than exist",
    ],
)
def test_oversized_configs_are_a_400_naming_the_field(api, config, field, pattern):
    response = ask(api, config)

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "detail"} and "at most" in body["error"]
    assert (body["detail"]["field"], body["detail"].get("pattern")) == (field, pattern)


@pytest.mark.parametrize(
    "patterns, branch",
    [
        ([EVIL_PATTERN], "a" * 300),
        ([EVIL_PATTERN], "a" * 1000),
        (
            [f"{'**a' * 84}{n:03}" for n in range(100)],
            "a" * 1000,
        ),  # as many as a list holds, as long as a pattern may be
    ],
    ids=["the reported attack", "on 1,000 characters", "100 patterns of 255 characters"],
)
def test_evil_patterns_answer_quickly_and_do_not_match(api, patterns, branch):
    payload = {**load_fixture("push_5"), "ref": f"refs/heads/{branch}"}

    started = time.perf_counter()
    response = ask(api, {"events": ["push"], "branches": patterns}, payload=payload)
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert response.json()["matched"] is False
    assert elapsed < 1


def test_a_workflow_with_more_than_20_triggers_is_a_400_and_nothing_is_written(api):
    trigger = {"config": {"repository": "Codertocat/Hello-World", "events": ["push"]}}
    definition = {"nodes": [{"id": "ok", "type": "logic.condition", "params": {"condition": "true"}}], "edges": []}

    with CaptureQueriesContext(connection) as queries:
        response = api.post(
            WORKFLOWS, {"name": "Many", "definition": definition, "triggers": [trigger] * 21}, format="json"
        )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "detail"} and "no more than 20" in str(body["detail"]["triggers"])
    assert not [query for query in queries.captured_queries if "triggers_trigger" in query["sql"]]
    assert not Workflow.objects.exists() and not Trigger.objects.exists()


def test_the_trigger_service_holds_the_cap_for_every_caller(user):
    from triggers.services import TriggerInvalid, triggers_replace
    from workflows.services import workflow_create

    definition = {"nodes": [{"id": "ok", "type": "logic.condition", "params": {"condition": "true"}}], "edges": []}
    workflow = workflow_create(owner=user, name="Many", definition=definition)

    with pytest.raises(TriggerInvalid, match="at most 20 triggers"):
        triggers_replace(workflow=workflow, configs=[{"repository": "Codertocat/Hello-World", "events": ["push"]}] * 21)

    assert not Trigger.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"config": {}, "event": "push"},
        {"config": {}, "event": "nope", "payload": {}},
        {"config": [], "event": "push", "payload": {}},
    ],
)
def test_malformed_requests_are_a_400(api, body):
    assert api.post(TEST, body, format="json").status_code == 400


def test_needs_a_jwt(client, db):
    assert client.post(TEST, {}, content_type="application/json").status_code == 401
