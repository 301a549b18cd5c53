from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aiworkflow.api import newest_first_pagination
from aiworkflow.redaction import redact_secrets
from github_app.webhooks.events import WORKFLOW_EVENTS
from workflows.models import Workflow
from workflows.selectors import run_get, run_list, workflow_get, workflow_list
from workflows.services import (
    run_rerun,
    triggers_module,
    workflow_create,
    workflow_delete,
    workflow_test,
    workflow_update,
)


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
        return triggers_module().trigger_configs(workflow=workflow)


class StepOutputSerializer(serializers.Serializer):
    class RedactedJSONField(serializers.JSONField):
        """Values of secret-like keys hidden: a step's output may hold what it read, a token included."""

        def to_representation(self, value):
            return redact_secrets(super().to_representation(value))

    node_id = serializers.CharField()
    type = serializers.CharField(source="node_type")
    status = serializers.CharField()
    conclusion = serializers.CharField(allow_null=True)
    attempts = serializers.IntegerField()
    output = RedactedJSONField()
    output_truncated = serializers.BooleanField()
    error = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()


class RunOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    workflow_id = serializers.UUIDField()
    version = serializers.IntegerField(source="version.number")
    status = serializers.CharField()
    conclusion = serializers.CharField(allow_null=True)
    dry_run = serializers.BooleanField()
    event = serializers.CharField(source="trigger.event")
    action = serializers.CharField(source="trigger.action", allow_blank=True)
    delivery_id = serializers.CharField(source="trigger.delivery_id", allow_null=True)
    repository = serializers.CharField(allow_blank=True)
    rerun_of = serializers.UUIDField(source="rerun_of_id", allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()


class RunDetailOutputSerializer(RunOutputSerializer):
    steps = StepOutputSerializer(many=True, source="steps.all")


class WorkflowInputSerializer(serializers.Serializer):
    class TriggerInputSerializer(serializers.Serializer):
        config = serializers.JSONField()

    name = serializers.CharField(max_length=200)
    is_active = serializers.BooleanField(default=True)
    definition = serializers.JSONField()
    # The trigger service refuses more than its cap too; here a huge list is not even parsed.
    triggers = TriggerInputSerializer(many=True, required=False, max_length=settings.WORKFLOW_MAX_TRIGGERS)


def _trigger_configs(data: dict) -> list | None:
    return [trigger["config"] for trigger in data["triggers"]] if "triggers" in data else None


class WorkflowListCreateApi(APIView):
    @extend_schema(responses=WorkflowOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response({"results": WorkflowOutputSerializer(workflow_list(user=request.user), many=True).data})

    @extend_schema(request=WorkflowInputSerializer, responses={201: WorkflowOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = WorkflowInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workflow = workflow_create(
            owner=request.user, name=data["name"], definition=data["definition"], is_active=data["is_active"],
            triggers=_trigger_configs(data),
        )
        return Response(WorkflowOutputSerializer(workflow).data, status=status.HTTP_201_CREATED)


class WorkflowDetailApi(APIView):
    @extend_schema(responses=WorkflowOutputSerializer)
    def get(self, request: Request, workflow_id) -> Response:
        return Response(WorkflowOutputSerializer(workflow_get(user=request.user, workflow_id=workflow_id)).data)

    @extend_schema(request=WorkflowInputSerializer(partial=True), responses=WorkflowOutputSerializer)
    def patch(self, request: Request, workflow_id) -> Response:
        workflow = workflow_get(user=request.user, workflow_id=workflow_id)
        serializer = WorkflowInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workflow = workflow_update(
            workflow=workflow, name=data.get("name"), definition=data.get("definition"),
            is_active=data.get("is_active") if "is_active" in request.data else None, triggers=_trigger_configs(data),
        )
        return Response(WorkflowOutputSerializer(workflow).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, workflow_id) -> Response:
        workflow_delete(workflow=workflow_get(user=request.user, workflow_id=workflow_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


RunPagination = newest_first_pagination("created_at")


class WorkflowRunListApi(APIView):
    @extend_schema(responses=RunOutputSerializer(many=True))
    def get(self, request: Request, workflow_id) -> Response:
        runs = run_list(workflow=workflow_get(user=request.user, workflow_id=workflow_id))
        paginator = RunPagination()
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(RunOutputSerializer(page, many=True).data)


class WorkflowTestApi(APIView):
    class WorkflowTestInputSerializer(serializers.Serializer):
        event = serializers.ChoiceField(choices=sorted(WORKFLOW_EVENTS))
        payload = serializers.DictField()
        dry_run = serializers.BooleanField(default=True)

    @extend_schema(request=WorkflowTestInputSerializer, responses={202: RunOutputSerializer})
    def post(self, request: Request, workflow_id) -> Response:
        workflow = workflow_get(user=request.user, workflow_id=workflow_id)
        serializer = self.WorkflowTestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            run = workflow_test(workflow=workflow, user=request.user, **serializer.validated_data)
        run.refresh_from_db()
        return Response(RunDetailOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailApi(APIView):
    @extend_schema(responses=RunDetailOutputSerializer)
    def get(self, request: Request, run_id) -> Response:
        return Response(RunDetailOutputSerializer(run_get(user=request.user, run_id=run_id)).data)


class RunRerunApi(APIView):
    @extend_schema(request=None, responses={202: RunOutputSerializer})
    def post(self, request: Request, run_id) -> Response:
        with transaction.atomic():
            run = run_rerun(run=run_get(user=request.user, run_id=run_id))
        run.refresh_from_db()
        return Response(RunDetailOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)
