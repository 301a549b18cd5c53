"""Trigger storage for workflows (the seam WORKFLOW_TRIGGERS_MODULE names), with every config
checked when it is saved: each refusal is a 400 naming the field and, for a pattern, the pattern."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from aiworkflow.errors import ApplicationError
from github_app.events import WORKFLOW_EVENTS
from github_app.models import REPOSITORY_FULL_NAME, InstallationRepository
from github_app.selectors import user_installation_ids
from triggers.models import Trigger, TriggerIndex
from triggers.patterns import PatternInvalid, pattern_compile
from workflows.models import Workflow

PATTERN_LISTS = ("branches", "branches_ignore", "tags", "tags_ignore", "paths", "paths_ignore")
NAME_LISTS = ("action_filter", "author_filter", "author_ignore", "label_filter")
FLAGS = ("ignore_bots", "ignore_drafts", "match_deletions")
CONFIG_KEYS = {"repository", "events", *PATTERN_LISTS, *NAME_LISTS, *FLAGS}


class TriggerInvalid(ApplicationError):
    status_code = 400
    default_message = "A trigger is invalid."


def _refuse(message: str, *, position: int | None, **detail) -> None:
    prefix = f"Trigger {position}: " if position is not None else ""
    raise TriggerInvalid(prefix + message, detail={"trigger": position, **detail})


def _string_list(config: dict, key: str, position: int | None) -> None:
    value = config[key]
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
        _refuse(f"`{key}` is a non-empty list of non-empty strings.", position=position, field=key)


def trigger_config_check(config, *, position: int | None = None) -> None:
    """Refuse a config GitHub Actions would refuse, or that names unknown keys or events."""
    if not isinstance(config, dict):
        _refuse("The config is an object.", position=position)
    unknown = set(config) - CONFIG_KEYS
    if unknown:
        _refuse(f"unknown keys {', '.join(sorted(unknown))}.", position=position, field=sorted(unknown)[0])
    if not isinstance(config.get("repository"), str) or not REPOSITORY_FULL_NAME.match(config["repository"]):
        _refuse("`repository` is owner/name.", position=position, field="repository")
    if "events" not in config:
        _refuse("`events` is required.", position=position, field="events")
    _string_list(config, "events", position)
    unknown_events = sorted(set(config["events"]) - WORKFLOW_EVENTS)
    if unknown_events:
        _refuse(f"unknown events {', '.join(unknown_events)}.", position=position, field="events")
    for key in (*PATTERN_LISTS, *NAME_LISTS):
        if key in config:
            _string_list(config, key, position)
    for key in FLAGS:
        if key in config and not isinstance(config[key], bool):
            _refuse(f"`{key}` is true or false.", position=position, field=key)
    for key in ("branches", "tags", "paths"):
        if key in config and f"{key}_ignore" in config:
            _refuse(f"`{key}` and `{key}_ignore` cannot be used together; use ! patterns in `{key}`.", position=position, field=key)
    for key in PATTERN_LISTS:
        for pattern in config.get(key, []):
            try:
                pattern_compile(pattern)
            except PatternInvalid as exc:
                _refuse(f"`{key}`: {exc}", position=position, field=key, pattern=pattern)


def _repository_covered(owner: AbstractBaseUser, repository: str) -> bool:
    return InstallationRepository.objects.filter(
        installation__installation_id__in=user_installation_ids(owner),
        installation__deleted_at__isnull=True,
        full_name__iexact=repository,
    ).exists()


@transaction.atomic
def triggers_replace(*, workflow: Workflow, configs: list) -> None:
    for position, config in enumerate(configs):
        trigger_config_check(config, position=position)
        if not _repository_covered(workflow.owner, config["repository"]):
            _refuse(
                f"none of your GitHub App installations covers {config['repository']}.",
                position=position, field="repository",
            )
    workflow.triggers.all().delete()
    triggers = Trigger.objects.bulk_create([Trigger(workflow=workflow, config=config) for config in configs])
    TriggerIndex.objects.bulk_create(
        TriggerIndex(trigger=trigger, repository=trigger.config["repository"].lower(), event=event, owner_id=workflow.owner_id)
        for trigger in triggers
        for event in dict.fromkeys(trigger.config["events"])
    )


def trigger_configs(*, workflow: Workflow) -> list[dict]:
    return [{"config": trigger.config, "is_active": trigger.is_active} for trigger in workflow.triggers.all()]
