"""The service's settings, quiet: a benchmark's output is its figures."""

from aiworkflow.settings import *  # noqa: F403

LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"handlers": [], "level": "WARNING"}}
