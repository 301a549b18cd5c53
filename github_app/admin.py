from django.contrib import admin

from github_app.models import Installation, InstallationRepository


class InstallationRepositoryInline(admin.TabularInline):
    model = InstallationRepository
    fields = ["repository_id", "full_name", "private"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Installation)
class InstallationAdmin(admin.ModelAdmin):
    """GitHub is the source of truth for installations: operators read them here, never edit."""

    list_display = ["installation_id", "account_login", "account_type", "repository_selection", "suspended_at", "deleted_at"]
    list_filter = ["account_type", "repository_selection"]
    search_fields = ["account_login", "installation_id", "repositories__full_name"]
    inlines = [InstallationRepositoryInline]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in Installation._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
