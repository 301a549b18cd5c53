from django.core.management.base import BaseCommand

from workflows.relay import runs_relay


class Command(BaseCommand):
    help = (
        "Enqueue the runs left unfinished past their stale time (their message or their worker was lost); "
        "beat does the same every WORKFLOW_RUN_RELAY_INTERVAL_SECONDS. When the broker cannot be reached, "
        "they stay due for the next pass."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="At most this many runs (default 500).")

    def handle(self, *args, limit: int, **options) -> None:
        self.stdout.write(f"Enqueued {runs_relay(limit=limit)} run(s).")
