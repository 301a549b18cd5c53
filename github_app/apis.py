from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aiworkflow.api import newest_first_pagination
from github_app.models import Installation, WebhookDelivery
from github_app.selectors import delivery_get, delivery_list, github_integration_list
from github_app.services.deliveries import delivery_replay
from github_app.services.install_flow import installation_callback_complete, install_url_build
from integrations.serializers import IntegrationItemSerializer, integration_list_body


class InstallationOutputSerializer(serializers.Serializer):
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
    repositories = RepositorySerializer(many=True, source="repositories.all")

    def get_account(self, installation: Installation) -> dict:
        return {"id": installation.account_id, "login": installation.account_login, "type": installation.account_type}

    def get_suspended(self, installation: Installation) -> bool:
        return installation.suspended_at is not None

    def get_deleted(self, installation: Installation) -> bool:
        return installation.deleted_at is not None


class GitHubInstallUrlApi(APIView):
    class InstallUrlOutputSerializer(serializers.Serializer):
        install_url = serializers.URLField()

    @extend_schema(responses=InstallUrlOutputSerializer)
    def get(self, request: Request) -> Response:
        return Response({"install_url": install_url_build(user=request.user)})


class GitHubInstallCallbackApi(APIView):
    """Where GitHub sends the browser after an install; public, since it arrives by redirect.

    A frontend that relays the callback may send the user's JWT: it must then be the user the
    state was issued to.
    """

    permission_classes = [AllowAny]

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

    @extend_schema(parameters=[InstallCallbackInputSerializer], responses={200: IntegrationItemSerializer})
    def get(self, request: Request) -> Response:
        serializer = self.InstallCallbackInputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        result = installation_callback_complete(
            state=params["state"],
            setup_action=params["setup_action"],
            installation_id=params.get("installation_id"),
            code=params.get("code"),
            presenter=request.user if request.user.is_authenticated else None,
        )
        if result.pending:
            body = {"success": True, "status": "pending", "setup_action": "request"}
            return self._answer(body, status.HTTP_202_ACCEPTED, {"status": "pending"})
        body = {
            "success": True,
            "status": "installed" if params["setup_action"] == "install" else "updated",
            "integration": IntegrationItemSerializer(result.token).data,
            "installation": InstallationOutputSerializer(result.installation).data,
        }
        query = {"status": body["status"], "installation_id": result.installation.installation_id}
        return self._answer(body, status.HTTP_200_OK, query)

    @staticmethod
    def _answer(body: dict, status_code: int, query: dict) -> Response | HttpResponseRedirect:
        if settings.FRONTEND_URL:
            separator = "&" if "?" in settings.FRONTEND_URL else "?"
            return HttpResponseRedirect(f"{settings.FRONTEND_URL}{separator}{urlencode(query)}")
        return Response(body, status=status_code)


class GitHubIntegrationListApi(APIView):
    class GitHubIntegrationOutputSerializer(IntegrationItemSerializer):
        installation = InstallationOutputSerializer(allow_null=True)

    @extend_schema(responses=GitHubIntegrationOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        items = [
            {**IntegrationItemSerializer(entry.token).data, "installation": self._installation(entry.installation)}
            for entry in github_integration_list(user=request.user)
        ]
        return Response(integration_list_body(user_id=request.user.pk, items=items))

    @staticmethod
    def _installation(installation: Installation | None) -> dict | None:
        return None if installation is None else InstallationOutputSerializer(installation).data


class DeliveryOutputSerializer(serializers.ModelSerializer):
    repository = serializers.CharField(source="repository_full_name")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "delivery_id", "event", "action", "installation_id", "repository", "sender_login", "status",
            "attempts", "last_error", "runs_started", "received_at", "processed_at", "payload_purged_at",
        ]


DeliveryPagination = newest_first_pagination("received_at")


class DeliveryListApi(APIView):
    class DeliveryFilterSerializer(serializers.Serializer):
        event = serializers.CharField(max_length=64, required=False)
        status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
        repository = serializers.CharField(max_length=255, required=False)

    @extend_schema(parameters=[DeliveryFilterSerializer], responses=DeliveryOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = self.DeliveryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = DeliveryPagination()
        page = paginator.paginate_queryset(delivery_list(user=request.user, **filters.validated_data), request, view=self)
        return paginator.get_paginated_response(DeliveryOutputSerializer(page, many=True).data)


class DeliveryReplayApi(APIView):
    @extend_schema(request=None, responses={202: DeliveryOutputSerializer})
    def post(self, request: Request, delivery_pk: int) -> Response:
        delivery = delivery_replay(delivery=delivery_get(user=request.user, delivery_pk=delivery_pk))
        return Response({"status": "queued", "delivery": DeliveryOutputSerializer(delivery).data}, status=status.HTTP_202_ACCEPTED)
