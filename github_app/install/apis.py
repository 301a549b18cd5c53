from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from aiworkflow.api import AuthenticatedRequest
from aiworkflow.errors import ApplicationError
from aiworkflow.net import client_ip
from aiworkflow.throttling import FailOpen
from github_app.install.connect import connect_failure_page
from github_app.install.flow import install_callback_verify, install_complete, install_url_build
from github_app.install.selectors import GitHubIntegration, github_integration_list
from github_app.models import Installation
from integrations.serializers import IntegrationItemSerializer, integration_list_body


class InstallationOutputSerializer(serializers.Serializer):
    """An installation as one connection sees it: `repositories` are those of the installation
    that the connection reaches (the context's `repository_ids`), not all of them."""

    class RepositorySerializer(serializers.Serializer):
        id = serializers.IntegerField(source="repository_id")
        full_name = serializers.CharField()
        private = serializers.BooleanField()

    installation_id = serializers.IntegerField()
    account = serializers.SerializerMethodField()
    repository_selection = serializers.CharField()
    html_url = serializers.CharField()
    suspended = serializers.SerializerMethodField()
    deleted = serializers.SerializerMethodField()
    repositories = serializers.SerializerMethodField()

    def get_account(self, installation: Installation) -> dict:
        return {"id": installation.account_id, "login": installation.account_login, "type": installation.account_type}

    def get_suspended(self, installation: Installation) -> bool:
        return installation.suspended_at is not None

    def get_deleted(self, installation: Installation) -> bool:
        return installation.deleted_at is not None

    @extend_schema_field(RepositorySerializer(many=True))
    def get_repositories(self, installation: Installation) -> list:
        reachable = self.context["repository_ids"]
        repositories = [repo for repo in installation.repositories.all() if repo.repository_id in reachable]
        return serializers.ListSerializer(repositories, child=self.RepositorySerializer()).data


def installation_output(*, installation: Installation, repository_ids: set[int]) -> dict:
    return InstallationOutputSerializer(installation, context={"repository_ids": repository_ids}).data


class GitHubInstallUrlApi(APIView):
    class InstallUrlOutputSerializer(serializers.Serializer):
        install_url = serializers.URLField()

    @extend_schema(responses=InstallUrlOutputSerializer)
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response({"install_url": install_url_build(user=request.user)})


class InstallCallbackThrottle(FailOpen, SimpleRateThrottle):
    """The public callback, per client address (behind TRUSTED_PROXY_COUNT proxies, the address
    the outermost one saw): it spends a GitHub code exchange and API calls on every request."""

    scope = "github_install_callback"

    def get_rate(self) -> str:
        return settings.GITHUB_INSTALL_CALLBACK_THROTTLE_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


class GitHubInstallCallbackApi(APIView):
    """Where GitHub sends the browser after an install; public, since it arrives by redirect.

    It binds nothing: a verified install answers a pending completion, which the user the
    state names completes with their JWT (GitHubInstallCompleteApi). A frontend that relays the
    callback may send the user's JWT: it must then be the user the state was issued to.
    """

    permission_classes = [AllowAny]
    throttle_classes = [InstallCallbackThrottle]

    class InstallCallbackInputSerializer(serializers.Serializer):
        state = serializers.CharField(max_length=1024)
        setup_action = serializers.ChoiceField(choices=["install", "update", "request"])
        installation_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
        code = serializers.CharField(max_length=512, required=False)
        error = serializers.CharField(max_length=256, required=False)

        def validate(self, data: dict) -> dict:
            if "error" in data:
                raise serializers.ValidationError({"error": [f"GitHub reported: {data['error']}"]})
            if data["setup_action"] != "request" and "installation_id" not in data:
                raise serializers.ValidationError({"installation_id": ["This field is required."]})
            return data

    class InstallPendingOutputSerializer(serializers.Serializer):
        class AccountSerializer(serializers.Serializer):
            id = serializers.IntegerField()
            login = serializers.CharField()
            type = serializers.CharField()

        status = serializers.CharField()
        completion = serializers.CharField()
        installation_id = serializers.IntegerField()
        account = AccountSerializer()

    class InstallRequestedOutputSerializer(serializers.Serializer):
        status = serializers.CharField()

    @extend_schema(
        parameters=[InstallCallbackInputSerializer],
        responses={200: InstallPendingOutputSerializer, 202: InstallRequestedOutputSerializer, 302: None},
    )
    def get(self, request: AuthenticatedRequest) -> HttpResponse:
        try:
            return self._verify(request)
        except (ApplicationError, ValidationError) as exc:
            if settings.FRONTEND_URL or not _browser_asks(request):
                raise
            # No frontend to explain the failure to the person GitHub sent back: a page does.
            return connect_failure_page(request, message=_failure_message(exc), status=_failure_status(exc))

    def _verify(self, request: AuthenticatedRequest) -> Response | HttpResponseRedirect:
        serializer = self.InstallCallbackInputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        result = install_callback_verify(
            state=params["state"],
            setup_action=params["setup_action"],
            installation_id=params.get("installation_id"),
            code=params.get("code"),
            presenter=request.user if request.user.is_authenticated else None,
        )
        if result.pending is None:
            body = self.InstallRequestedOutputSerializer({"status": "requested"}).data
            return self._answer(request, body, status.HTTP_202_ACCEPTED, {"status": "requested"})
        pending = result.pending
        body = self.InstallPendingOutputSerializer(
            {
                "status": "pending",
                "completion": result.completion,
                "installation_id": pending.installation_id,
                "account": self._account(pending.installation_data),
            }
        ).data
        query = {"status": "pending", "completion": result.completion, "installation_id": pending.installation_id}
        return self._answer(request, body, status.HTTP_200_OK, query)

    @staticmethod
    def _account(installation_data: dict) -> dict:
        """The account the App is installed on, as our installation record keeps it (an
        enterprise account has no login)."""
        account = installation_data.get("account") or {}
        return {
            "id": account.get("id") or 0,
            "login": account.get("login") or "",
            "type": account.get("type") or installation_data.get("target_type") or "",
        }

    @staticmethod
    def _answer(request: Request, body: dict, status_code: int, query: dict) -> Response | HttpResponseRedirect:
        if settings.FRONTEND_URL:
            separator = "&" if "?" in settings.FRONTEND_URL else "?"
            return HttpResponseRedirect(f"{settings.FRONTEND_URL}{separator}{urlencode(query)}")
        if _browser_asks(request):
            # No frontend to take the completion: the service's own page completes the install.
            connect_query = {"completion": query["completion"]} if "completion" in query else query
            return HttpResponseRedirect(f"{reverse('connect')}?{urlencode(connect_query)}")
        return Response(body, status=status_code)


def _failure_message(exc: ApplicationError | ValidationError) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    detail = exc.detail if isinstance(exc.detail, dict) else {"error": exc.detail}
    reasons = [
        reason if field in ("error", "non_field_errors") else f"{field}: {reason}"
        for field, problems in detail.items()
        for reason in (problems if isinstance(problems, list) else [problems])
    ]
    return f"The installation link GitHub sent back cannot be used. {' '.join(map(str, reasons))}"


def _failure_status(exc: ApplicationError | ValidationError) -> int:
    return exc.status_code if isinstance(exc, ApplicationError) else status.HTTP_400_BAD_REQUEST


def _browser_asks(request: Request) -> bool:
    """A browser lists text/html by name in Accept; API clients and clients sending none or only
    */* keep the JSON answer."""
    accepted = request.headers.get("Accept", "").split(",")
    return any(media.split(";")[0].strip().lower() == "text/html" for media in accepted)


class GitHubIntegrationOutputSerializer(IntegrationItemSerializer):
    installation = InstallationOutputSerializer(allow_null=True)


class GitHubInstallCompleteApi(APIView):
    """Binds a pending install to the logged-in user, who must be the one its state named."""

    class InstallCompleteInputSerializer(serializers.Serializer):
        completion = serializers.CharField(max_length=128)

    @extend_schema(request=InstallCompleteInputSerializer, responses={201: GitHubIntegrationOutputSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = self.InstallCompleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = install_complete(completion=serializer.validated_data["completion"], user=request.user)
        installation = installation_output(
            installation=result.installation, repository_ids={repo["id"] for repo in result.repositories}
        )
        body = {**IntegrationItemSerializer(result.token).data, "installation": installation}
        return Response(body, status=status.HTTP_201_CREATED)


class GitHubIntegrationListApi(APIView):
    @extend_schema(responses=GitHubIntegrationOutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        items = [
            {**IntegrationItemSerializer(entry.token).data, "installation": self._installation(entry)}
            for entry in github_integration_list(user=request.user)
        ]
        return Response(integration_list_body(user_id=request.user.pk, items=items))

    @staticmethod
    def _installation(entry: GitHubIntegration) -> dict | None:
        if entry.installation is None:
            return None
        repository_ids = {access.repository_id for access in entry.repositories}
        return installation_output(installation=entry.installation, repository_ids=repository_ids)
