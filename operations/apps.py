from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """What operators look at: health, /metrics and the dashboard. It reads every other app and
    none reads it."""

    name = "operations"
    default_auto_field = "django.db.models.BigAutoField"
