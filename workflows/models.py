import uuid

from django.conf import settings
from django.db import models


class Workflow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "WorkflowVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Deleted workflows keep their run history.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(models.Model):
    """A definition as it was saved; never changed, so a run always knows what it ran."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="workflow_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("A workflow version is immutable; save a new version instead.")
        super().save(*args, **kwargs)


class Status(models.TextChoices):
    """GitHub Actions' model: a status, and a conclusion once completed."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class Conclusion(models.TextChoices):
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"


class WorkflowRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="runs")
    delivery = models.ForeignKey(
        "github_app.WebhookDelivery", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    trigger = models.JSONField(help_text="event, action, delivery_id, installation_id, repository, sender")
    # The event's payload is read from the delivery that stored it, never copied into each run;
    # a test run, or a rerun whose delivery's payload was purged, keeps its own (`payload`).
    payload_delivery = models.ForeignKey(
        "github_app.WebhookDelivery", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(null=True, blank=True)
    payload_purged_at = models.DateTimeField(null=True, blank=True)
    # The tenant a run works in, fixed when it is created: no template or parameter can move it.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    installation_id = models.BigIntegerField(null=True, blank=True)
    repository = models.CharField(max_length=255, blank=True)
    dry_run = models.BooleanField(default=False)
    rerun_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reruns")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Null until completed, as GitHub's API reports a conclusion.
    conclusion = models.CharField(max_length=16, choices=Conclusion.choices, null=True, blank=True)  # noqa: DJ001
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    stale_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A run not finished by then has lost its message or its worker: the relay enqueues it again.",
    )
    deliveries = models.PositiveIntegerField(
        default=0, help_text="How many times a worker took up the run's message: counts workers lost mid-run."
    )
    claimed_by = models.CharField(
        max_length=255,
        blank=True,
        help_text="The task message whose execution holds the run (one at a time); empty when none does.",
    )
    concurrency_group = models.CharField(
        max_length=255,
        blank=True,
        help_text="The run's concurrency group, prefixed with its workflow's id; set when the run is admitted to "
        "start, empty when its workflow has none.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A redelivered event never runs a workflow twice.
            models.UniqueConstraint(fields=["workflow", "delivery"], name="workflow_run_once_per_delivery"),
            # At most one run of a concurrency group in progress, whatever races admit them.
            models.UniqueConstraint(
                fields=["concurrency_group"],
                name="run_one_in_progress_per_group",
                condition=models.Q(status="in_progress") & ~models.Q(concurrency_group=""),
            ),
        ]
        indexes = [
            # The run relay's query, every WORKFLOW_RUN_RELAY_INTERVAL_SECONDS: unfinished runs past due.
            models.Index(
                fields=["stale_after"], name="run_relay_idx", condition=models.Q(status__in=["queued", "in_progress"])
            ),
            # The dashboard: runs finished within a window (conclusions and durations from the index
            # alone, on PostgreSQL), and the latest failed runs.
            models.Index(fields=["finished_at"], include=["conclusion", "started_at"], name="run_finished_idx"),
            models.Index(
                fields=["-finished_at"],
                name="run_failed_idx",
                condition=models.Q(conclusion__in=["failure", "timed_out"]),
            ),
            # A group's runs in the order they were created, when one is admitted or finishes.
            models.Index(
                fields=["concurrency_group", "created_at"],
                name="run_concurrency_idx",
                condition=~models.Q(concurrency_group=""),
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.workflow}"


class StepRun(models.Model):
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps")
    node_id = models.CharField(max_length=100)
    node_type = models.CharField(max_length=64)
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Null until completed, as GitHub's API reports a conclusion.
    conclusion = models.CharField(max_length=16, choices=Conclusion.choices, null=True, blank=True)  # noqa: DJ001
    attempts = models.PositiveIntegerField(default=0)
    output = models.JSONField(null=True, blank=True)
    output_truncated = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["run", "node_id"], name="step_run_unique_node")]
        # The dashboard's LLM tokens per day.
        indexes = [
            models.Index(fields=["finished_at"], name="step_ai_prompt_idx", condition=models.Q(node_type="ai.prompt"))
        ]

    def __str__(self) -> str:
        return f"{self.node_id} of run {self.run_id}"
