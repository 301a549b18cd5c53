import re

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations.fields import EncryptedTextField

GITHUB_APP_INTEGRATION_ID = "github_app"
REPOSITORY_FULL_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")  # owner/name, as GitHub allows them


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


class WebhookDelivery(models.Model):
    """One verified delivery from GitHub, stored before we answer it: the unit of "never lost".

    `payload` is the body exactly as GitHub signed it (emptied after the retention period), so
    processing and replays read what GitHub sent, byte for byte.
    """

    class Status(models.TextChoices):
        RECEIVED = "received"  # stored; handed to the broker, or waiting for the relay to retry
        QUEUED = "queued"  # re-enqueued by the relay or a replay
        PROCESSING = "processing"  # claimed by a worker
        PROCESSED = "processed"
        IGNORED = "ignored"
        FAILED = "failed"  # gave up after WEBHOOK_MAX_ATTEMPTS; replay to try again

    delivery_id = models.CharField(max_length=64, unique=True)
    event = models.CharField(max_length=64)
    action = models.CharField(max_length=100, blank=True)
    hook_id = models.BigIntegerField(null=True, blank=True)
    installation_id = models.BigIntegerField(null=True, blank=True)
    repository_id = models.BigIntegerField(null=True, blank=True)
    repository_full_name = models.CharField(max_length=255, blank=True)
    sender_login = models.CharField(max_length=255, blank=True)
    sender_type = models.CharField(max_length=32, blank=True)
    payload = models.BinaryField(default=b"", blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    runs_started = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    payload_purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_relay_idx"),
            models.Index(fields=["installation_id", "-received_at"], name="delivery_installation_idx"),
            models.Index(fields=["received_at"], name="delivery_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event}.{self.action} {self.delivery_id}" if self.action else f"{self.event} {self.delivery_id}"


class InstallationAccessToken(models.Model):
    """The installation-token store in the database, for deployments without Redis; a row is also
    what concurrent processes lock so that only one of them mints a token."""

    cache_key = models.CharField(max_length=200, unique=True)
    token = EncryptedTextField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
