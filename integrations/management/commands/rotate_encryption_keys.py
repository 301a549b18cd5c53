from django.core.management.base import BaseCommand

from integrations.services import oauth_tokens_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt stored credentials with the first key of ENCRYPTION_KEY, so older keys can be dropped."

    def handle(self, *args, **options) -> None:
        count = oauth_tokens_reencrypt()
        self.stdout.write(f"Re-encrypted {count} credential row(s) with the current key.")
