import json

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.utils.html import format_html

from aiworkflow.redaction import redact_secrets
from github_app.models import (
    Installation,
    InstallationRepository,
    PendingInstallCompletion,
    RedeliveryRequest,
    WebhookDelivery,
)
from github_app.webhooks.deliveries import DeliveryNotReplayable, delivery_replay


class InstallationRepositoryInline(admin.TabularInline):
    model = InstallationRepository
    fields = readonly_fields = ("repository_id", "full_name", "private")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Installation)
class InstallationAdmin(admin.ModelAdmin):
    """GitHub is the source of truth for installations: operators read them here, never edit."""

    list_display = [
        "installation_id",
        "account_login",
        "account_type",
        "repository_selection",
        "suspended_at",
        "deleted_at",
    ]
    list_filter = ["account_type", "repository_selection"]
    search_fields = ["account_login", "installation_id", "repositories__full_name"]
    inlines = [InstallationRepositoryInline]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in Installation._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(PendingInstallCompletion)
class PendingInstallCompletionAdmin(admin.ModelAdmin):
    """Installs verified at the callback, waiting for their user to complete them. Read-only; the
    user's GitHub tokens and the completion's digest are never shown. Deleting one cancels it."""

    list_display = fields = readonly_fields = (
        "installation_id",
        "user",
        "github_login",
        "setup_action",
        "created_at",
        "expires_at",
        "completed_at",
    )
    search_fields = ["installation_id", "github_login", "user__username"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


PAYLOAD_DISPLAY_LIMIT_BYTES = 2 * 1024 * 1024


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "delivery_id",
        "event",
        "action",
        "repository_full_name",
        "status",
        "attempts",
        "runs_started",
        "received_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["delivery_id", "repository_full_name", "sender_login"]
    date_hierarchy = "received_at"
    exclude = ["payload"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields if field.name != "payload"] + [
        "payload_redacted"
    ]
    actions = ["replay"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("payload")

    @admin.display(description="payload (values of secret-like keys hidden)")
    def payload_redacted(self, delivery: WebhookDelivery) -> str:
        if not delivery.payload:
            return "(purged)" if delivery.payload_purged_at else ""
        if len(delivery.payload) > PAYLOAD_DISPLAY_LIMIT_BYTES:
            return f"({len(delivery.payload):,} bytes: too large to show here)"
        return format_html("<pre>{}</pre>", json.dumps(redact_secrets(json.loads(bytes(delivery.payload))), indent=2))

    @admin.action(description="Replay the selected deliveries")
    def replay(self, request, queryset) -> None:
        replayed = 0
        for delivery in queryset:
            try:
                delivery_replay(delivery=delivery)
                replayed += 1
            except DeliveryNotReplayable as exc:
                self.message_user(request, f"{delivery.delivery_id}: {exc.message}", level=messages.WARNING)
        self.message_user(request, f"{replayed} delivery(ies) queued again.")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RedeliveryRequest)
class RedeliveryRequestAdmin(admin.ModelAdmin):
    """Deliveries GitHub failed to send and was asked to send again; read-only. "Received" tells
    whether the redelivery has reached us since."""

    list_display = [
        "delivery_id",
        "event",
        "action",
        "failed_status",
        "failed_at",
        "refused_with",
        "requested_at",
        "received",
    ]
    list_filter = ["event"]
    search_fields = ["delivery_id"]
    date_hierarchy = "requested_at"

    def get_queryset(self, request):
        stored = WebhookDelivery.objects.filter(delivery_id=OuterRef("delivery_id"))
        return super().get_queryset(request).annotate(received=Exists(stored))

    @admin.display(boolean=True, ordering="received")
    def received(self, redelivery: RedeliveryRequest) -> bool:
        return redelivery.received  # type: ignore[attr-defined]  # annotated by get_queryset

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
