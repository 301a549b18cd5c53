"""API throttles that need nothing from the views (the scope comes from the URL's name), and the
login lockout's answer on the token endpoint."""

import logging

from django.conf import settings
from drf_spectacular.utils import extend_schema_serializer
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle, UserRateThrottle
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from aiworkflow.net import client_ip

logger = logging.getLogger(__name__)


class FailOpen(BaseThrottle):
    """A throttle whose counters cannot be reached (the cache is down) lets the request through:
    a rate limit is not worth answering every API request with a 500."""

    def allow_request(self, request: Request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache backend's own connection errors, whichever it is
            logger.warning("throttle counters unavailable; request let through", exc_info=True)
            return True


class ApiRateThrottle(FailOpen, UserRateThrottle):
    """Every API request, per user (per address without a token): the `user` rate."""


class UrlNameRateThrottle(FailOpen, SimpleRateThrottle):
    """Rates for single endpoints, such as those that start a run: the request's URL name is looked
    up in `API_THROTTLE_SCOPES` ({url name: scope}) and the scope's rate in DEFAULT_THROTTLE_RATES.
    Endpoints not listed are not limited here. Counted per user, or per address without one."""

    def __init__(self):
        # The scope, hence the rate, is known only once there is a request.
        pass

    def allow_request(self, request: Request, view) -> bool:
        self.scope = _scope_of(request)
        if self.scope is None:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view) -> str:
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def get_ident(self, request: Request) -> str:
        return client_ip(request)


def _scope_of(request: Request) -> str | None:
    match = request.resolver_match
    return settings.API_THROTTLE_SCOPES.get(match.url_name) if match and match.url_name else None


@extend_schema_serializer(component_name="TokenObtainPair")  # the name API clients already know
class LockoutAwareTokenObtainPairSerializer(TokenObtainPairSerializer):
    """simplejwt's token pair, answering a login that django-axes locked out with 429 and the
    cool-off instead of the 401 of a wrong password: the password may well be right."""

    def validate(self, attrs: dict) -> dict:
        try:
            return super().validate(attrs)
        except AuthenticationFailed:
            if getattr(self.context["request"], "axes_locked_out", False):
                raise Throttled(
                    wait=settings.AXES_COOLOFF_TIME.total_seconds(), detail="Too many failed logins."
                ) from None
            raise
