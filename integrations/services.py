from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from integrations.fields import EncryptedTextField
from integrations.models import Integration, OAuthToken


@transaction.atomic
def oauth_token_upsert(
    *,
    user: User,
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


class OAuthTokenUnusable(Exception):
    """The connection holds no access token that can be used or refreshed."""


def oauth_token_fresh_access(*, token: OAuthToken, margin: timedelta, refresh: Callable[[str], dict]) -> str:
    """The connection's access token, refreshed first through `refresh(refresh_token)` (an OAuth
    token answer: `access_token`, and `refresh_token` and `expires_in` if the provider rotates
    them) when less than `margin` of it is left; `refresh` raises OAuthTokenUnusable when the
    provider refuses. The row is locked meanwhile: a provider that rotates refresh tokens, as
    GitHub does, would see one spent twice by two refreshes at once, and the connection lost."""
    with transaction.atomic():
        locked = OAuthToken.objects.select_for_update().get(pk=token.pk)
        if not locked.access_token:
            raise OAuthTokenUnusable()
        expires_at = locked.access_token_expires_at
        if expires_at is None or expires_at - margin > timezone.now():
            return locked.access_token
        if not locked.refresh_token:
            raise OAuthTokenUnusable()
        fresh = refresh(locked.refresh_token)
        locked.access_token = fresh["access_token"]
        locked.refresh_token = fresh.get("refresh_token") or locked.refresh_token
        seconds = fresh.get("expires_in")
        locked.access_token_expires_at = timezone.now() + timedelta(seconds=int(seconds)) if seconds else None
        locked.save(update_fields=["access_token", "refresh_token", "access_token_expires_at", "updated_at"])
        return fresh["access_token"]


def oauth_token_synced(*, token: OAuthToken) -> None:
    """Record that what the connection reaches was just read from its provider."""
    OAuthToken.objects.filter(pk=token.pk).update(synced_at=timezone.now())


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
