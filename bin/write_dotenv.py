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
    try:
        # Owner-only from its creation, so no other user can read it while the secrets go in;
        # O_EXCL refuses an existing file (or a link planted in its place) in the same step.
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        sys.exit(f"{target} exists; not overwriting it.")
    with os.fdopen(descriptor, "w") as dotenv:
        dotenv.write(
            TEMPLATE.format(
                secret_key=secrets.token_urlsafe(50),
                jwt_key=secrets.token_urlsafe(50),
                fernet_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
                webhook_secret=secrets.token_hex(32),
            )
        )


if __name__ == "__main__":
    main(sys.argv[1])
