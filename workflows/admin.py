from django.contrib import admin

from workflows.models import StepRun, Workflow, WorkflowRun, WorkflowVersion


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class WorkflowVersionInline(ReadOnlyInline):
    model = WorkflowVersion
    fields = ["number", "definition", "created_at"]
    readonly_fields = fields


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


class StepRunInline(ReadOnlyInline):
    model = StepRun
    fields = ["node_id", "node_type", "status", "conclusion", "attempts", "output", "output_truncated", "error", "started_at", "finished_at"]
    readonly_fields = fields


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    """Run history, read-only, with every step's output."""

    list_display = ["id", "workflow", "status", "conclusion", "dry_run", "created_at", "finished_at"]
    list_filter = ["status", "conclusion", "dry_run"]
    search_fields = ["id", "workflow__name"]
    inlines = [StepRunInline]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in WorkflowRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
