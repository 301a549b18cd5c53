from collections.abc import Sequence

from rest_framework import serializers


class IntegrationItemSerializer(serializers.Serializer):
    """One connection as the frontend lists it (the product spec's shape)."""

    id = serializers.UUIDField()
    integration_id = serializers.CharField(source="integration.integration_id")
    provider = serializers.CharField()
    integration_type = serializers.CharField(source="integration.integration_type")
    name = serializers.CharField(source="integration.name")
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField()
    credential_data = serializers.DictField()


def integration_list_body(*, user_id, items: Sequence[dict]) -> dict:
    return {"success": True, "user_id": str(user_id), "integrations": items, "total_count": len(items)}
