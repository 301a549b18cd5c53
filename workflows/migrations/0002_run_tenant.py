import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def runs_fix_tenant(apps, schema_editor):
    """Existing runs take their workflow's owner, and the installation and repository their
    trigger named, as a run created now would."""
    WorkflowRun = apps.get_model("workflows", "WorkflowRun")
    for run in WorkflowRun.objects.select_related("workflow").iterator(chunk_size=500):
        run.owner_id = run.workflow.owner_id
        run.installation_id = (run.trigger or {}).get("installation_id")
        run.repository = (run.trigger or {}).get("repository") or ""
        run.save(update_fields=["owner", "installation_id", "repository"])


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0001_workflows"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="workflowrun",
            name="owner",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="workflowrun",
            name="installation_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="workflowrun",
            name="repository",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="workflowrun",
            name="deliveries",
            field=models.PositiveIntegerField(
                default=0, help_text="How many times a worker took up the run's message: counts workers lost mid-run."
            ),
        ),
        migrations.RunPython(runs_fix_tenant, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="workflowrun",
            name="owner",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
    ]
