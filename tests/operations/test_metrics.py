"""GET /metrics. The metrics directory is shared by every process of the test run, so each test
reads the change its own actions made between two scrapes."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from aiworkflow import metrics
from github_app.models import WebhookDelivery
from tests.conftest import github_connection, load_fixture
from tests.github_app.webhooks import post_fixture, post_webhook
from tests.workflows.test_engine import INSTALLATION, REPO, REVIEW, pull_request_to_review
from triggers.services import workflow_save
from workflows.models import WorkflowRun

Samples = dict[tuple[str, frozenset], float]


def scrape(client, **headers) -> Samples:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def change(before: Samples, after: Samples, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def installed(user):
    """The App installed on the account of REPO, connected by the user."""
    github_connection(user, INSTALLATION, repositories={186853002: REPO})


@pytest.fixture
def ai_review(user, installed, settings):
    settings.AI_BASE_URL = "https://llm.test/v1"
    settings.AI_MODEL = "gpt-test"
    trigger = {"repository": REPO, "events": ["pull_request"]}
    return workflow_save(owner=user, name="AI review", definition=REVIEW, triggers=[trigger])


def test_a_delivery_that_runs_an_ai_review_is_counted_at_every_stage(
    client, ai_review, github, llm, django_capture_on_commit_callbacks
):
    pull_request_to_review(github)
    llm.answers((200, "Looks good."))
    payload = load_fixture("pull_request__opened")
    payload["installation"] = {"id": INSTALLATION}
    before = scrape(client)

    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(client, json.dumps(payload).encode(), event="pull_request")

    after = scrape(client)
    assert WorkflowRun.objects.get().conclusion == "success"
    assert change(before, after, "github_webhook_received_total", event="pull_request") == 1
    assert change(before, after, "github_webhook_processed_total", event="pull_request", status="processed") == 1
    assert change(before, after, "github_webhook_intake_seconds_count") == 1
    assert change(before, after, "github_webhook_processing_lag_seconds_count") == 1
    assert change(before, after, "workflow_triggers_executed_total") == 1
    assert change(before, after, "workflow_runs_total", conclusion="success") == 1
    assert change(before, after, "workflow_run_duration_seconds_count") == 1
    assert change(before, after, "workflow_llm_tokens_total", model="gpt-test", kind="prompt") == 30
    assert change(before, after, "workflow_llm_tokens_total", model="gpt-test", kind="completion") == 12


def test_refused_deliveries_count_as_intake_but_not_as_received(client, db):
    before = scrape(client)

    client.post("/webhooks/github", data=b"{}", content_type="application/json", HTTP_X_GITHUB_EVENT="push")

    after = scrape(client)
    assert change(before, after, "github_webhook_intake_seconds_count") == 1
    assert change(before, after, "github_webhook_received_total", event="push") == 0


def test_a_delivery_ignored_at_intake_is_counted_as_processed_ignored(client, db):
    before = scrape(client)

    post_fixture(client, "marketplace_purchase__purchased")

    after = scrape(client)
    assert change(before, after, "github_webhook_processed_total", event="marketplace_purchase", status="ignored") == 1


def test_failed_attempts_and_deliveries_that_gave_up_are_counted(
    client, db, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    before = scrape(client)

    with django_capture_on_commit_callbacks(execute=True):  # a lifecycle event that names no installation
        post_webhook(client, json.dumps({"action": "created", "sender": {"login": "x"}}).encode(), event="installation")

    after = scrape(client)
    assert WebhookDelivery.objects.get().status == "failed"
    assert change(before, after, "github_webhook_failed_total") == 1
    assert change(before, after, "github_webhook_processed_total", event="installation", status="failed") == 1


def test_uninstalls_are_counted_for_the_spike_alert(client, installed, django_capture_on_commit_callbacks):
    payload = load_fixture("installation__deleted")
    payload["installation"]["id"] = INSTALLATION
    before = scrape(client)

    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(client, json.dumps(payload).encode(), event="installation")

    after = scrape(client)
    assert change(before, after, "github_installation_events_total", action="deleted") == 1
    assert value(after, "github_installations_active") == 0


def test_database_figures_are_read_at_scrape_time(client, installed):
    old = timezone.now() - timedelta(minutes=10)
    WebhookDelivery.objects.create(delivery_id="a", event="push", status="received", received_at=old)
    WebhookDelivery.objects.create(delivery_id="b", event="push", status="processing")
    WebhookDelivery.objects.create(delivery_id="c", event="push", status="processed")

    samples = scrape(client)

    assert value(samples, "aiworkflow_database_up") == 1
    assert value(samples, "github_installations_active") == 1
    assert value(samples, "github_webhook_backlog", status="received") == 1
    assert value(samples, "github_webhook_backlog", status="processing") == 1
    assert value(samples, "github_webhook_backlog", status="queued") == 0
    assert 590 < value(samples, "github_webhook_backlog_oldest_age_seconds") < 700
    assert value(samples, "workflow_run_backlog", status="queued") == 0


def test_a_database_outage_is_a_figure_not_an_error(client, db, monkeypatch):
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self):
        raise self.Database.OperationalError("connection refused")

    with monkeypatch.context() as outage:
        outage.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)
        samples = scrape(client)

    assert value(samples, "aiworkflow_database_up") == 0
    assert ("github_installations_active", frozenset()) not in samples


class TestBearerToken:
    @pytest.fixture(autouse=True)
    def token(self, settings):
        settings.METRICS_BEARER_TOKEN = "scrape-secret"

    @pytest.mark.parametrize(
        "header", [None, "Bearer wrong", "scrape-secret", "Bearer scrape-secret-and-more", "Basic c2NyYXBl", "Bearer "]
    )
    def test_a_missing_or_wrong_token_is_a_401(self, client, db, header):
        response = client.get("/metrics", **({"HTTP_AUTHORIZATION": header} if header is not None else {}))

        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"github_webhook" not in response.content

    def test_the_token_opens_it(self, client, db):
        assert value(scrape(client, HTTP_AUTHORIZATION="Bearer scrape-secret"), "aiworkflow_database_up") == 1


def test_metrics_is_get_only(client, db):
    assert client.post("/metrics").status_code == 405


def _in_another_process(code: str) -> int:
    """Run `code` with the metrics imported in a process of its own; returns its pid."""
    finished = subprocess.run(
        [sys.executable, "-c", f"import os\nfrom aiworkflow import metrics\n{code}\nprint(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        timeout=60,
    )
    return int(finished.stdout.split()[-1])


def test_a_process_that_records_nothing_leaves_no_file():
    """Every manage.py command and container probe imports the metrics."""
    pid = _in_another_process("")

    assert [name for name in os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"]) if name.endswith(f"-{pid}.db")] == []


def test_samples_of_every_process_are_merged(client, db):
    before = scrape(client)

    _in_another_process("metrics.WEBHOOK_RECEIVED.labels(event='merge-probe').inc(3)")
    metrics.WEBHOOK_RECEIVED.labels(event="merge-probe").inc(2)

    assert change(before, scrape(client), "github_webhook_received_total", event="merge-probe") == 5


def test_compaction_folds_exited_processes_into_an_archive_and_keeps_every_total(client, db):
    """Removing an exited process's samples would make the totals fall, which Prometheus reads
    as a counter reset: rate() would see the whole total arrive at once."""
    earlier = scrape(client)
    pid = _in_another_process(
        "metrics.WEBHOOK_RECEIVED.labels(event='compaction-probe').inc(3)\n"
        "metrics.WEBHOOK_INTAKE_SECONDS.observe(0.02)\n"
        "metrics.GITHUB_API_RATE_LIMIT_REMAINING.labels(installation='compaction-probe').set(77)"
    )
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    metrics.WEBHOOK_RECEIVED.labels(event="compaction-probe").inc()
    before = scrape(client)

    metrics.dead_processes_compact()

    after = scrape(client)
    assert [name for name in os.listdir(directory) if name.endswith(f"-{pid}.db")] == []
    assert f"counter_{metrics.process_identifier()}.db" in os.listdir(directory), "a live process's file stays"
    assert change(earlier, after, "github_webhook_received_total", event="compaction-probe") == 4
    assert value(after, "github_api_rate_limit_remaining", installation="compaction-probe") == 77
    assert value(after, "github_webhook_intake_seconds_count") == value(before, "github_webhook_intake_seconds_count")
    # Folding adds in another order: the float sum may differ in its last bits.
    assert value(after, "github_webhook_intake_seconds_sum") == pytest.approx(
        value(before, "github_webhook_intake_seconds_sum")
    )
