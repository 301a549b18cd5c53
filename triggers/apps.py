from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "triggers"

    def ready(self) -> None:
        from github_app.webhooks.signals import workflow_event
        from triggers.dispatch import workflow_event_dispatch

        # The dispatcher is how deliveries become runs: the GitHub App sends, triggers receive.
        workflow_event.connect(workflow_event_dispatch, dispatch_uid="triggers.dispatch")
