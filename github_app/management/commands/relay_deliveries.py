from django.core.management.base import BaseCommand

from aiworkflow.broker import broker_connection_error
from github_app.webhooks.deliveries import deliveries_claim_due, deliveries_relay, delivery_process


class Command(BaseCommand):
    help = (
        "Enqueue the deliveries left unprocessed (broker down at intake, retries due, lost messages, "
        "dead workers). When the broker cannot be reached, or with --inline, process them in this process."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--inline", action="store_true", help="Process here instead of enqueueing.")
        parser.add_argument("--limit", type=int, default=500, help="At most this many deliveries (default 500).")

    def handle(self, *args, inline: bool, limit: int, **options) -> None:
        if not inline and broker_connection_error() is None:
            self.stdout.write(f"Enqueued {deliveries_relay(limit=limit)} delivery(ies).")
            return
        pks = deliveries_claim_due(limit=limit)
        for pk in pks:
            delivery_process(delivery_pk=pk)
        self.stdout.write(f"Processed {len(pks)} delivery(ies) in this process.")
