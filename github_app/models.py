from django.conf import settings
from django.db import models


class Installation(models.Model):
    """Our App installed on a GitHub account; kept after uninstall (`deleted_at`) for history."""

    installation_id = models.BigIntegerField(unique=True)
    account_id = models.BigIntegerField()
    account_login = models.CharField(max_length=255)
    account_type = models.CharField(max_length=32)
    repository_selection = models.CharField(max_length=16)
    permissions = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)
    html_url = models.URLField(max_length=500, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account_login"]

    def __str__(self) -> str:
        return f"{self.account_login} ({self.installation_id})"


class InstallationRepository(models.Model):
    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="repositories")
    repository_id = models.BigIntegerField()
    full_name = models.CharField(max_length=255)
    private = models.BooleanField(default=False)

    class Meta:
        ordering = ["full_name"]
        constraints = [
            models.UniqueConstraint(fields=["installation", "repository_id"], name="installation_repository_unique"),
        ]
        indexes = [models.Index(fields=["full_name"], name="installation_repo_name_idx")]

    def __str__(self) -> str:
        return self.full_name


class UsedInstallState(models.Model):
    """The nonce of every install state already spent, so none binds an installation twice.

    Rows older than a state's lifetime can go: their signatures have expired anyway.
    """

    nonce = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField(auto_now_add=True, db_index=True)
