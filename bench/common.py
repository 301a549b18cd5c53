"""What the benchmarks share: the service's environment and a fresh database to run it on."""

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/aiworkflow_bench")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "bench-webhook-secret"
QUEUE = "aiworkflow-bench"


def service_env() -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_READ_DOT_ENV_FILE": "false",
        "DJANGO_SECRET_KEY": "bench-" + "s" * 50,
        "JWT_SIGNING_KEY": "bench-" + "j" * 50,
        "ENCRYPTION_KEY": base64.urlsafe_b64encode(b"b" * 32).decode(),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_CLIENT_ID": "bench",
        "GITHUB_CLIENT_SECRET": "bench",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
    }


def database_prepare() -> None:
    """A fresh database for every run: the benchmark owns the one it is given."""
    name = urlsplit(DATABASE_URL).path.lstrip("/")
    with psycopg.connect(DATABASE_URL.replace(f"/{name}", "/postgres", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=service_env(), check=True
    )
