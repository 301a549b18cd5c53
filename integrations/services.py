from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from integrations.fields import EncryptedTextField
from integrations.models import Integration, OAuthToken


@transaction.atomic
def oauth_token_upsert(
    *,
    user: AbstractBaseUser,
    integration: Integration,
    external_id: str,
    credential_data: dict,
    access_token: str | None = None,
    refresh_token: str | None = None,
    access_token_expires_at: datetime | None = None,
) -> OAuthToken:
    """Store the user's connection to `external_id`, reactivating a revoked one."""
    token, _ = OAuthToken.objects.select_for_update().get_or_create(
        user=user,
        integration=integration,
        external_id=external_id,
        defaults={"provider": integration.integration_type},
    )
    token.credential_data = credential_data
    token.access_token = access_token
    token.refresh_token = refresh_token
    token.access_token_expires_at = access_token_expires_at
    token.is_active = True
    token.revoked_at = None
    token.save()
    return token


def oauth_token_revoke(*, token: OAuthToken) -> OAuthToken:
    if token.is_active:
        token.is_active = False
        token.revoked_at = timezone.now()
        token.save(update_fields=["is_active", "revoked_at", "updated_at"])
    return token


def oauth_tokens_reencrypt() -> int:
    """Re-save every encrypted column with the current first key; returns the rows rewritten."""
    encrypted = [field.name for field in OAuthToken._meta.fields if isinstance(field, EncryptedTextField)]
    count = 0
    for token in OAuthToken.objects.only("pk", *encrypted).iterator(chunk_size=500):
        token.save(update_fields=encrypted)
        count += 1
    return count
