import uuid

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404

from integrations.models import Integration, OAuthToken


def integration_get(*, integration_id: str) -> Integration:
    return Integration.objects.get(integration_id=integration_id)


def oauth_token_list(*, user: User, integration_id: str | None = None) -> QuerySet[OAuthToken]:
    """The user's active connections, newest first."""
    tokens = OAuthToken.objects.filter(user=user, is_active=True).select_related("integration")
    if integration_id is not None:
        tokens = tokens.filter(integration__integration_id=integration_id)
    return tokens


def oauth_tokens_active(*, integration_id: str) -> QuerySet[OAuthToken]:
    """Every user's active connections to one integration."""
    return OAuthToken.objects.filter(integration__integration_id=integration_id, is_active=True)


def oauth_token_get(*, user: User, token_id: uuid.UUID) -> OAuthToken:
    """The user's own token; another user's id is answered as if it did not exist."""
    try:
        return OAuthToken.objects.select_related("integration").get(user=user, pk=token_id)
    except OAuthToken.DoesNotExist:
        raise Http404 from None
