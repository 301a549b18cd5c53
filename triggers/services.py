"""Trigger storage for workflows (the seam WORKFLOW_TRIGGERS_MODULE names). Only `repository`
and `events` are required; the filters are GitHub Actions' and are checked in full by the
trigger engine."""

import re

from django.db import transaction

from aiworkflow.errors import ApplicationError
from github_app.events import WORKFLOW_EVENTS
from triggers.models import Trigger
from workflows.models import Workflow

CONFIG_KEYS = {
    "repository", "events", "action_filter", "branches", "branches_ignore", "tags", "tags_ignore", "paths",
    "paths_ignore", "author_filter", "author_ignore", "label_filter", "ignore_bots", "ignore_drafts",
}
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class TriggerInvalid(ApplicationError):
    status_code = 400
    default_message = "A trigger is invalid."


def trigger_config_check(config, *, position: int) -> None:
    where = {"trigger": position}
    if not isinstance(config, dict):
        raise TriggerInvalid(f"Trigger {position}: the config is an object.", detail=where)
    unknown = set(config) - CONFIG_KEYS
    if unknown:
        raise TriggerInvalid(f"Trigger {position}: unknown keys {', '.join(sorted(unknown))}.", detail=where)
    if not isinstance(config.get("repository"), str) or not _REPOSITORY.match(config["repository"]):
        raise TriggerInvalid(f"Trigger {position}: `repository` is owner/name.", detail={**where, "field": "repository"})
    events = config.get("events")
    if not isinstance(events, list) or not events or not all(isinstance(event, str) for event in events):
        raise TriggerInvalid(f"Trigger {position}: `events` is a non-empty list of event names.", detail={**where, "field": "events"})
    unknown_events = sorted(set(events) - WORKFLOW_EVENTS)
    if unknown_events:
        raise TriggerInvalid(
            f"Trigger {position}: unknown events {', '.join(unknown_events)}.", detail={**where, "field": "events"}
        )


@transaction.atomic
def triggers_replace(*, workflow: Workflow, configs: list) -> None:
    for position, config in enumerate(configs):
        trigger_config_check(config, position=position)
    workflow.triggers.all().delete()
    Trigger.objects.bulk_create([Trigger(workflow=workflow, config=config) for config in configs])


def trigger_configs(*, workflow: Workflow) -> list[dict]:
    return [{"config": trigger.config, "is_active": trigger.is_active} for trigger in workflow.triggers.all()]
