import json

from django.contrib import admin
from django.utils.html import format_html

from aiworkflow.redaction import redact_secrets
from workflows.models import StepRun, Workflow, WorkflowRun, WorkflowVersion

REDACTED_DESCRIPTION = "values of secret-like keys hidden"


def _redacted_json(value) -> str:
    """Indented JSON without the values of secret-like keys: a step's output or a run's event may
    hold what was read on the way, a token or a key."""
    return format_html("<pre>{}</pre>", json.dumps(redact_secrets(value), indent=2))


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


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    """Run history, read-only, with every step's output."""

    list_display = ["id", "workflow", "status", "conclusion", "dry_run", "created_at", "finished_at"]
    list_filter = ["status", "conclusion", "dry_run"]
    search_fields = ["id", "workflow__name"]
    inlines = [StepRunInline]
    exclude = ["trigger"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in WorkflowRun._meta.fields if field.name != "trigger"] + ["trigger_redacted"]

    @admin.display(description=f"trigger ({REDACTED_DESCRIPTION})")
    def trigger_redacted(self, run: WorkflowRun) -> str:
        return _redacted_json(run.trigger)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
