"""Triggers stored before `ignore_bots` and `ignore_drafts` defaulted to true keep matching what
they matched: a bot's or a draft's event still starts their runs."""

import importlib

import pytest
from django.apps import apps

from tests.conftest import load_fixture
from triggers.filters import trigger_evaluate
from triggers.models import Trigger
from workflows.services import workflow_create

flags_explicit = importlib.import_module("triggers.migrations.0003_trigger_flags_explicit")

REPO = "Codertocat/Hello-World"
CONDITION = {"nodes": [{"id": "ok", "type": "logic.condition", "params": {"condition": "true"}}], "edges": []}
SAID_NOTHING = {"repository": REPO, "events": ["pull_request"]}


def draft_by_a_bot() -> dict:
    payload = {**load_fixture("pull_request__opened"), "sender": {"login": "dependabot[bot]", "type": "Bot"}}
    payload["pull_request"]["draft"] = True
    return payload


@pytest.mark.parametrize(
    "stored, migrated",
    [
        ({}, {"ignore_bots": False, "ignore_drafts": False}),
        ({"ignore_bots": True}, {"ignore_bots": True, "ignore_drafts": False}),
        ({"ignore_drafts": True}, {"ignore_bots": False, "ignore_drafts": True}),
        ({"ignore_bots": True, "ignore_drafts": False}, {"ignore_bots": True, "ignore_drafts": False}),
    ],
    ids=["neither flag", "ignore_bots only", "ignore_drafts only", "both"],
)
def test_only_missing_flags_are_written_out_as_false(stored, migrated):
    assert flags_explicit.config_with_old_defaults({**SAID_NOTHING, **stored}) == {**SAID_NOTHING, **migrated}


def test_a_config_that_said_nothing_still_matches_a_bots_draft_after_the_migration():
    payload = draft_by_a_bot()

    assert not trigger_evaluate(SAID_NOTHING, "pull_request", payload).matched
    assert trigger_evaluate(flags_explicit.config_with_old_defaults(SAID_NOTHING), "pull_request", payload).matched


def test_the_migration_rewrites_every_stored_config_that_lacked_a_flag(user, monkeypatch):
    monkeypatch.setattr(flags_explicit, "BATCH_SIZE", 2)
    workflow = workflow_create(owner=user, name="Old triggers", definition=CONDITION)
    stored = [SAID_NOTHING] * 3 + [
        {**SAID_NOTHING, "ignore_bots": True},
        {**SAID_NOTHING, "ignore_bots": True, "ignore_drafts": True},
    ]
    triggers = Trigger.objects.bulk_create(Trigger(workflow=workflow, config=config) for config in stored)

    flags_explicit.write_old_defaults(apps, schema_editor=None)

    configs = [Trigger.objects.get(pk=trigger.pk).config for trigger in triggers]
    assert configs == [flags_explicit.config_with_old_defaults(config) for config in stored]
    assert [trigger_evaluate(config, "pull_request", draft_by_a_bot()).matched for config in configs] == [
        True,
        True,
        True,
        False,
        False,
    ]
