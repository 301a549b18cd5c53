"""The App manifest that `/setup/github-app/` sends to GitHub: the URLs of this deployment, the
permissions every shipped node needs, and every event a workflow trigger can name, each with the
read permission GitHub requires before an App may subscribe to it.
https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
"""

from django.urls import reverse

from github_app.webhooks.events import WORKFLOW_EVENTS
from workflows.nodes import NODE_TYPES

# The repository permission an App needs, at least at read level, to subscribe to each event.
# https://docs.github.com/en/webhooks/webhook-events-and-payloads
EVENT_PERMISSIONS = {
    "branch_protection_rule": "administration",
    "check_run": "checks",
    "check_suite": "checks",
    "commit_comment": "contents",
    "create": "contents",
    "delete": "contents",
    "deployment": "deployments",
    "deployment_status": "deployments",
    "discussion": "discussions",
    "discussion_comment": "discussions",
    "fork": "contents",
    "gollum": "contents",
    "issue_comment": "issues",
    "issues": "issues",
    "label": "metadata",
    "merge_group": "merge_queues",
    "milestone": "issues",
    "page_build": "pages",
    "public": "metadata",
    "pull_request": "pull_requests",
    "pull_request_review": "pull_requests",
    "pull_request_review_comment": "pull_requests",
    "pull_request_review_thread": "pull_requests",
    "push": "contents",
    "registry_package": "packages",
    "release": "contents",
    "repository_dispatch": "contents",
    "star": "metadata",
    "status": "statuses",
    "watch": "metadata",
    "workflow_dispatch": "contents",
    "workflow_job": "actions",
    "workflow_run": "actions",
}
_ACCESS_ORDER = {"read": 1, "write": 2}


def _widest(granted: dict[str, str], permission: str, access: str) -> None:
    if _ACCESS_ORDER[access] > _ACCESS_ORDER.get(granted.get(permission, ""), 0):
        granted[permission] = access


def manifest_permissions() -> dict[str, str]:
    """What every node needs, widened to read for what every event needs; `metadata: read`
    GitHub grants every App anyway."""
    granted = {"metadata": "read"}
    for node in NODE_TYPES.values():
        for permission, access in node.permissions.items():
            _widest(granted, permission, access)
    for event in WORKFLOW_EVENTS:
        _widest(granted, EVENT_PERMISSIONS[event], "read")
    return dict(sorted(granted.items()))


def app_manifest_build(*, base_url: str, name: str) -> dict:
    """The manifest for an App served at `base_url` (scheme and host). Installing asks the user
    to authorise the App, whose OAuth code proves that the installing user reaches the
    installation (github_app.install.flow)."""
    install_callback = base_url + reverse("github-install-callback")
    return {
        "name": name,
        "url": base_url,
        "hook_attributes": {"url": base_url + reverse("github-webhook-api"), "active": True},
        "redirect_url": base_url + reverse("app-setup-done"),
        "callback_urls": [install_callback],
        "setup_url": install_callback,
        "setup_on_update": True,
        "request_oauth_on_install": True,
        "public": False,
        "default_permissions": manifest_permissions(),
        "default_events": sorted(WORKFLOW_EVENTS),
    }
