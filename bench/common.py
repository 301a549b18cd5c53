"""What the benchmarks share: the service's environment, a fresh database to run it on, and the
record of their headline figures that bin/bench reads."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/aiworkflow_bench")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "bench-webhook-secret"
QUEUE = "aiworkflow-bench"
# bin/bench names a file here for each benchmark it runs; unset, a benchmark only prints.
FIGURES_FILE_VARIABLE = "BENCH_FIGURES_FILE"


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


class Reference(NamedTuple):
    """What a figure is measured against, in the figure's unit. `at_least` marks a value that is
    only a lower bound (a measurement cut off at its cap)."""

    kind: Literal["floor", "peer", "target"]
    label: str
    value: float
    at_least: bool = False


def _rounded(value: float) -> float:
    """Four significant digits: more is noise between runs and churn in bench/figures.json."""
    return float(f"{value:.4g}")


def figure_record(
    *, name: str, value: float, unit: str, reference: Reference | None = None, at_least: bool = False
) -> None:
    """Appends one headline figure, as a JSON line, to the file bin/bench names."""
    path = os.environ.get(FIGURES_FILE_VARIABLE)
    if not path:
        return
    figure: dict = {"name": name, "value": _rounded(value), "unit": unit}
    if at_least:
        figure["at_least"] = True
    if reference is not None:
        figure["reference"] = {"kind": reference.kind, "label": reference.label, "value": _rounded(reference.value)}
        if reference.at_least:
            figure["reference"]["at_least"] = True
    with open(path, "a") as figures:
        figures.write(json.dumps(figure) + "\n")
