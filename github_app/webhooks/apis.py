from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from aiworkflow.api import AuthenticatedRequest, newest_first_pagination
from github_app.models import WebhookDelivery
from github_app.webhooks.deliveries import delivery_replay
from github_app.webhooks.selectors import delivery_get, delivery_list


class DeliveryOutputSerializer(serializers.ModelSerializer):
    repository = serializers.CharField(source="repository_full_name")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "action",
            "installation_id",
            "repository",
            "sender_login",
            "status",
            "attempts",
            "last_error",
            "runs_started",
            "received_at",
            "processed_at",
            "payload_purged_at",
        ]


DeliveryPagination = newest_first_pagination("received_at")


class DeliveryListApi(APIView):
    class DeliveryFilterSerializer(serializers.Serializer):
        event = serializers.CharField(max_length=64, required=False)
        status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
        repository = serializers.CharField(max_length=255, required=False)

    @extend_schema(parameters=[DeliveryFilterSerializer], responses=DeliveryOutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        filters = self.DeliveryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = DeliveryPagination()
        page = paginator.paginate_queryset(
            delivery_list(user=request.user, **filters.validated_data), request, view=self
        )
        return paginator.get_paginated_response(DeliveryOutputSerializer(page, many=True).data)


class DeliveryReplayApi(APIView):
    @extend_schema(request=None, responses={202: DeliveryOutputSerializer})
    def post(self, request: AuthenticatedRequest, delivery_pk: int) -> Response:
        delivery = delivery_replay(delivery=delivery_get(user=request.user, delivery_pk=delivery_pk))
        return Response(
            {"status": "queued", "delivery": DeliveryOutputSerializer(delivery).data}, status=status.HTTP_202_ACCEPTED
        )
