"""Trigger storage for workflows, with every config checked when it is saved: each refusal is a
400 naming the field and, for a pattern, the pattern. A workflow and its triggers are saved
together here (workflow_save), since triggers build on workflows and not the other way round.

Configs come from users and every delivery to their repository evaluates them, so their size is
capped: the triggers per workflow, the entries per list and the characters per entry."""

import re

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from aiworkflow.errors import ApplicationError
from github_app.install.selectors import user_repository_access
from github_app.models import REPOSITORY_FULL_NAME
from github_app.webhooks.events import WORKFLOW_EVENTS
from triggers.filters import COMMAND_EVENTS, REPOSITORY_ROLES
from triggers.models import Trigger, TriggerIndex
from triggers.patterns import PatternInvalid, pattern_compile
from workflows.models import Workflow
from workflows.selectors import workflow_template_get
from workflows.services import workflow_create, workflow_update

PATTERN_LISTS = ("branches", "branches_ignore", "tags", "tags_ignore", "paths", "paths_ignore")
NAME_LISTS = ("action_filter", "author_filter", "author_ignore", "label_filter")
FLAGS = ("ignore_bots", "ignore_drafts", "match_deletions")
COMMAND_KEYS = ("command", "command_permission")
CONFIG_KEYS = {"repository", "events", *PATTERN_LISTS, *NAME_LISTS, *FLAGS, *COMMAND_KEYS}
COMMAND = re.compile(r"^/[A-Za-z0-9_-]{2,50}$")
MAX_ENTRIES_PER_LIST = 100  # patterns or names under one key; `events` holds at most every known event
MAX_ENTRY_LENGTH = 255  # characters in one pattern or name


class TriggerInvalid(ApplicationError):
    status_code = 400
    default_message = "A trigger is invalid."


def _refuse(message: str, *, position: int | None, **detail) -> None:
    prefix = f"Trigger {position}: " if position is not None else ""
    raise TriggerInvalid(prefix + message, detail={"trigger": position, **detail})


def _string_list(config: dict, key: str, position: int | None, *, most: int = MAX_ENTRIES_PER_LIST) -> None:
    value = config[key]
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
        _refuse(f"`{key}` is a non-empty list of non-empty strings.", position=position, field=key)
    if len(value) > most:
        _refuse(f"`{key}` holds at most {most} entries; it has {len(value)}.", position=position, field=key)
    too_long = next((item for item in value if len(item) > MAX_ENTRY_LENGTH), None)
    if too_long is not None:
        detail = {"pattern": too_long} if key in PATTERN_LISTS else {}
        _refuse(
            f"`{key}`: an entry is at most {MAX_ENTRY_LENGTH} characters; one has {len(too_long)}.",
            position=position,
            field=key,
            **detail,
        )


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
    _string_list(config, "events", position, most=len(WORKFLOW_EVENTS))
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
            _refuse(
                f"`{key}` and `{key}_ignore` cannot be used together; use ! patterns in `{key}`.",
                position=position,
                field=key,
            )
    for key in PATTERN_LISTS:
        for pattern in config.get(key, []):
            try:
                pattern_compile(pattern)
            except PatternInvalid as exc:
                _refuse(f"`{key}`: {exc}", position=position, field=key, pattern=pattern)
    _command_check(config, position)


def _command_check(config: dict, position: int | None) -> None:
    """A comment command: `/` and 2 to 50 letters, digits, `_` or `-`, on comment events only."""
    if "command" not in config:
        if "command_permission" in config:
            _refuse("`command_permission` needs a `command`.", position=position, field="command_permission")
        return
    command = config["command"]
    if not isinstance(command, str) or not COMMAND.match(command):
        _refuse(
            "`command` is `/` followed by 2 to 50 letters, digits, `_` or `-` (like /review).",
            position=position,
            field="command",
        )
    other_events = sorted(set(config["events"]) - COMMAND_EVENTS)
    if other_events:
        _refuse(
            f"with a `command`, `events` are among {', '.join(sorted(COMMAND_EVENTS))}; not {', '.join(other_events)}.",
            position=position,
            field="events",
        )
    permission = config.get("command_permission")
    if "command_permission" in config and permission not in REPOSITORY_ROLES:
        _refuse(
            f"`command_permission` is one of {', '.join(REPOSITORY_ROLES)}.",
            position=position,
            field="command_permission",
        )


def _repository_reached(owner: User, repository: str) -> bool:
    """Whether the owner's own GitHub token sees the repository in one of their installations."""
    return user_repository_access(user_id=owner.pk).filter(full_name__iexact=repository).exists()


@transaction.atomic
def triggers_replace(*, workflow: Workflow, configs: list) -> None:
    if len(configs) > settings.WORKFLOW_MAX_TRIGGERS:
        _refuse(
            f"A workflow has at most {settings.WORKFLOW_MAX_TRIGGERS} triggers; this one has {len(configs)}.",
            position=None,
            field="triggers",
        )
    for position, config in enumerate(configs):
        trigger_config_check(config, position=position)
        if not _repository_reached(workflow.owner, config["repository"]):
            _refuse(
                f"{config['repository']} is not among the repositories you have connected.",
                position=position,
                field="repository",
            )
    workflow.triggers.all().delete()
    triggers = Trigger.objects.bulk_create([Trigger(workflow=workflow, config=config) for config in configs])
    TriggerIndex.objects.bulk_create(
        TriggerIndex(
            trigger=trigger, repository=trigger.config["repository"].lower(), event=event, owner_id=workflow.owner_id
        )
        for trigger in triggers
        for event in dict.fromkeys(trigger.config["events"])
    )


@transaction.atomic
def workflow_save(
    *,
    owner: User,
    workflow: Workflow | None = None,
    name: str | None = None,
    definition: dict | None = None,
    is_active: bool | None = None,
    triggers: list | None = None,
) -> Workflow:
    """Create a workflow (no `workflow` given) or change one, and replace its triggers when
    `triggers` is given: all of it or nothing, since a refused trigger rolls the workflow back."""
    if workflow is None:
        if name is None or definition is None:
            raise TypeError("A new workflow needs a name and a definition.")
        workflow = workflow_create(
            owner=owner, name=name, definition=definition, is_active=True if is_active is None else is_active
        )
    else:
        workflow = workflow_update(workflow=workflow, name=name, definition=definition, is_active=is_active)
    if triggers is not None:
        triggers_replace(workflow=workflow, configs=triggers)
    return workflow


def workflow_save_from_template(
    *, owner: User, template_name: str, repository: str, name: str | None = None, is_active: bool = True
) -> Workflow:
    """Create a workflow from a shipped template, its triggers aimed at `repository`: saved as a
    hand-written one is, so the same checks (the repository among the owner's included) apply.
    The default name records the template and its version."""
    template = workflow_template_get(name=template_name)
    return workflow_save(
        owner=owner,
        name=name or f"{template['title']} (template {template['name']} v{template['version']})",
        definition=template["definition"],
        is_active=is_active,
        triggers=[{**config, "repository": repository} for config in template["triggers"]],
    )
