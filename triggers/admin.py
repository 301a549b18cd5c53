"""Triggers, read-only (the API checks and indexes them), and the answer to "why did (or didn't)
this delivery start my workflow?": each trigger's decision on a stored delivery, with reasons.

The decisions are the dispatcher's, recomputed from what is stored now: the candidates it would
consider and the filters it would apply. GitHub is not asked, so a path filter whose changed
files the payload does not list is reported as depending on them."""

import json
from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from github_app.install.selectors import installation_covers, repository_owner_ids
from github_app.models import WebhookDelivery
from github_app.webhooks.selectors import delivery_payload, delivery_payload_kept
from triggers.dispatch import trigger_candidates
from triggers.filters import payload_changed_files, trigger_evaluate
from triggers.models import Trigger
from workflows.admin import WebhookDeliveryRunsAdmin
from workflows.models import WorkflowRun

PATH_FILTERS = ("paths", "paths_ignore")
OTHER_TRIGGERS_SHOWN = 200
MATCHED, NOT_MATCHED, DEPENDS_ON_FILES, UNKNOWN = "yes", "no", "depends on the changed files", "unknown"


@dataclass(frozen=True)
class Decision:
    trigger: Trigger
    matched: str
    reasons: list[str]
    run: WorkflowRun | None = None


def _evaluated(config: dict, event: str, payload: dict, changed_files: list[str] | None) -> tuple[str, list[str]]:
    """The trigger's verdict and reasons; path filters the payload cannot decide are left to the
    files the dispatcher reads from GitHub."""
    if changed_files is not None or not any(key in config for key in PATH_FILTERS):
        evaluation = trigger_evaluate(config, event, payload, changed_files)
        return (MATCHED if evaluation.matched else NOT_MATCHED), evaluation.reasons
    without_paths = {key: value for key, value in config.items() if key not in PATH_FILTERS}
    evaluation = trigger_evaluate(without_paths, event, payload, None)
    if not evaluation.matched:
        return NOT_MATCHED, evaluation.reasons
    files_note = (
        "paths: the payload does not list the changed files; the dispatcher asks GitHub for them "
        "(path filters pass when GitHub cannot tell), and this page does not"
    )
    return DEPENDS_ON_FILES, [*evaluation.reasons, files_note]


def _candidate_decisions(delivery: WebhookDelivery, candidates: list[Trigger]) -> list[Decision]:
    runs = {run.workflow_id: run for run in WorkflowRun.objects.filter(delivery=delivery).defer("payload")}
    payload = delivery_payload(delivery_pk=delivery.pk) if delivery_payload_kept(delivery_pk=delivery.pk) else None
    if payload is None:
        purged = ["the payload has been purged by retention: the filters cannot be applied again"]
        return [Decision(trigger, UNKNOWN, purged, runs.get(trigger.workflow_id)) for trigger in candidates]
    changed_files = payload_changed_files(delivery.event, payload)
    decisions = []
    for trigger in candidates:
        matched, reasons = _evaluated(trigger.config, delivery.event, payload, changed_files)
        decisions.append(Decision(trigger, matched, reasons, runs.get(trigger.workflow_id)))
    return decisions


def _not_a_candidate_because(trigger: Trigger, delivery: WebhookDelivery, *, covered: bool, owners: set[int]) -> str:
    workflow, repository, installation_id = trigger.workflow, delivery.repository_full_name, delivery.installation_id
    events = trigger.config.get("events") or []
    if not trigger.is_active:
        return "the trigger is switched off"
    if workflow.deleted_at is not None:
        return "its workflow is deleted"
    if not workflow.is_active:
        return "its workflow is switched off"
    if delivery.event not in events:
        return f'it listens to {", ".join(events)}, not to "{delivery.event}"'
    if installation_id is None:
        return "the delivery names no installation: an account-wide event starts no workflow"
    if not covered:
        return (
            f"installation {installation_id} does not cover {repository}: "
            "it is uninstalled or suspended, or the repository is not selected"
        )
    if workflow.owner_id not in owners:
        return (
            f'the workflow\'s owner "{workflow.owner}" does not reach {repository} through installation '
            f"{installation_id}: their own GitHub token does not see it, or their connection is revoked"
        )
    return "the trigger index has no row for this repository and event"


def _reach(delivery: WebhookDelivery) -> tuple[bool, set[int]]:
    """Whether the delivery's installation covers its repository, and which users reach it there."""
    installation_id, repository = delivery.installation_id, delivery.repository_full_name
    if installation_id is None:
        return False, set()
    grants = repository_owner_ids(
        installation_id=installation_id, repository_id=delivery.repository_id, repository=repository
    )
    covered = installation_covers(installation_id=installation_id, repository=repository)
    return covered, {grant["connection__user_id"] for grant in grants}


def _other_decisions(delivery: WebhookDelivery, candidates: list[Trigger]) -> list[Decision]:
    """Every other trigger on the delivery's repository, with why the dispatcher left it out."""
    others = (
        Trigger.objects.filter(index_rows__repository=delivery.repository_full_name.lower())
        .exclude(pk__in=[candidate.pk for candidate in candidates])
        .select_related("workflow__owner")
        .distinct()[:OTHER_TRIGGERS_SHOWN]
    )
    covered, owners = _reach(delivery)
    return [
        Decision(trigger, NOT_MATCHED, [_not_a_candidate_because(trigger, delivery, covered=covered, owners=owners)])
        for trigger in others
    ]


def delivery_decisions(delivery: WebhookDelivery) -> tuple[list[Decision], list[Decision]]:
    """The decisions of the delivery's candidate triggers, and of the other triggers on its repository."""
    if not delivery.repository_full_name:
        return [], []
    candidates = trigger_candidates(
        installation_id=delivery.installation_id,
        repository_id=delivery.repository_id,
        repository=delivery.repository_full_name,
        event=delivery.event,
    )
    return _candidate_decisions(delivery, candidates), _other_decisions(delivery, candidates)


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ["id", "workflow", "repository", "events", "is_active", "created_at"]
    list_filter = ["is_active", "workflow__is_active"]
    list_select_related = ["workflow"]
    search_fields = ["workflow__name", "config__repository"]
    fields = readonly_fields = ("id", "workflow", "is_active", "config_json", "created_at")

    @admin.display(description="repository")
    def repository(self, trigger: Trigger) -> str:
        return trigger.config.get("repository", "")

    @admin.display(description="events")
    def events(self, trigger: Trigger) -> str:
        return ", ".join(trigger.config.get("events") or [])

    @admin.display(description="config")
    def config_json(self, trigger: Trigger) -> str:
        return format_html("<pre>{}</pre>", json.dumps(trigger.config, indent=2))

    def get_urls(self):
        decisions = path(
            "delivery/<int:delivery_pk>/decisions/",
            self.admin_site.admin_view(self.delivery_decisions_view),
            name="triggers_trigger_delivery_decisions",
        )
        return [decisions, *super().get_urls()]

    def delivery_decisions_view(self, request: HttpRequest, delivery_pk: int) -> TemplateResponse:
        if not (self.has_view_permission(request) and request.user.has_perm("github_app.view_webhookdelivery")):
            raise PermissionDenied
        delivery = get_object_or_404(WebhookDelivery.objects.defer("payload"), pk=delivery_pk)
        candidates, others = delivery_decisions(delivery)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Why did delivery {delivery.delivery_id} start what it started?",
            "delivery": delivery,
            "delivery_url": reverse("admin:github_app_webhookdelivery_change", args=[delivery.pk]),
            "candidates": candidates,
            "others": others,
            "others_cut": len(others) >= OTHER_TRIGGERS_SHOWN,
        }
        return TemplateResponse(request, "admin/triggers/trigger/delivery_decisions.html", context)

    def has_add_permission(self, request) -> bool:
        return False  # configs are checked and indexed by the API

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the index rows go with the trigger only through the API


admin.site.unregister(WebhookDelivery)


@admin.register(WebhookDelivery)
class WebhookDeliveryDecisionsAdmin(WebhookDeliveryRunsAdmin):
    """The delivery pages, with a way to each trigger's decision on the delivery."""

    change_form_template = "admin/triggers/webhookdelivery_change_form.html"
