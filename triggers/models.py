from django.db import models


class Trigger(models.Model):
    """When a workflow runs: a GitHub event filter in the config JSON (DESIGN §5)."""

    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="triggers")
    config = models.JSONField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"trigger {self.pk} of {self.workflow}"


class TriggerIndex(models.Model):
    """One row per (trigger, event) at its repository, with the workflow's owner: a delivery's
    candidates are one index lookup, whatever the number of triggers stored."""

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="index_rows")
    repository = models.CharField(max_length=255, help_text="owner/name, lower case")
    event = models.CharField(max_length=64)
    owner_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["repository", "event", "owner_id"], name="trigger_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.repository} {self.event} -> trigger {self.trigger_id}"
