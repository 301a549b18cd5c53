"""The trigger test, and the workflow APIs that save a workflow with its triggers."""

from django.conf import settings
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aiworkflow.api import AuthenticatedRequest
from github_app.webhooks.events import WORKFLOW_EVENTS
from triggers.filters import payload_changed_files, trigger_evaluate
from triggers.selectors import trigger_configs
from triggers.services import trigger_config_check, workflow_save, workflow_save_from_template
from workflows.models import Workflow
from workflows.selectors import workflow_get, workflow_list
from workflows.services import workflow_delete


class TriggerTestApi(APIView):
    """Say whether a trigger config would fire on an event, and why, filter by filter."""

    class TriggerTestInputSerializer(serializers.Serializer):
        config = serializers.JSONField()
        event = serializers.ChoiceField(choices=sorted(WORKFLOW_EVENTS))
        payload = serializers.DictField()
        changed_files = serializers.ListField(
            child=serializers.CharField(max_length=4096), max_length=3000, required=False
        )

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


class WorkflowOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    version = serializers.IntegerField(source="current_version.number")
    definition = serializers.JSONField(source="current_version.definition")
    triggers = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_triggers(self, workflow: Workflow) -> list[dict]:
        return trigger_configs(workflow=workflow)


class WorkflowInputSerializer(serializers.Serializer):
    class TriggerInputSerializer(serializers.Serializer):
        config = serializers.JSONField()

    name = serializers.CharField(max_length=200)
    is_active = serializers.BooleanField(default=True)
    definition = serializers.JSONField()
    # The trigger service refuses more than its cap too; here a huge list is not even parsed.
    triggers: serializers.ListSerializer = serializers.ListSerializer(
        child=TriggerInputSerializer(), required=False, max_length=settings.WORKFLOW_MAX_TRIGGERS
    )


class WorkflowFromTemplateInputSerializer(serializers.Serializer):
    template = serializers.CharField(max_length=100)
    repository = serializers.CharField(max_length=200)
    name = serializers.CharField(max_length=200, required=False)
    is_active = serializers.BooleanField(default=True)

    def validate(self, attrs: dict) -> dict:
        # The template is the definition and the triggers: one given alongside would be ignored.
        given = sorted({"definition", "triggers"} & set(self.initial_data))
        if given:
            raise serializers.ValidationError(f"Give `template` or {' and '.join(given)}, not both.")
        return attrs


def _trigger_configs(data: dict) -> list | None:
    return [trigger["config"] for trigger in data["triggers"]] if "triggers" in data else None


class WorkflowListCreateApi(APIView):
    @extend_schema(responses=WorkflowOutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response({"results": WorkflowOutputSerializer(workflow_list(user=request.user), many=True).data})

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="WorkflowCreateInput",
            serializers=[WorkflowInputSerializer, WorkflowFromTemplateInputSerializer],
            resource_type_field_name=None,
        ),
        responses={201: WorkflowOutputSerializer},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        if isinstance(request.data, dict) and "template" in request.data:
            return self._post_from_template(request)
        serializer = WorkflowInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workflow = workflow_save(
            owner=request.user,
            name=data["name"],
            definition=data["definition"],
            is_active=data["is_active"],
            triggers=_trigger_configs(data),
        )
        return Response(WorkflowOutputSerializer(workflow).data, status=status.HTTP_201_CREATED)

    def _post_from_template(self, request: AuthenticatedRequest) -> Response:
        serializer = WorkflowFromTemplateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workflow = workflow_save_from_template(
            owner=request.user,
            template_name=data["template"],
            repository=data["repository"],
            name=data.get("name"),
            is_active=data["is_active"],
        )
        return Response(WorkflowOutputSerializer(workflow).data, status=status.HTTP_201_CREATED)


class WorkflowDetailApi(APIView):
    @extend_schema(responses=WorkflowOutputSerializer)
    def get(self, request: AuthenticatedRequest, workflow_id) -> Response:
        return Response(WorkflowOutputSerializer(workflow_get(user=request.user, workflow_id=workflow_id)).data)

    @extend_schema(request=WorkflowInputSerializer(partial=True), responses=WorkflowOutputSerializer)
    def patch(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = workflow_get(user=request.user, workflow_id=workflow_id)
        serializer = WorkflowInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workflow = workflow_save(
            owner=request.user,
            workflow=workflow,
            name=data.get("name"),
            definition=data.get("definition"),
            is_active=data.get("is_active") if "is_active" in request.data else None,
            triggers=_trigger_configs(data),
        )
        return Response(WorkflowOutputSerializer(workflow).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow_delete(workflow=workflow_get(user=request.user, workflow_id=workflow_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
