from django.contrib import admin

from integrations.models import Integration, OAuthToken
from integrations.services import oauth_token_revoke


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["integration_id", "integration_type", "name", "version", "updated_at"]
    search_fields = ["integration_id", "name"]


@admin.register(OAuthToken)
class OAuthTokenAdmin(admin.ModelAdmin):
    """Credentials are shown only as present or absent, never in clear and never editable."""

    list_display = ["id", "user", "integration", "external_id", "is_active", "created_at", "revoked_at"]
    list_filter = ["is_active", "integration"]
    search_fields = ["external_id", "user__username"]
    fields = readonly_fields = (
        "id",
        "user",
        "integration",
        "provider",
        "external_id",
        "has_access_token",
        "has_refresh_token",
        "access_token_expires_at",
        "credential_data",
        "is_active",
        "created_at",
        "updated_at",
        "revoked_at",
    )
    actions = ["revoke"]

    @admin.action(description="Revoke the selected connections")
    def revoke(self, request, queryset) -> None:
        for token in queryset:
            oauth_token_revoke(token=token)

    @admin.display(boolean=True, description="access token stored")
    def has_access_token(self, token: OAuthToken) -> bool:
        return token.access_token is not None

    @admin.display(boolean=True, description="refresh token stored")
    def has_refresh_token(self, token: OAuthToken) -> bool:
        return token.refresh_token is not None

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
