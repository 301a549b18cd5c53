from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from aiworkflow.api import AuthenticatedRequest, newest_first_pagination
from aiworkflow.redaction import redact_secrets
from github_app.webhooks.events import WORKFLOW_EVENTS
from workflows.selectors import run_get, run_list, workflow_get, workflow_template_list
from workflows.services import run_rerun, workflow_test


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


RunPagination = newest_first_pagination("created_at")


class WorkflowRunListApi(APIView):
    @extend_schema(responses=RunOutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest, workflow_id) -> Response:
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
    def post(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = workflow_get(user=request.user, workflow_id=workflow_id)
        serializer = self.WorkflowTestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            run = workflow_test(workflow=workflow, user=request.user, **serializer.validated_data)
        run.refresh_from_db()
        return Response(RunDetailOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailApi(APIView):
    @extend_schema(responses=RunDetailOutputSerializer)
    def get(self, request: AuthenticatedRequest, run_id) -> Response:
        return Response(RunDetailOutputSerializer(run_get(user=request.user, run_id=run_id)).data)


class RunRerunApi(APIView):
    @extend_schema(request=None, responses={202: RunOutputSerializer})
    def post(self, request: AuthenticatedRequest, run_id) -> Response:
        with transaction.atomic():
            run = run_rerun(run=run_get(user=request.user, run_id=run_id))
        run.refresh_from_db()
        return Response(RunDetailOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class WorkflowTemplateListApi(APIView):
    class WorkflowTemplateListOutputSerializer(serializers.Serializer):
        class WorkflowTemplateOutputSerializer(serializers.Serializer):
            name = serializers.CharField()
            version = serializers.IntegerField()
            title = serializers.CharField()
            description = serializers.CharField()
            events = serializers.SerializerMethodField()
            definition = serializers.JSONField()
            triggers = serializers.ListField(child=serializers.DictField())

            def get_events(self, template: dict) -> list[str]:
                return sorted({event for config in template["triggers"] for event in config["events"]})

        templates = WorkflowTemplateOutputSerializer(many=True)

    @extend_schema(responses=WorkflowTemplateListOutputSerializer)
    def get(self, request: AuthenticatedRequest) -> Response:
        templates = {"templates": workflow_template_list()}
        return Response(self.WorkflowTemplateListOutputSerializer(templates).data)
