import argparse

from django.core.management.base import BaseCommand, CommandError

from github_app.errors import GitHubAppNotConfigured
from github_app.webhooks.redelivery import LogEntry, RedeliveryPass, deliveries_redeliver_missed


def positive_hours(value: str) -> int:
    try:
        hours = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of hours.") from None
    if hours < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of hours.")
    return hours


class Command(BaseCommand):
    help = (
        "Ask GitHub to redeliver the deliveries it failed to send (we answered 5xx, or were down) and "
        "that we never stored: one pass over the App's delivery log, from where the last pass stopped. "
        "Each delivery is asked for once. Beat does the same every WEBHOOK_REDELIVER_INTERVAL_SECONDS."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List what would be asked; ask and record nothing.")
        parser.add_argument(
            "--lookback-hours",
            type=positive_hours,
            help="How far back the first pass looks (default WEBHOOK_REDELIVER_LOOKBACK_HOURS); later passes "
            "start where the last one stopped.",
        )

    def handle(self, *args, dry_run: bool, lookback_hours: int | None, **options) -> None:
        try:
            result = deliveries_redeliver_missed(lookback_hours=lookback_hours, dry_run=dry_run)
        except GitHubAppNotConfigured:
            raise CommandError(
                "The GitHub App is not configured: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY "
                "(or GITHUB_APP_PRIVATE_KEY_PATH) to read its delivery log."
            ) from None
        verb = "Would ask" if dry_run else "Asked"
        for entry in result.requested:
            self.stdout.write(f"{verb} to redeliver {self._describe(entry)}")
        for entry, github_status in result.refused:
            self.stdout.write(f"GitHub refused ({github_status}) to redeliver {self._describe(entry)}")
        self.stdout.write(self._summary(result))
        if result.stopped_by is not None:
            retry_after = result.stopped_by.headers.get("Retry-After")
            wait = f" GitHub asks to wait {retry_after} s." if retry_after else ""
            raise CommandError(
                f"The pass stopped early: {result.stopped_by.message}{wait} The next pass goes on from there."
            )

    @staticmethod
    def _describe(entry: LogEntry) -> str:
        event = f"{entry.event}.{entry.action}" if entry.action else entry.event
        return f"{entry.guid} {event} (failed: {entry.status or 'no status'}, {entry.status_code})"

    @staticmethod
    def _summary(result: RedeliveryPass) -> str:
        asked = "would be asked" if result.dry_run else "asked"
        refused = f" ({len(result.refused)} refused)" if result.refused else ""
        incomplete = "" if result.complete or result.stopped_by else "; page limit reached, the next pass goes on"
        return (
            f"Read {result.entries_read} log entries: {len(result.requested) + len(result.refused)} redelivery(ies) "
            f"{asked}{refused}, {result.skipped_stored} skipped as stored, "
            f"{result.skipped_asked_before} skipped as asked before{incomplete}."
        )
