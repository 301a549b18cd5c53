"""Workflow engine benchmark: prints figures, asserts nothing.

1. Runs per second completed by one Celery worker with 2 processes, over Redis and PostgreSQL,
   for the 3-step workflow get pull request -> ai.prompt -> create comment, with GitHub and the
   LLM served by the GitHub double, which answers at once. Each run is on its own installation, as
   runs of many users are (writes of one installation are paced a second apart).
2. The engine's own cost per step: runs of steps that do nothing (a constant condition),
   executed in this process, so what is measured is loading, templating and persisting.

    .venv/bin/python bench/workflow_runs.py
"""

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from bench.common import QUEUE, REDIS_URL, ROOT, database_prepare, figure_record, service_env  # noqa: E402
from tests.github_double import Double, served, source_files  # noqa: E402

REPO = "octo/widgets"
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
INSTALLATIONS = [10_000 + number for number in range(RUNS)]
OVERHEAD_RUNS = 50
OVERHEAD_STEPS = 10
REVIEW = {
    "nodes": [
        {"id": "pr", "type": "github.get_pull_request", "params": {}},
        {"id": "review", "type": "ai.prompt", "params": {"prompt": "Review:\n{{ nodes.pr.diff }}"}},
        {"id": "comment", "type": "github.create_comment", "params": {"body": "{{ nodes.review.text }}"}},
    ],
    "edges": [{"from": "pr", "to": "review"}, {"from": "review", "to": "comment"}],
}


def environment(api_url: str) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return {
        **service_env(),
        "GITHUB_API_BASE_URL": api_url,
        "GITHUB_APP_ID": "1",
        "GITHUB_APP_PRIVATE_KEY": pem.decode(),
        "AI_BASE_URL": f"{api_url}/v1",
        "AI_MODEL": "stand-in",
        "LOG_LEVEL": "WARNING",
    }


def github_double(installation_ids: list[int]) -> Double:
    """GitHub with pull request 1 of REPO, of 3 files, reached through each installation."""
    double = Double()
    repository = double.github.repository(REPO)
    for installation_id in installation_ids:
        double.github.installation(installation_id, repositories=[repository])
    repository.pull_request(1, files=source_files(3))
    return double


def trigger(installation_id: int) -> dict:
    return {
        "event": "pull_request",
        "action": "opened",
        "delivery_id": None,
        "installation_id": installation_id,
        "repository": REPO,
        "sender": "octocat",
        "payload": {"number": 1, "pull_request": {"number": 1}},
    }


def connect(user, installation_ids: list[int]) -> None:
    """The user reaches REPO in every installation, as a run's GitHub steps require."""
    from github_app.models import Installation, InstallationRepository, RepositoryAccess
    from integrations.models import Integration, OAuthToken

    integration = Integration.objects.get(integration_id="github_app")
    installations = Installation.objects.bulk_create(
        Installation(
            installation_id=number,
            account_id=number,
            account_login="octocat",
            account_type="User",
            repository_selection="selected",
        )
        for number in installation_ids
    )
    InstallationRepository.objects.bulk_create(
        InstallationRepository(installation=installation, repository_id=installation.installation_id, full_name=REPO)
        for installation in installations
    )
    connections = OAuthToken.objects.bulk_create(
        OAuthToken(user=user, integration=integration, provider="github", external_id=str(number))
        for number in installation_ids
    )
    RepositoryAccess.objects.bulk_create(
        RepositoryAccess(connection=connection, installation_id=number, repository_id=number, full_name=REPO)
        for connection, number in zip(connections, installation_ids, strict=True)
    )


def measure_throughput(user) -> tuple[float, int]:
    from django.db import transaction

    from workflows.models import Conclusion, WorkflowRun
    from workflows.services import run_start, workflow_create

    workflow = workflow_create(owner=user, name="Benchmark review", definition=REVIEW)
    connect(user, INSTALLATIONS)
    with transaction.atomic():
        runs = [run_start(workflow=workflow, trigger=trigger(installation_id)) for installation_id in INSTALLATIONS]
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "aiworkflow",
            "worker",
            "--concurrency=2",
            "--queues",
            QUEUE,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    try:
        pending = WorkflowRun.objects.filter(pk__in=[run.pk for run in runs], conclusion__isnull=True)
        while pending.filter(started_at__isnull=True).count() == RUNS:  # the clock starts with the first run
            time.sleep(0.01)
        started = time.perf_counter()
        while pending.exists():
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    succeeded = WorkflowRun.objects.filter(pk__in=[run.pk for run in runs], conclusion=Conclusion.SUCCESS).count()
    return RUNS / elapsed, succeeded


def measure_overhead(user) -> float:
    from workflows.engine import run_execute
    from workflows.models import WorkflowRun
    from workflows.services import workflow_create

    nodes = [
        {"id": f"s{index}", "type": "logic.condition", "params": {"condition": "{{ trigger.event == 'push' }}"}}
        for index in range(OVERHEAD_STEPS)
    ]
    edges = [{"from": f"s{index}", "to": f"s{index + 1}"} for index in range(OVERHEAD_STEPS - 1)]
    workflow = workflow_create(owner=user, name="Overhead", definition={"nodes": nodes, "edges": edges})
    runs = [
        WorkflowRun.objects.create(
            workflow=workflow, version=workflow.versions.get(), owner=user, trigger={"event": "push", "payload": {}}
        )
        for _ in range(OVERHEAD_RUNS)
    ]
    started = time.perf_counter()
    for run in runs:
        run_execute(run_id=str(run.pk))
    return 1000 * (time.perf_counter() - started) / (OVERHEAD_RUNS * OVERHEAD_STEPS)


def main() -> None:
    database_prepare()
    with served(github_double(INSTALLATIONS)) as server:
        os.environ.update(environment(server.url))
        measure(server.double)


def measure(double: Double) -> None:
    import django
    import redis

    django.setup()
    redis.Redis.from_url(REDIS_URL).delete(QUEUE)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="bench", password="bench-password-1")
    rate, succeeded = measure_throughput(user)
    print(
        f"3-step runs (get pull request -> ai.prompt -> create comment), 1 worker x 2 processes: {rate:.1f} runs/s ({succeeded}/{RUNS} succeeded)"
    )
    answered = Counter(f"{request.method} {request.status}" for request in double.github.requests())
    print(f"GitHub double answered: {dict(answered)}; the LLM {double.llm.count()} request(s)")
    overhead = measure_overhead(user)
    print(
        f"engine overhead: {overhead:.2f} ms per step (steps that do nothing, {OVERHEAD_RUNS} runs of {OVERHEAD_STEPS})"
    )
    figure_record(name="3-step review runs, 1 worker x 2 processes", value=rate, unit="runs/s")
    figure_record(name="the engine's own cost a step (steps that do nothing)", value=overhead, unit="ms")


if __name__ == "__main__":
    main()
