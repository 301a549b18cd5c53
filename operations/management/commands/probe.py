"""The container probes of the roles that serve no HTTP: exit 0 when the process is alive.

- `probe worker`: this host's Celery worker answers a ping over the broker.
- `probe beat`: beat's heartbeat is younger than BEAT_HEARTBEAT_MAX_AGE_SECONDS.
"""

import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from aiworkflow.beat import beat_heartbeat_age
from aiworkflow.celery import app as celery_app

PING_TIMEOUT_SECONDS = 5


class Command(BaseCommand):
    help = "Exit 0 when this host's worker or beat is alive (container health checks)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", choices=["worker", "beat"])

    def handle(self, *args, role: str, **options) -> None:
        problem = self._worker() if role == "worker" else self._beat()
        if problem:
            raise CommandError(problem)
        self.stdout.write(f"{role} alive")

    def _worker(self) -> str | None:
        node = f"celery@{socket.gethostname()}"
        answers = celery_app.control.ping(destination=[node], timeout=PING_TIMEOUT_SECONDS)
        return None if answers else f"{node} did not answer a ping within {PING_TIMEOUT_SECONDS} s"

    def _beat(self) -> str | None:
        age = beat_heartbeat_age()
        if age is None:
            return "beat has left no heartbeat"
        limit = settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS
        return f"beat's heartbeat is {age:.0f} s old (limit {limit} s)" if age > limit else None
