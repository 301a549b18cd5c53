import re

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations.fields import EncryptedTextField

GITHUB_APP_INTEGRATION_ID = "github_app"
# owner/name, as GitHub allows them; "." and ".." are no names, and in a URL they would climb out
# of /repos/ to any path the token reaches.
REPOSITORY_FULL_NAME = re.compile(r"^(?!\.\.?/)[A-Za-z0-9_.-]+/(?!\.\.?\Z)[A-Za-z0-9_.-]+\Z")


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
    # When the state this record shows was current at GitHub: a lifecycle delivery older than
    # that (a replay, a late retry, a worker that took it up late) does not roll it back.
    state_as_of = models.DateTimeField(null=True, blank=True, help_text="Status and settings are as of this time.")
    repositories_as_of = models.DateTimeField(null=True, blank=True, help_text="The repositories are as of this time.")
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


class RepositoryAccess(models.Model):
    """One repository that a user's own GitHub token sees within an installation
    (`GET /user/installations/{id}/repositories`): GitHub grants access to people per repository,
    so a connection reaches these and no other repository of the installation."""

    connection = models.ForeignKey(
        "integrations.OAuthToken", on_delete=models.CASCADE, related_name="repository_access"
    )
    installation_id = models.BigIntegerField()
    repository_id = models.BigIntegerField()
    full_name = models.CharField(max_length=255)

    class Meta:
        ordering = ["full_name"]
        verbose_name_plural = "repository access"
        constraints = [
            models.UniqueConstraint(fields=["connection", "repository_id"], name="repository_access_unique"),
        ]
        indexes = [models.Index(fields=["installation_id", "repository_id"], name="repository_access_repo_idx")]

    def __str__(self) -> str:
        return self.full_name


class PendingInstallCompletion(models.Model):
    """An install the callback has verified (state, then the installing user's ownership, then
    the App's view of the installation) but not bound: only the user the state names, presenting
    the opaque completion with their own JWT, binds it. Single use, short-lived."""

    key_digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the opaque completion.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    installation_id = models.BigIntegerField()
    setup_action = models.CharField(max_length=16)
    installation_data = models.JSONField(help_text="GET /app/installations/{id}, as the App saw it.")
    github_user_id = models.BigIntegerField(null=True, blank=True)
    github_login = models.CharField(max_length=255, blank=True)
    access_token = EncryptedTextField(null=True, blank=True)
    refresh_token = EncryptedTextField(null=True, blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"installation {self.installation_id} for {self.user}"


class UsedInstallState(models.Model):
    """The nonce of every install state already spent, so none binds an installation twice.

    Rows older than a state's lifetime can go: their signatures have expired anyway.
    """

    nonce = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"install state used by {self.user} at {self.used_at:%Y-%m-%d %H:%M:%S}"


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
            # Retention and the dashboard's time windows; event and status ride along, so that the
            # dashboard's counts read the index alone (PostgreSQL).
            models.Index(fields=["received_at"], include=["event", "status"], name="delivery_dashboard_idx"),
            # The dashboard's latest failures.
            models.Index(fields=["-received_at"], name="delivery_failed_idx", condition=models.Q(status="failed")),
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

    def __str__(self) -> str:  # the key, never the token
        return self.cache_key


class DeliveryLogPosition(models.Model):
    """How far the App's webhook delivery log at GitHub has been searched for missed deliveries
    (one row). GitHub lists the log newest first, so a pass reads from the top down to where the
    last complete pass began; a pass cut short keeps the cursor of the first page it did not
    finish, and the next pass goes on from there."""

    newest_entry_id = models.BigIntegerField(
        null=True, blank=True, help_text="Log entries up to this id have been searched by a complete pass."
    )
    newest_delivered_at = models.DateTimeField(null=True, blank=True)
    pass_newest_entry_id = models.BigIntegerField(
        null=True, blank=True, help_text="The newest log entry of the pass not finished yet."
    )
    pass_newest_delivered_at = models.DateTimeField(null=True, blank=True)
    resume_cursor = models.CharField(
        max_length=200, blank=True, help_text="GitHub's cursor of the first page the unfinished pass has not searched."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"delivery log searched up to entry {self.newest_entry_id}"


class RedeliveryRequest(models.Model):
    """A delivery GitHub failed to send, never stored here, that we asked GitHub to send again.
    One per delivery GUID: a delivery is never asked for twice."""

    delivery_id = models.CharField(max_length=64, unique=True, help_text="The X-GitHub-Delivery GUID.")
    log_entry_id = models.BigIntegerField(help_text="The failed attempt in GitHub's delivery log that was redelivered.")
    event = models.CharField(max_length=64)
    action = models.CharField(max_length=100, blank=True)
    installation_id = models.BigIntegerField(null=True, blank=True)
    failed_status = models.CharField(max_length=255, help_text="GitHub's account of the failed attempt.")
    failed_status_code = models.IntegerField(help_text="Our answer to the failed attempt; 0 when there was none.")
    failed_at = models.DateTimeField()
    refused_with = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="GitHub's answer when it refused to redeliver; empty when it accepted."
    )
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.event}.{self.action} {self.delivery_id}" if self.action else f"{self.event} {self.delivery_id}"


class AppRegistration(models.Model):
    """A GitHub App registered from this deployment through GitHub's manifest flow. The newest
    row is the App: its credentials fill whatever the environment leaves empty
    (github_app.credentials), so a deployment can start with no GitHub settings at all."""

    app_id = models.BigIntegerField()
    slug = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    html_url = models.URLField(max_length=500)
    owner_login = models.CharField(max_length=255)
    owner_type = models.CharField(max_length=32)
    client_id = models.CharField(max_length=100)
    client_secret = EncryptedTextField()
    webhook_secret = EncryptedTextField()
    private_key = EncryptedTextField()
    bot_user_id = models.BigIntegerField(null=True, blank=True, help_text="The `<slug>[bot]` account's id.")
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.name} (App {self.app_id})"
