"""What processing does with each event: one table keyed by `event.action` or `event`.

1. An event (or event.action) in IGNORED_EVENTS is marked ignored.
2. A lifecycle handler keeps our installation records true.
3. An event in WORKFLOW_EVENTS goes on to the dispatcher, which starts workflow runs.
4. Anything else is unknown: logged and marked ignored.
"""

from collections.abc import Callable

from github_app.services.installations import (
    github_user_authorization_revoke,
    installation_mark_deleted,
    installation_repositories_add,
    installation_resync,
    installation_store,
    installation_upsert,
)
from github_app.models import InstallationRepository


def _installation_created(payload: dict) -> None:
    installation_store(data=payload["installation"], repositories=payload.get("repositories") or [])


def _installation_deleted(payload: dict) -> None:
    installation_mark_deleted(data=payload["installation"])


def _installation_changed(payload: dict) -> None:
    """suspend, unsuspend, new_permissions_accepted: the payload carries the new state."""
    installation_upsert(data=payload["installation"])


def _repositories_added(payload: dict) -> None:
    if payload.get("repository_selection") == "all":
        # "All repositories" is not listed in the payload: ask GitHub for the whole list.
        installation_resync(installation_id=payload["installation"]["id"])
        return
    installation = installation_upsert(data=payload["installation"])
    installation_repositories_add(installation=installation, repositories=payload.get("repositories_added") or [])


def _repositories_removed(payload: dict) -> None:
    installation = installation_upsert(data=payload["installation"])
    removed = [repo["id"] for repo in payload.get("repositories_removed") or []]
    InstallationRepository.objects.filter(installation=installation, repository_id__in=removed).delete()


def _authorization_revoked(payload: dict) -> None:
    github_user_authorization_revoke(github_user_id=payload["sender"]["id"])


def _account_renamed(payload: dict) -> None:
    installation_upsert(data={**payload["installation"], "account": payload["account"]})


LIFECYCLE_HANDLERS: dict[str, Callable[[dict], None]] = {
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
WORKFLOW_EVENTS = frozenset({
    "branch_protection_rule", "check_run", "check_suite", "commit_comment", "create", "delete",
    "deployment", "deployment_status", "discussion", "discussion_comment", "fork", "gollum",
    "issue_comment", "issues", "label", "merge_group", "milestone", "page_build", "public",
    "pull_request", "pull_request_review", "pull_request_review_comment",
    "pull_request_review_thread", "push", "registry_package", "release", "repository_dispatch",
    "status", "watch", "star", "workflow_dispatch", "workflow_job", "workflow_run",
})

# Deliberately not processed: connectivity checks, and account-, organisation- or
# marketplace-level events that no workflow runs on.
IGNORED_EVENTS = frozenset({
    "ping", "meta", "marketplace_purchase", "sponsorship", "security_advisory", "organization",
    "membership", "team", "team_add", "org_block", "member", "deploy_key", "repository_import",
    "project", "project_card", "project_column", "projects_v2", "projects_v2_item",
    "package",
})


def lifecycle_handler(event: str, action: str) -> Callable[[dict], None] | None:
    return LIFECYCLE_HANDLERS.get(f"{event}.{action}") or LIFECYCLE_HANDLERS.get(event)


def is_ignored(event: str, action: str) -> bool:
    return event in IGNORED_EVENTS or f"{event}.{action}" in IGNORED_EVENTS
