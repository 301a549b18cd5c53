import json
from collections.abc import Sequence
from datetime import timedelta
from typing import TypeVar
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from aiworkflow.errors import ApplicationError
from aiworkflow.redaction import redact_secrets
from github_app.admin import (
    PAYLOAD_DISPLAY_LIMIT_BYTES,
    PAYLOAD_PURGED,
    RecentValuesFilter,
    WebhookDeliveryAdmin,
    payload_html,
    payload_too_large,
)
from github_app.models import WebhookDelivery
from github_app.webhooks.selectors import delivery_payload_size
from workflows.models import StepRun, Workflow, WorkflowRun, WorkflowVersion
from workflows.selectors import run_payload
from workflows.services import run_rerun

REDACTED_DESCRIPTION = "values of secret-like keys hidden"
DELIVERY_RUNS_SHOWN = 20
Name = TypeVar("Name")


def _redacted_json(value) -> str:
    """Indented JSON without the values of secret-like keys: a step's output or a run's event may
    hold what was read on the way, a token or a key."""
    return format_html("<pre>{}</pre>", json.dumps(redact_secrets(value), indent=2))


def run_duration(run: WorkflowRun) -> str:
    """How long the run took from its start to its end; blank while it has not finished."""
    if run.started_at is None or run.finished_at is None:
        return ""
    seconds = (run.finished_at - run.started_at).total_seconds()
    return f"{seconds:.1f} s" if seconds < 60 else str(timedelta(seconds=round(seconds)))


def delivery_runs_url(delivery: WebhookDelivery) -> str:
    return reverse("admin:workflows_workflowrun_changelist") + "?" + urlencode({"delivery": delivery.pk})


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class WorkflowVersionInline(ReadOnlyInline):
    model = WorkflowVersion
    fields = readonly_fields = ("number", "definition", "created_at")


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "is_active", "current_version", "updated_at", "deleted_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "owner__username"]
    readonly_fields = ["id", "owner", "current_version", "created_at", "updated_at", "deleted_at"]
    fields = ["id", "name", "owner", "is_active", "current_version", "created_at", "updated_at", "deleted_at"]
    inlines = [WorkflowVersionInline]

    def has_add_permission(self, request) -> bool:
        return False  # definitions are checked and versioned by the API

    def get_readonly_fields(self, request, obj: Workflow | None = None) -> list[str]:
        # A deleted workflow stays off: its triggers are still stored and indexed.
        deleted = obj is not None and obj.deleted_at is not None
        return [*self.readonly_fields, "is_active"] if deleted else list(self.readonly_fields)


class StepRunInline(ReadOnlyInline):
    model = StepRun
    fields = readonly_fields = (
        "node_id",
        "node_type",
        "status",
        "conclusion",
        "attempts",
        "output_redacted",
        "output_truncated",
        "error",
        "started_at",
        "finished_at",
    )

    @admin.display(description=f"output ({REDACTED_DESCRIPTION})")
    def output_redacted(self, step: StepRun) -> str:
        return _redacted_json(step.output)


class RunInstallationFilter(RecentValuesFilter):
    title = "installation"
    parameter_name = "installation"
    field = "installation_id"
    recency = "created_at"


class RunRepositoryFilter(RecentValuesFilter):
    title = "repository"
    parameter_name = "repository"
    field = "repository"
    recency = "created_at"


class RunDeliveryFilter(admin.SimpleListFilter):
    """The runs one delivery started, as its page links to them. Deliveries are too many to
    offer: the filter shows (and applies) only once one is chosen."""

    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        selected = self.value()
        if not selected:
            return []
        chosen = WebhookDelivery.objects.defer("payload").filter(pk=selected).first() if selected.isdigit() else None
        return [(selected, str(chosen or selected))]

    def queryset(self, request, queryset):
        selected = self.value()
        if not selected:
            return queryset
        if not selected.isdigit():
            raise IncorrectLookupParameters(f"{selected!r} is no delivery")
        return queryset.filter(delivery_id=int(selected))


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    """Run history, read-only, with every step's output; a run links to its workflow, the
    delivery that started it and the run it repeats."""

    list_display = ["id", "workflow", "repository", "status", "conclusion", "duration", "dry_run", "created_at"]
    list_filter = [
        "status",
        "conclusion",
        "dry_run",
        RunInstallationFilter,
        RunRepositoryFilter,
        RunDeliveryFilter,
    ]
    list_select_related = ["workflow"]
    search_fields = ["id", "workflow__name", "repository", "concurrency_group"]
    inlines = [StepRunInline]
    exclude = ["trigger", "payload"]
    actions = ["rerun"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("payload")

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        shown = [field.name for field in WorkflowRun._meta.fields if field.name not in self.exclude]
        return [*shown, "duration", "trigger_redacted", "payload_redacted"]

    @admin.display(ordering=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()))
    def duration(self, run: WorkflowRun) -> str:
        return run_duration(run)

    @admin.display(description=f"trigger ({REDACTED_DESCRIPTION})")
    def trigger_redacted(self, run: WorkflowRun) -> str:
        return _redacted_json(run.trigger)

    @admin.display(description=f"payload ({REDACTED_DESCRIPTION})")
    def payload_redacted(self, run: WorkflowRun) -> str:
        size = self._payload_size(run)
        if not size:
            return PAYLOAD_PURGED if run.payload_purged_at or run.payload_delivery_id else ""
        if size > PAYLOAD_DISPLAY_LIMIT_BYTES:
            return payload_too_large(size)
        return payload_html(run_payload(run=run))

    @staticmethod
    def _payload_size(run: WorkflowRun) -> int:
        """The payload's size before it is read: a delivery's is measured where it is stored."""
        if run.payload is not None:
            return len(json.dumps(run.payload).encode())
        return delivery_payload_size(delivery_pk=run.payload_delivery_id) if run.payload_delivery_id else 0

    @admin.action(description="Run the selected runs again")
    def rerun(self, request, queryset) -> None:
        started = 0
        for run in queryset.select_related("workflow", "version"):
            try:
                with transaction.atomic():  # the new run is enqueued once it is committed
                    run_rerun(run=run)
            except ApplicationError as exc:
                self.message_user(request, f"Run {run.pk}: {exc.message}", level=messages.ERROR)
            else:
                started += 1
        if started:
            self.message_user(request, f"{started} run(s) started again.")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _in_place_of_the_count(names: Sequence[Name], *replacements: Name) -> list[Name]:
    """The delivery's fields with its bare count of runs replaced (by links to the runs)."""
    return [new for name in names for new in (replacements if name == "runs_started" else (name,))]


admin.site.unregister(WebhookDelivery)


@admin.register(WebhookDelivery)
class WebhookDeliveryRunsAdmin(WebhookDeliveryAdmin):
    """The deliveries, each linked to the runs it started."""

    list_display = _in_place_of_the_count(WebhookDeliveryAdmin.list_display, "runs_link")
    exclude = [*WebhookDeliveryAdmin.exclude, "runs_started"]
    readonly_fields = _in_place_of_the_count(WebhookDeliveryAdmin.readonly_fields, "runs_link", "runs_table")

    @admin.display(description="runs started", ordering="runs_started")
    def runs_link(self, delivery: WebhookDelivery) -> str:
        if not delivery.runs_started:
            return "0"
        return format_html('<a href="{}">{}</a>', delivery_runs_url(delivery), delivery.runs_started)

    @admin.display(description="runs")
    def runs_table(self, delivery: WebhookDelivery) -> str:
        runs = list(delivery.runs.select_related("workflow").defer("payload")[: DELIVERY_RUNS_SHOWN + 1])
        if not runs:
            return "none"
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:workflows_workflowrun_change", args=[run.pk]),
                    run.pk,
                    reverse("admin:workflows_workflow_change", args=[run.workflow_id]),
                    run.workflow,
                    run.conclusion or run.status,
                    run_duration(run),
                )
                for run in runs[:DELIVERY_RUNS_SHOWN]
            ),
        )
        more = (
            format_html('<p><a href="{}">All runs of this delivery</a></p>', delivery_runs_url(delivery))
            if len(runs) > DELIVERY_RUNS_SHOWN
            else ""
        )
        return format_html(
            "<table><thead><tr><th>run</th><th>workflow</th><th>conclusion</th><th>duration</th></tr></thead>"
            "<tbody>{}</tbody></table>{}",
            rows,
            more,
        )
