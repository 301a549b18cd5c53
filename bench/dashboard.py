"""Operators' dashboard benchmark: prints figures, asserts nothing.

Render time of /dashboard/ through Django's test client, as a staff user, with 100k webhook
deliveries spread over the last 7 days (mixed events and statuses), thousands of runs with their
ai.prompt steps, and hundreds of installations, on the configured database (PostgreSQL unless
DATABASE_URL says otherwise). The target is 300 ms.

    .venv/bin/python bench/dashboard.py
"""

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Reference, database_prepare, figure_record, service_env  # noqa: E402

DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5000"))
INSTALLATIONS = 500
BATCH = 5000
RENDERS = 20
WARM_UP = 3
TARGET_MS = 300
EVENTS = {"push": 40, "pull_request": 25, "issue_comment": 15, "check_suite": 10, "issues": 6, "installation": 4}
DELIVERY_STATUSES = {"processed": 80, "ignored": 14, "failed": 3, "received": 1, "queued": 1, "processing": 1}
RUN_CONCLUSIONS = {"success": 85, "failure": 8, "skipped": 4, "timed_out": 2, "cancelled": 1}
MODELS = ("gpt-4o-mini", "gpt-4o", "llama-3.1-70b")
PAYLOAD = bytes(512)  # stored payloads are compressed and mostly kept out of line; a small one stays in the row


def weighted(choices: dict[str, int], count: int) -> list[str]:
    return random.choices(list(choices), weights=list(choices.values()), k=count)


def seed_deliveries(now) -> None:
    from github_app.models import WebhookDelivery

    events, statuses = weighted(EVENTS, DELIVERIES), weighted(DELIVERY_STATUSES, DELIVERIES)
    for start in range(0, DELIVERIES, BATCH):
        deliveries = [
            WebhookDelivery(
                delivery_id=f"bench-{number}",
                event=events[number],
                action="opened",
                installation_id=number % INSTALLATIONS,
                repository_full_name=f"org-{number % INSTALLATIONS}/repo",
                payload=PAYLOAD,
                status=statuses[number],
                attempts=1,
                last_error="GitHub answered 502" if statuses[number] == "failed" else "",
                received_at=now - timedelta(seconds=random.uniform(0, 7 * 86400)),
            )
            for number in range(start, min(start + BATCH, DELIVERIES))
        ]
        WebhookDelivery.objects.bulk_create(deliveries, batch_size=1000)


def seed_runs(now) -> None:
    from django.contrib.auth import get_user_model

    from workflows.models import StepRun, WorkflowRun
    from workflows.services import workflow_create

    owner = get_user_model().objects.create_user(username="owner", password="owner-password-1")
    definition = {"nodes": [{"id": "review", "type": "ai.prompt", "params": {"prompt": "Review"}}], "edges": []}
    workflow = workflow_create(owner=owner, name="Benchmark review", definition=definition)
    version = workflow.versions.get()
    conclusions = weighted(RUN_CONCLUSIONS, RUNS)
    for start in range(0, RUNS, BATCH):
        runs = []
        for number in range(start, min(start + BATCH, RUNS)):
            finished_at = now - timedelta(seconds=random.uniform(0, 7 * 86400))
            runs.append(
                WorkflowRun(
                    workflow=workflow,
                    version=version,
                    owner=owner,
                    trigger={"event": "push"},
                    status="completed",
                    conclusion=conclusions[number],
                    error="" if conclusions[number] == "success" else "The AI provider answered 500.",
                    started_at=finished_at - timedelta(seconds=random.lognormvariate(2.5, 0.6)),
                    finished_at=finished_at,
                )
            )
        WorkflowRun.objects.bulk_create(runs, batch_size=1000)
        steps = [
            StepRun(
                run=run,
                node_id="review",
                node_type="ai.prompt",
                position=0,
                status="completed",
                conclusion="success",
                output={
                    "text": "Looks good.",
                    "model": random.choice(MODELS),
                    "usage": {"prompt_tokens": 1200, "completion_tokens": 150, "total_tokens": 1350},
                },
                finished_at=run.finished_at,
            )
            for run in runs
        ]
        StepRun.objects.bulk_create(steps, batch_size=1000)


def seed_installations(now) -> None:
    from github_app.models import Installation

    Installation.objects.bulk_create(
        Installation(
            installation_id=number,
            account_id=number,
            account_login=f"org-{number}",
            account_type="Organization",
            repository_selection="all",
            suspended_at=now if number % 50 == 1 else None,
            deleted_at=now - timedelta(days=number % 30) if number % 20 == 2 else None,
        )
        for number in range(INSTALLATIONS)
    )  # few enough for one statement


def database_settle() -> None:
    """What autovacuum does to a live table: fresh statistics and visibility map."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def measure():
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")  # the host the service settings allow
    client.force_login(get_user_model().objects.create_user(username="operator", password="x" * 12, is_staff=True))
    for _ in range(WARM_UP):
        assert client.get("/dashboard/").status_code == 200
    timings = []
    for _ in range(RENDERS):
        started = time.perf_counter()
        response = client.get("/dashboard/")
        timings.append(1000 * (time.perf_counter() - started))
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get("/dashboard/")
    return timings, len(queries.captured_queries)


def main() -> None:
    database_prepare()
    os.environ.update(service_env())
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    random.seed(1)
    now = timezone.now()
    started = time.perf_counter()
    seed_deliveries(now)
    seed_runs(now)
    seed_installations(now)
    database_settle()
    print(
        f"seeded {DELIVERIES} deliveries, {RUNS} runs with {RUNS} ai.prompt steps, {INSTALLATIONS} installations "
        f"on {connection.vendor} in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    timings, queries = measure()
    median = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(
        f"/dashboard/ render, {RENDERS} renders after {WARM_UP} warm-up: median {median:.1f} ms, p95 {p95:.1f} ms; "
        f"{queries} SQL queries; median / {TARGET_MS} ms target = {median / TARGET_MS:.2f}, "
        f"p95 / target = {p95 / TARGET_MS:.2f}"
    )
    target = Reference("target", "at most", TARGET_MS)
    figure_record(
        name=f"/dashboard/ render median, {DELIVERIES:,} deliveries", value=median, unit="ms", reference=target
    )
    figure_record(name=f"/dashboard/ render p95, {DELIVERIES:,} deliveries", value=p95, unit="ms", reference=target)
    figure_record(name="/dashboard/ SQL queries a render", value=queries, unit="queries")


if __name__ == "__main__":
    main()
