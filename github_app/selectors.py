from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from github_app.models import GITHUB_APP_INTEGRATION_ID, Installation, WebhookDelivery
from integrations.models import OAuthToken
from integrations.selectors import oauth_token_list


@dataclass(frozen=True)
class GitHubIntegration:
    token: OAuthToken
    installation: Installation | None


def github_integration_list(*, user: AbstractBaseUser) -> list[GitHubIntegration]:
    """The user's active GitHub App connections, each with its installation and repositories."""
    tokens = list(oauth_token_list(user=user, integration_id=GITHUB_APP_INTEGRATION_ID))
    installation_ids = [int(token.external_id) for token in tokens]
    installations = {
        installation.installation_id: installation
        for installation in Installation.objects.filter(installation_id__in=installation_ids).prefetch_related(
            "repositories"
        )
    }
    return [GitHubIntegration(token=token, installation=installations.get(int(token.external_id))) for token in tokens]


def user_installation_ids(user: AbstractBaseUser) -> list[int]:
    """The installations the user is connected to."""
    return [int(token.external_id) for token in oauth_token_list(user=user, integration_id=GITHUB_APP_INTEGRATION_ID)]


def delivery_list(
    *, user: AbstractBaseUser, event: str = "", status: str = "", repository: str = ""
) -> QuerySet[WebhookDelivery]:
    """Deliveries of the installations the user is connected to, newest first, without payloads."""
    deliveries = WebhookDelivery.objects.filter(installation_id__in=user_installation_ids(user)).defer("payload")
    if event:
        deliveries = deliveries.filter(event=event)
    if status:
        deliveries = deliveries.filter(status=status)
    if repository:
        deliveries = deliveries.filter(repository_full_name__iexact=repository)
    return deliveries


def delivery_get(*, user: AbstractBaseUser, delivery_pk: int) -> WebhookDelivery:
    """One of the user's deliveries; any other is answered as if it did not exist."""
    try:
        return WebhookDelivery.objects.defer("payload").get(
            pk=delivery_pk, installation_id__in=user_installation_ids(user)
        )
    except WebhookDelivery.DoesNotExist:
        raise Http404 from None
