import json

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.utils.html import format_html

from aiworkflow.errors import ApplicationError
from aiworkflow.redaction import redact_secrets
from github_app.install.installations import installation_resync
from github_app.models import (
    AppRegistration,
    Installation,
    InstallationRepository,
    PendingInstallCompletion,
    RedeliveryRequest,
    WebhookDelivery,
)
from github_app.webhooks.deliveries import DeliveryNotReplayable, delivery_replay

PAYLOAD_DISPLAY_LIMIT_BYTES = 2 * 1024 * 1024
PAYLOAD_PURGED = "(purged)"


def payload_too_large(size: int) -> str:
    return f"({size:,} bytes: too large to show here)"


def payload_html(payload: dict) -> str:
    """An event's payload without the values of secret-like keys: GitHub puts hook secrets,
    tokens and keys in some of them."""
    return format_html("<pre>{}</pre>", json.dumps(redact_secrets(payload), indent=2))


class RecentValuesFilter(admin.SimpleListFilter):
    """Offers the distinct values of `field` among the newest rows (by `recency`): a choice that
    stays short and cheap however large the table grows. A value not offered can still be asked
    for in the address, and is then offered too."""

    field: str
    recency: str
    rows_read = 1000
    values_offered = 50

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        newest = model_admin.model._default_manager.order_by(f"-{self.recency}").values_list(self.field, flat=True)
        present = [str(value) for value in newest[: self.rows_read] if value not in (None, "")]
        offered = list(dict.fromkeys(present))[: self.values_offered]
        selected = self.value()
        if selected and selected not in offered:
            offered.insert(0, selected)
        return [(value, value) for value in offered]

    def queryset(self, request, queryset):
        selected = self.value()
        if not selected:
            return queryset
        try:
            return queryset.filter(**{self.field: selected})
        except (ValueError, ValidationError) as exc:  # not a number, for an id
            raise IncorrectLookupParameters(exc) from exc


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
    actions = ["resync"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in Installation._meta.fields]

    @admin.action(description="Resync the selected installations from GitHub")
    def resync(self, request, queryset) -> None:
        resynced = 0
        for installation in queryset:
            try:
                installation_resync(installation_id=installation.installation_id)
            except ApplicationError as exc:  # GitHub refused, failed or was out of reach
                self.message_user(
                    request, f"Installation {installation.installation_id}: {exc.message}", level=messages.ERROR
                )
            else:
                resynced += 1
        if resynced:
            self.message_user(request, f"{resynced} installation(s) resynced from GitHub.")

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


class DeliveryInstallationFilter(RecentValuesFilter):
    title = "installation"
    parameter_name = "installation"
    field = "installation_id"
    recency = "received_at"


class DeliveryRepositoryFilter(RecentValuesFilter):
    title = "repository"
    parameter_name = "repository"
    field = "repository_full_name"
    recency = "received_at"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "delivery_id",
        "event",
        "action",
        "status",
        "installation_id",
        "repository_full_name",
        "attempts",
        "runs_started",
        "received_at",
    ]
    list_filter = ["status", "event", DeliveryInstallationFilter, DeliveryRepositoryFilter]
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
        stored = bytes(delivery.payload)
        if not stored:
            return PAYLOAD_PURGED if delivery.payload_purged_at else ""
        if len(stored) > PAYLOAD_DISPLAY_LIMIT_BYTES:
            return payload_too_large(len(stored))
        return payload_html(json.loads(stored))

    @admin.action(description="Replay the selected deliveries")
    def replay(self, request, queryset) -> None:
        selected = list(queryset)
        refused = []
        for delivery in selected:
            try:
                delivery_replay(delivery=delivery)
            except DeliveryNotReplayable as exc:
                refused.append(f"{delivery.delivery_id}: {exc.message}")
        self.message_user(request, f"{len(selected) - len(refused)} of {len(selected)} delivery(ies) queued again.")
        if refused:
            self.message_user(request, "Not replayed: " + " ".join(refused), level=messages.WARNING)

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


@admin.register(AppRegistration)
class AppRegistrationAdmin(admin.ModelAdmin):
    """Apps registered at /setup/github-app/; the newest is the one in use wherever the
    environment leaves a setting empty. Read-only, secrets never shown. Deleting the newest puts
    the one before back in use, in every process within 30 seconds."""

    list_display = fields = readonly_fields = (
        "name",
        "app_id",
        "slug",
        "owner_login",
        "owner_type",
        "html_url",
        "client_id",
        "bot_user_id",
        "registered_by",
        "created_at",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
