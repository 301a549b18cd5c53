"""Trigger matching benchmark: prints figures, asserts nothing.

Match latency (candidates, then every filter on them) for one delivery with 1k, 10k and 100k
stored triggers spread over 10k repositories on PostgreSQL, beside the product spec's approach
measured in the same run: select every trigger whose JSON merely contains the event name, then
loop over them in Python.

    .venv/bin/python bench/trigger_matching.py
"""

import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Reference, database_prepare, figure_record, service_env  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
REPOSITORIES = 10_000
INSTALLATIONS = 1_000  # each installation, and its one user, covers 10 repositories
EVENTS = ("pull_request", "push", "issues", "issue_comment", "release")
SAMPLES = 300
SCAN_SAMPLES = {1_000: 300, 10_000: 100, 100_000: 20}
TARGET_P50_MS = 5
TARGET_GROWTH = 2


def repository_name(number: int) -> str:
    return f"org-{number % INSTALLATIONS}/repo-{number}"


def seed_installations() -> list:
    from django.contrib.auth import get_user_model

    from github_app.models import Installation, InstallationRepository, RepositoryAccess
    from integrations.models import Integration, OAuthToken
    from workflows.services import workflow_create

    users = get_user_model().objects.bulk_create(get_user_model()(username=f"user-{n}") for n in range(INSTALLATIONS))
    installations = Installation.objects.bulk_create(
        Installation(
            installation_id=n + 1,
            account_id=n,
            account_login=f"org-{n}",
            account_type="Organization",
            repository_selection="selected",
        )
        for n in range(INSTALLATIONS)
    )
    InstallationRepository.objects.bulk_create(
        InstallationRepository(
            installation=installations[number % INSTALLATIONS], repository_id=number, full_name=repository_name(number)
        )
        for number in range(REPOSITORIES)
    )
    integration = Integration.objects.get(integration_id="github_app")
    connections = OAuthToken.objects.bulk_create(
        OAuthToken(user=user, integration=integration, provider="github", external_id=str(n + 1))
        for n, user in enumerate(users)
    )
    RepositoryAccess.objects.bulk_create(
        RepositoryAccess(
            connection=connections[number % INSTALLATIONS],
            installation_id=number % INSTALLATIONS + 1,
            repository_id=number,
            full_name=repository_name(number),
        )
        for number in range(REPOSITORIES)
    )
    definition = {"nodes": [{"id": "ok", "type": "logic.condition", "params": {"condition": "true"}}], "edges": []}
    return [workflow_create(owner=user, name="w", definition=definition) for user in users]


def add_triggers(workflows: list, count: int, start: int) -> None:
    from triggers.models import Trigger, TriggerIndex

    rng = random.Random(start)
    triggers, index_rows = [], []
    for _ in range(count):
        repository = rng.randrange(REPOSITORIES)
        workflow = workflows[repository % INSTALLATIONS]  # owned by the user whose installation covers it
        events = rng.sample(EVENTS, 2)
        config = {
            "repository": repository_name(repository),
            "events": events,
            "branches": ["main", "release/**"],
            "ignore_bots": True,
        }
        triggers.append(Trigger(workflow=workflow, config=config))
    created = Trigger.objects.bulk_create(triggers, batch_size=5000)
    for trigger in created:
        for event in trigger.config["events"]:
            index_rows.append(
                TriggerIndex(
                    trigger=trigger,
                    repository=trigger.config["repository"].lower(),
                    event=event,
                    owner_id=trigger.workflow.owner_id,
                )
            )
    TriggerIndex.objects.bulk_create(index_rows, batch_size=5000)


def payload(repository: str) -> dict:
    return {
        "action": "opened",
        "repository": {"full_name": repository},
        "sender": {"login": "octocat", "type": "User"},
        "pull_request": {
            "number": 1,
            "draft": False,
            "base": {"ref": "main"},
            "user": {"login": "octocat"},
            "labels": [],
        },
    }


def indexed(repository_number: int) -> int:
    from triggers.dispatch import trigger_candidates
    from triggers.filters import trigger_evaluate

    repository = repository_name(repository_number)
    candidates = trigger_candidates(
        installation_id=repository_number % INSTALLATIONS + 1,
        repository_id=repository_number,
        repository=repository,
        event="pull_request",
    )
    return sum(trigger_evaluate(t.config, "pull_request", payload(repository)).matched for t in candidates)


def scan_everything(repository_number: int) -> int:
    """The product spec's scheduler: a substring test on the JSON, then a Python loop."""
    from triggers.filters import trigger_evaluate
    from triggers.models import Trigger

    repository = repository_name(repository_number)
    matched = 0
    for trigger in Trigger.objects.filter(config__icontains="pull_request"):
        if (
            trigger.config["repository"] == repository
            and trigger_evaluate(trigger.config, "pull_request", payload(repository)).matched
        ):
            matched += 1
    return matched


def latencies(function, samples: int) -> tuple[float, float, int]:
    rng = random.Random(7)
    timings, matched = [], 0
    for _ in range(samples):
        repository = rng.randrange(REPOSITORIES)
        started = time.perf_counter()
        matched += function(repository)
        timings.append(1000 * (time.perf_counter() - started))
    timings.sort()
    return statistics.median(timings), timings[min(len(timings) - 1, int(len(timings) * 0.99))], matched


def main() -> None:
    database_prepare()
    os.environ.update(service_env())
    import django

    django.setup()
    workflows = seed_installations()
    rows, stored = [], 0
    for size in SIZES:
        add_triggers(workflows, size - stored, stored)
        stored = size
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        index_p50, index_p99, index_matched = latencies(indexed, SAMPLES)
        scan_p50, scan_p99, scan_matched = latencies(scan_everything, SCAN_SAMPLES[size])
        rows.append((size, index_p50, index_p99, scan_p50, scan_p99))
        print(
            f"{size:>7} triggers: indexed p50 {index_p50:.2f} ms p99 {index_p99:.2f} ms ({index_matched} matches in {SAMPLES}); "
            f"scan p50 {scan_p50:.1f} ms p99 {scan_p99:.1f} ms ({scan_matched} in {SCAN_SAMPLES[size]})",
            flush=True,
        )
    print()
    print(f"{'triggers':>9}{'indexed p50':>13}{'p99':>8}{'scan p50':>11}{'p99':>9}{'scan/indexed':>14}")
    for size, index_p50, index_p99, scan_p50, scan_p99 in rows:
        print(
            f"{size:>9}{index_p50:>12.2f}ms{index_p99:>6.2f}ms{scan_p50:>9.1f}ms{scan_p99:>7.1f}ms{scan_p50 / index_p50:>13.0f}x"
        )
    growth = rows[-1][1] / rows[0][1]
    print(
        f"\nindexed p50 at 100k / at 1k: {growth:.2f}x (target <= {TARGET_GROWTH}x); "
        f"at 100k: {rows[-1][1]:.2f} ms (target <= {TARGET_P50_MS} ms)"
    )
    largest, index_p50, _, scan_p50, _ = rows[-1]
    name = f"indexed match p50, {largest:,} triggers"
    figure_record(name=name, value=index_p50, unit="ms", reference=Reference("target", "at most", TARGET_P50_MS))
    figure_record(name=name, value=index_p50, unit="ms", reference=Reference("peer", "the spec's scan", scan_p50))
    figure_record(
        name=f"indexed match p50, {largest:,} over {SIZES[0]:,} triggers",
        value=growth,
        unit="x",
        reference=Reference("target", "at most", TARGET_GROWTH),
    )


if __name__ == "__main__":
    main()
