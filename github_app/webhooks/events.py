"""What processing does with each event: one table keyed by `event.action` or `event`.

1. An event (or event.action) in IGNORED_EVENTS is marked ignored.
2. A lifecycle handler keeps our installation records true.
3. An event in WORKFLOW_EVENTS goes on to the dispatcher, which starts workflow runs.
4. Anything else is unknown: logged and marked ignored.
"""

from collections.abc import Callable
from datetime import datetime

from github_app.install.installations import (
    github_user_authorization_revoke,
    installation_account_rename,
    installation_is_newer_than,
    installation_mark_deleted,
    installation_record,
    installation_repositories_add,
    installation_repositories_replace,
    installation_resync,
    installation_upsert,
)
from github_app.install.repository_access import installation_access_sync, repository_access_remove
from github_app.models import InstallationRepository


def _installation_created(payload: dict, as_of: datetime) -> None:
    """The one event that carries both aspects: each is applied unless a newer one was."""
    installation_id = payload["installation"]["id"]
    if not installation_is_newer_than(installation_id=installation_id, as_of=as_of, aspect="state_as_of"):
        installation_upsert(data=payload["installation"], as_of=as_of)
    if not installation_is_newer_than(installation_id=installation_id, as_of=as_of, aspect="repositories_as_of"):
        installation = installation_record(data=payload["installation"])
        installation_repositories_replace(
            installation=installation, repositories=payload.get("repositories") or [], as_of=as_of
        )
    installation_access_sync(installation_id=installation_id)


def _installation_deleted(payload: dict, as_of: datetime) -> None:
    installation_mark_deleted(data=payload["installation"], as_of=as_of)


def _installation_changed(payload: dict, as_of: datetime) -> None:
    """suspend, unsuspend, new_permissions_accepted: the payload carries the new state."""
    installation_upsert(data=payload["installation"], as_of=as_of)
    if payload["action"] != "suspend":
        installation_access_sync(installation_id=payload["installation"]["id"])


def _repositories_added(payload: dict, as_of: datetime) -> None:
    installation_id = payload["installation"]["id"]
    if payload.get("repository_selection") == "all":
        # "All repositories" is not listed in the payload: ask GitHub for the whole list.
        installation_resync(installation_id=installation_id)
    else:
        installation = installation_record(data=payload["installation"])
        installation_repositories_add(
            installation=installation, repositories=payload.get("repositories_added") or [], as_of=as_of
        )
    installation_access_sync(installation_id=installation_id)


def _repositories_removed(payload: dict, as_of: datetime) -> None:
    installation = installation_record(data=payload["installation"])
    removed = [repo["id"] for repo in payload.get("repositories_removed") or []]
    InstallationRepository.objects.filter(installation=installation, repository_id__in=removed).delete()
    repository_access_remove(installation_id=installation.installation_id, repository_ids=removed)
    installation_access_sync(installation_id=installation.installation_id)


def _authorization_revoked(payload: dict, as_of: datetime) -> None:
    github_user_authorization_revoke(github_user_id=payload["sender"]["id"])


def _account_renamed(payload: dict, as_of: datetime) -> None:
    installation_account_rename(installation_id=payload["installation"]["id"], account=payload["account"])


LIFECYCLE_HANDLERS: dict[str, Callable[[dict, datetime], None]] = {
    "installation.created": _installation_created,
    "installation.deleted": _installation_deleted,
    "installation.suspend": _installation_changed,
    "installation.unsuspend": _installation_changed,
    "installation.new_permissions_accepted": _installation_changed,
    "installation_repositories.added": _repositories_added,
    "installation_repositories.removed": _repositories_removed,
    "installation_target.renamed": _account_renamed,
    "github_app_authorization.revoked": _authorization_revoked,
}

# Events a workflow trigger can name: the repository events GitHub Actions can run on, plus
# the job- and comment-level events our App may subscribe to.
WORKFLOW_EVENTS = frozenset(
    {
        "branch_protection_rule",
        "check_run",
        "check_suite",
        "commit_comment",
        "create",
        "delete",
        "deployment",
        "deployment_status",
        "discussion",
        "discussion_comment",
        "fork",
        "gollum",
        "issue_comment",
        "issues",
        "label",
        "merge_group",
        "milestone",
        "page_build",
        "public",
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "pull_request_review_thread",
        "push",
        "registry_package",
        "release",
        "repository_dispatch",
        "status",
        "watch",
        "star",
        "workflow_dispatch",
        "workflow_job",
        "workflow_run",
    }
)

# Deliberately not processed: connectivity checks, and account-, organisation- or
# marketplace-level events that no workflow runs on.
IGNORED_EVENTS = frozenset(
    {
        "ping",
        "meta",
        "marketplace_purchase",
        "sponsorship",
        "security_advisory",
        "organization",
        "membership",
        "team",
        "team_add",
        "org_block",
        "member",
        "deploy_key",
        "repository_import",
        "project",
        "project_card",
        "project_column",
        "projects_v2",
        "projects_v2_item",
        "package",
    }
)


# Which of the installation's timestamps a lifecycle event is ordered by: a delivery older than
# the state it would change is stale and is not applied (a replayed suspend after a newer
# unsuspend). The two are apart because a repositories event carries no suspension state.
ORDERED_BY = {
    "installation": ("state_as_of",),
    "installation.created": ("state_as_of", "repositories_as_of"),
    "installation_repositories": ("repositories_as_of",),
}


def lifecycle_handler(event: str, action: str) -> Callable[[dict, datetime], None] | None:
    return LIFECYCLE_HANDLERS.get(f"{event}.{action}") or LIFECYCLE_HANDLERS.get(event)


def lifecycle_is_stale(event: str, action: str, payload: dict, as_of: datetime) -> bool:
    """Whether our record is newer than the delivery in every aspect the event would change."""
    aspects = ORDERED_BY.get(f"{event}.{action}") or ORDERED_BY.get(event) or ()
    installation_id = (payload.get("installation") or {}).get("id")
    if not aspects or not installation_id:
        return False
    return all(
        installation_is_newer_than(installation_id=installation_id, as_of=as_of, aspect=aspect) for aspect in aspects
    )


def is_ignored(event: str, action: str) -> bool:
    return event in IGNORED_EVENTS or f"{event}.{action}" in IGNORED_EVENTS
