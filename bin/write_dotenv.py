"""Write a development `.env` with freshly generated secrets: `python bin/write_dotenv.py .env`."""

import base64
import os
import secrets
import sys
from pathlib import Path

TEMPLATE = """\
# Development settings written by bin/run; every variable is described in .env.example.
DJANGO_DEBUG=true
DJANGO_SECRET_KEY={secret_key}
JWT_SIGNING_KEY={jwt_key}
ENCRYPTION_KEY={fernet_key}
# Paste this into the App's webhook settings, or replace it with the App's secret.
GITHUB_WEBHOOK_SECRET={webhook_secret}
"""


def main(path: str) -> None:
    target = Path(path)
    if target.exists():
        sys.exit(f"{target} exists; not overwriting it.")
    target.write_text(
        TEMPLATE.format(
            secret_key=secrets.token_urlsafe(50),
            jwt_key=secrets.token_urlsafe(50),
            fernet_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            webhook_secret=secrets.token_hex(32),
        )
    )
    target.chmod(0o600)


if __name__ == "__main__":
    main(sys.argv[1])
