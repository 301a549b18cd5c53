from datetime import timedelta

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def unfinished_runs_become_relayable(apps, schema_editor):
    """Runs left unfinished before the relay existed get a time to be relayed: one stale period
    from now, so that a run a worker is executing during the deploy is not taken from it."""
    WorkflowRun = apps.get_model("workflows", "WorkflowRun")
    WorkflowRun.objects.filter(status__in=["queued", "in_progress"], stale_after__isnull=True).update(
        stale_after=timezone.now() + timedelta(seconds=settings.WORKFLOW_RUN_STALE_SECONDS)
    )


class Migration(migrations.Migration):

    dependencies = [
        ("workflows", "0003_run_payload_reference"),
    ]

    operations = [
        migrations.AddField(
            model_name="workflowrun",
            name="claimed_by",
            field=models.CharField(
                blank=True, max_length=255,
                help_text="The task message whose execution holds the run (one at a time); empty when none does.",
            ),
        ),
        migrations.RunPython(unfinished_runs_become_relayable, migrations.RunPython.noop),
    ]
