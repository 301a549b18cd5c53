from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from github_app.webhooks.events import WORKFLOW_EVENTS
from triggers.filters import payload_changed_files, trigger_evaluate
from triggers.services import trigger_config_check


class TriggerTestApi(APIView):
    """Say whether a trigger config would fire on an event, and why, filter by filter."""

    class TriggerTestInputSerializer(serializers.Serializer):
        config = serializers.JSONField()
        event = serializers.ChoiceField(choices=sorted(WORKFLOW_EVENTS))
        payload = serializers.DictField()
        changed_files = serializers.ListField(child=serializers.CharField(max_length=4096), max_length=3000, required=False)

    class TriggerTestOutputSerializer(serializers.Serializer):
        matched = serializers.BooleanField()
        reasons = serializers.ListField(child=serializers.CharField())

    @extend_schema(request=TriggerTestInputSerializer, responses=TriggerTestOutputSerializer)
    def post(self, request: Request) -> Response:
        serializer = self.TriggerTestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        trigger_config_check(data["config"])
        changed_files = data.get("changed_files", payload_changed_files(data["event"], data["payload"]))
        evaluation = trigger_evaluate(data["config"], data["event"], data["payload"], changed_files)
        return Response({"matched": evaluation.matched, "reasons": evaluation.reasons})
