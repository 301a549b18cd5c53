from django.db import models


class Trigger(models.Model):
    """When a workflow runs: a GitHub event filter in the config JSON (DESIGN §5)."""

    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="triggers")
    config = models.JSONField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
