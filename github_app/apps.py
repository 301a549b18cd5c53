from django.apps import AppConfig


class GithubAppConfig(AppConfig):
    name = "github_app"
    verbose_name = "GitHub App"

    def ready(self) -> None:
        from aiworkflow.redaction import secret_source_register
        from github_app import checks  # noqa: F401  (registers the configuration checks)
        from github_app.api.app_jwt import app_private_key_validate
        from github_app.api.call_log import pygithub_calls_log
        from github_app.credentials import registered_secrets_known

        app_private_key_validate()
        pygithub_calls_log()
        secret_source_register(registered_secrets_known)
