import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiworkflow.settings")

app = Celery("aiworkflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each app's `tasks` module, and those of the GitHub App's sub-packages.
app.autodiscover_tasks()
app.autodiscover_tasks(["github_app.webhooks", "github_app.install"])
