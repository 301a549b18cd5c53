import json

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.db.models.functions import Length
from django.http import Http404

from github_app.install.selectors import user_installation_ids, user_repository_access
from github_app.models import WebhookDelivery


def delivery_list(*, user: User, event: str = "", status: str = "", repository: str = "") -> QuerySet[WebhookDelivery]:
    """Deliveries of the repositories the user reaches (and the installation-wide events of
    their installations), newest first, without payloads."""
    reachable = Q(repository_id__in=user_repository_access(user_id=user.pk).values("repository_id"))
    installation_wide = Q(repository_id__isnull=True, repository_full_name="")
    deliveries = WebhookDelivery.objects.filter(
        reachable | installation_wide, installation_id__in=user_installation_ids(user)
    ).defer("payload")
    if event:
        deliveries = deliveries.filter(event=event)
    if status:
        deliveries = deliveries.filter(status=status)
    if repository:
        deliveries = deliveries.filter(repository_full_name__iexact=repository)
    return deliveries


def delivery_get(*, user: User, delivery_pk: int) -> WebhookDelivery:
    """One of the user's deliveries; any other is answered as if it did not exist."""
    try:
        return delivery_list(user=user).get(pk=delivery_pk)
    except WebhookDelivery.DoesNotExist:
        raise Http404 from None


def delivery_payload(*, delivery_pk: int) -> dict | None:
    """A delivery's parsed payload; None once retention has purged it (or the row is gone)."""
    stored = WebhookDelivery.objects.filter(pk=delivery_pk).values_list("payload", flat=True).first()
    return json.loads(bytes(stored)) if stored else None


def delivery_payload_kept(*, delivery_pk: int) -> bool:
    """Whether the delivery still holds its payload (retention has not purged it)."""
    return WebhookDelivery.objects.filter(pk=delivery_pk, payload_purged_at__isnull=True).exists()


def delivery_payload_size(*, delivery_pk: int) -> int:
    """How many bytes a delivery's stored payload takes, without reading it; 0 once purged."""
    measured = WebhookDelivery.objects.filter(pk=delivery_pk).annotate(size=Length("payload"))
    return measured.values_list("size", flat=True).first() or 0
