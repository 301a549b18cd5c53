from django.db import migrations

GITHUB_APP = {
    "integration_type": "github",
    "name": "GitHub App Integration",
    "description": "GitHub App for repository access and automation",
    "version": "1.0",
    "configuration": {"callback_url": "/api/v1/public/webhooks/github/auth", "webhook_url": "/webhooks/github"},
    "supported_operations": ["repositories:read", "repositories:write", "issues:read", "actions:read"],
    "required_scopes": ["repo", "issues", "actions"],
}


def create_github_app_integration(apps, schema_editor):
    Integration = apps.get_model("integrations", "Integration")
    Integration.objects.update_or_create(integration_id="github_app", defaults=GITHUB_APP)


def delete_github_app_integration(apps, schema_editor):
    Integration = apps.get_model("integrations", "Integration")
    Integration.objects.filter(integration_id="github_app", tokens__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("integrations", "0001_initial")]

    operations = [migrations.RunPython(create_github_app_integration, delete_github_app_integration)]
