import uuid

from django.conf import settings
from django.db import models

from integrations.fields import EncryptedTextField


class Integration(models.Model):
    """A kind of connection the product offers (the GitHub App is `github_app`)."""

    integration_id = models.SlugField(max_length=64, unique=True)
    integration_type = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    version = models.CharField(max_length=32, default="1.0")
    configuration = models.JSONField(default=dict, blank=True)
    supported_operations = models.JSONField(default=list, blank=True)
    required_scopes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.integration_id


class OAuthToken(models.Model):
    """One user's connection through an integration; for the GitHub App, one installation.

    Never deleted: revoking sets `is_active` false and `revoked_at`, and keeps the history.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oauth_tokens")
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="tokens")
    provider = models.CharField(max_length=64)
    external_id = models.CharField(
        max_length=255, help_text="The provider's id of what this credential reaches (a GitHub installation id)."
    )
    access_token = EncryptedTextField(null=True, blank=True)
    refresh_token = EncryptedTextField(null=True, blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    credential_data = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider was last asked what this credential reaches."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "integration", "external_id"], name="oauth_token_unique_subject"),
        ]
        indexes = [models.Index(fields=["integration", "external_id"], name="oauth_token_subject_idx")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.external_id} ({self.user})"
