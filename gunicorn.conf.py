"""gunicorn's settings file, read from the working directory: metrics files kept right across
worker restarts, and gunicorn's own lines (errors, the access log) logged as Django's are, in
settings.LOG_FORMAT. Command-line options (bind, workers, timeouts) stay in the Procfile, the
Dockerfile and the compose file. https://docs.gunicorn.org/en/stable/settings.html"""

import os

from django.conf import settings

from aiworkflow import metrics
from aiworkflow.logging import gunicorn_logging_config

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiworkflow.settings")
logconfig_dict = gunicorn_logging_config(settings.LOGGING)


def on_starting(server):
    metrics.dead_processes_compact()


def child_exit(server, worker):
    metrics.dead_processes_compact()
