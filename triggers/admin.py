"""Triggers, read-only (the API checks and indexes them), and each trigger's decision on a stored
delivery (see triggers.selectors.delivery_trigger_decisions)."""

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from github_app.models import WebhookDelivery
from triggers.models import Trigger
from triggers.selectors import OTHER_TRIGGERS_SHOWN, delivery_trigger_decisions
from workflows.admin import WebhookDeliveryRunsAdmin


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
        candidates, others = delivery_trigger_decisions(delivery=delivery)
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
