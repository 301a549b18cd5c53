import uuid

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.serializers import ListSerializer
from rest_framework.views import APIView

from aiworkflow.api import AuthenticatedRequest
from integrations.selectors import oauth_token_get, oauth_token_list
from integrations.serializers import IntegrationItemSerializer, integration_list_body
from integrations.services import oauth_token_revoke


class IntegrationListApi(APIView):
    @extend_schema(responses=IntegrationItemSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        tokens = oauth_token_list(user=request.user)
        items = ListSerializer(tokens, child=IntegrationItemSerializer()).data
        return Response(integration_list_body(user_id=request.user.pk, items=items))


class IntegrationDeleteApi(APIView):
    @extend_schema(responses=IntegrationItemSerializer)
    def delete(self, request: AuthenticatedRequest, token_id: uuid.UUID) -> Response:
        token = oauth_token_revoke(token=oauth_token_get(user=request.user, token_id=token_id))
        return Response({"success": True, "integration": IntegrationItemSerializer(token).data})
