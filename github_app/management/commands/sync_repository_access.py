from django.core.management.base import BaseCommand

from github_app.install.repository_access import repository_access_sync_due


class Command(BaseCommand):
    help = (
        "Re-read, with each user's own GitHub token, which repositories every due connection reaches "
        "(never read, as after an upgrade, or older than GITHUB_REPOSITORY_ACCESS_MAX_AGE_SECONDS). Beat does "
        "the same every GITHUB_REPOSITORY_ACCESS_SYNC_INTERVAL_SECONDS."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=1000, help="At most this many connections (default 1000).")

    def handle(self, *args, limit: int, **options) -> None:
        self.stdout.write(f"Synced the repository access of {repository_access_sync_due(limit=limit)} connection(s).")
