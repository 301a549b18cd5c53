from datetime import timedelta
from types import SimpleNamespace
from typing import cast

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from github import Github

from github_app.api.installation_client import rate_limit_record
from tests.operations.dashboard_data import (
    deliveries_add,
    installation_add,
    prompt_step_add,
    run_add,
    workflow_add,
)

URL = "/dashboard/"


@pytest.fixture
def staff_client(client, db):
    staff = get_user_model().objects.create_user(username="operator", password="operator-pass-1", is_staff=True)
    client.force_login(staff)
    return client


@pytest.fixture
def now():
    return timezone.now()


def render(client):
    response = client.get(URL)
    assert response.status_code == 200
    return response


def test_anonymous_is_sent_to_the_admin_login(client, db):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={URL}"


def test_a_user_who_is_not_staff_is_refused(client, db):
    client.force_login(get_user_model().objects.create_user(username="member", password="member-pass-1"))

    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_an_empty_database_renders(staff_client):
    response = render(staff_client)

    html = response.content.decode()
    assert "No deliveries in the last 24 hours." in html
    assert "No failed delivery." in html
    assert "No failed run." in html
    assert "No active installation." in html
    assert "No tokens used." in html
    assert "<canvas" not in html
    assert response.context["deliveries"].last_24h.failure_rate is None


def test_deliveries_per_event_and_status_in_each_window(staff_client, now):
    deliveries_add(3, at=now - timedelta(hours=1), event="push", status="processed")
    deliveries_add(1, at=now - timedelta(hours=2), event="push", status="failed")
    deliveries_add(2, at=now - timedelta(hours=23), event="pull_request", status="ignored")
    deliveries_add(4, at=now - timedelta(days=3), event="push", status="failed")
    deliveries_add(5, at=now - timedelta(days=8), event="issues", status="failed")

    response = render(staff_client)

    summary = response.context["deliveries"]
    day = {counts.event: counts.by_status for counts in summary.last_24h.by_event}
    assert day.keys() == {"push", "pull_request"}
    assert (day["push"]["processed"], day["push"]["failed"], day["pull_request"]["ignored"]) == (3, 1, 2)
    week = {counts.event: counts.total for counts in summary.last_7d.by_event}
    assert week == {"push": 8, "pull_request": 2}
    assert sum(bucket.by_status["failed"] for bucket in summary.per_day) == 5
    assert sum(sum(bucket.by_status.values()) for bucket in summary.per_hour) == 6
    assert response.content.decode().count('data-chart="StackedBar"') == 2


def test_the_failure_rate_is_flagged_over_the_threshold(staff_client, now):
    deliveries_add(5, at=now - timedelta(hours=1), status="processed")
    deliveries_add(1, at=now - timedelta(hours=1), status="failed")
    deliveries_add(3, at=now - timedelta(hours=1), status="queued")  # not finished: not in the rate

    response = render(staff_client)

    window = response.context["deliveries"].last_24h
    assert window.failure_rate == pytest.approx(1 / 6)
    html = response.content.decode()
    assert 'class="failure-rate over" data-window="24h"' in html
    assert "16.7%" in html


@pytest.mark.parametrize(("processed", "flagged"), [(19, False), (18, True)])
def test_the_flag_flips_past_five_percent(staff_client, now, processed, flagged):
    deliveries_add(processed, at=now - timedelta(hours=1), status="processed")
    deliveries_add(1, at=now - timedelta(hours=1), status="failed")

    response = render(staff_client)

    assert response.context["deliveries"].last_24h.over_threshold is flagged
    assert ('class="failure-rate over" data-window="24h"' in response.content.decode()) is flagged


def test_recent_failures_link_to_their_admin_pages(staff_client, now):
    deliveries_add(2, at=now - timedelta(days=2), event="push", status="failed", last_error="GitHub answered 502")
    deliveries_add(1, at=now - timedelta(hours=1), event="push", status="processed")
    workflow = workflow_add("Nightly triage")
    failed = run_add(workflow, finished_at=now - timedelta(hours=3), seconds=5, conclusion="failure", error="boom")
    run_add(workflow, finished_at=now - timedelta(hours=3), seconds=5, conclusion="success")

    response = render(staff_client)

    deliveries = response.context["failed_deliveries"]
    assert len(deliveries) == 2
    html = response.content.decode()
    for delivery in deliveries:
        assert reverse("admin:github_app_webhookdelivery_change", args=[delivery.pk]) in html
    assert [run.pk for run in response.context["failed_runs"]] == [failed.pk]
    assert reverse("admin:workflows_workflowrun_change", args=[failed.pk]) in html
    assert "GitHub answered 502" in html and "Nightly triage" in html


def test_recent_failures_are_the_latest_twenty(staff_client, now):
    deliveries_add(25, at=now - timedelta(days=30), status="failed")
    deliveries_add(1, at=now - timedelta(minutes=5), status="failed", last_error="the newest")

    failures = render(staff_client).context["failed_deliveries"]

    assert len(failures) == 20
    assert failures[0].last_error == "the newest"


def test_runs_by_conclusion_with_duration_percentiles(staff_client, now):
    workflow = workflow_add()
    for seconds in range(1, 11):  # 1..10 s within the day
        run_add(workflow, finished_at=now - timedelta(hours=2), seconds=seconds)
    run_add(workflow, finished_at=now - timedelta(days=2), seconds=100, conclusion="timed_out")
    run_add(workflow, finished_at=now - timedelta(days=9), seconds=1000, conclusion="failure")

    runs = render(staff_client).context["runs"]

    assert runs.last_24h.by_conclusion["success"] == 10
    assert runs.last_24h.by_conclusion["timed_out"] == 0
    assert runs.last_24h.p50_seconds == pytest.approx(5.5)
    assert runs.last_24h.p95_seconds == pytest.approx(9.55)
    assert runs.last_7d.total == 11
    assert runs.last_7d.by_conclusion["failure"] == 0
    assert runs.last_7d.p95_seconds == pytest.approx(10 + 90 * 0.5)
    assert runs.last_7d.durations_sampled is False


def test_installations_by_state_and_changes_per_day(staff_client, now):
    installation_add(created_at=now - timedelta(days=2))
    installation_add(created_at=now - timedelta(days=2))
    installation_add(created_at=now - timedelta(days=40), suspended_at=now - timedelta(days=1))
    installation_add(created_at=now - timedelta(days=1), deleted_at=now)
    installation_add(created_at=now - timedelta(days=60), deleted_at=now - timedelta(days=45))

    response = render(staff_client)

    summary = response.context["installations"]
    assert (summary.active, summary.suspended, summary.deleted) == (2, 1, 2)
    assert len(summary.per_day) == 30
    assert sum(change.installs for change in summary.per_day) == 3
    assert summary.per_day[-1].uninstalls == 1
    assert sum(change.uninstalls for change in summary.per_day) == 1
    assert '<strong id="installations-suspended">1</strong>' in response.content.decode()


def _rate_limit_seen(installation_id: int, remaining: int, limit: int = 5000) -> None:
    requester = SimpleNamespace(rate_limiting=(remaining, limit), rate_limiting_resettime=1_900_000_000)
    rate_limit_record(installation_id, cast(Github, SimpleNamespace(requester=requester)))


def test_rate_limit_headroom_lowest_first(staff_client, now):
    roomy = installation_add(created_at=now, login="roomy")
    tight = installation_add(created_at=now, login="tight")
    installation_add(created_at=now, login="unseen")
    gone = installation_add(created_at=now, login="gone", deleted_at=now)
    _rate_limit_seen(roomy.installation_id, 4900)
    _rate_limit_seen(tight.installation_id, 120)
    _rate_limit_seen(gone.installation_id, 1)

    headrooms = render(staff_client).context["headrooms"]

    assert [(headroom.account_login, headroom.remaining) for headroom in headrooms] == [
        ("tight", 120),
        ("roomy", 4900),
        ("unseen", None),
    ]


def test_the_page_renders_when_the_cache_is_down(staff_client, now, cache_unreachable):
    installation_add(created_at=now)

    response = render(staff_client)

    assert response.context["headrooms"] is None
    assert "Rate limits are unavailable" in response.content.decode()


def test_llm_tokens_per_day_and_model(staff_client, now):
    run = run_add(workflow_add(), finished_at=now, seconds=1)
    usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    prompt_step_add(run, finished_at=now, model="gpt-4o-mini", usage=usage)
    prompt_step_add(run, finished_at=now, model="gpt-4o-mini", usage=usage)
    prompt_step_add(run, finished_at=now, model="other-model", usage={"prompt_tokens": "lots", "total_tokens": 7})
    prompt_step_add(run, finished_at=now, model=None, usage=None)
    prompt_step_add(run, finished_at=now - timedelta(days=10), model="gpt-4o-mini", usage=usage)

    tokens = render(staff_client).context["tokens"]

    today = timezone.localdate(now)
    assert {
        (row.day, row.model): (row.calls, row.prompt_tokens, row.completion_tokens, row.total_tokens)
        for row in tokens.rows
    } == {
        (today, "gpt-4o-mini"): (2, 200, 40, 240),
        (today, "other-model"): (1, 0, 0, 7),
        (today, "unknown"): (1, 0, 0, 0),
    }
    assert tokens.totals("prompt_tokens")[-1] == 200


def _seed(now, scale: int) -> None:
    workflow = workflow_add(f"workflow {scale}")
    for index, event in enumerate(["push", "pull_request", "issues", "issue_comment"][:scale]):
        for status in ["processed", "failed", "queued"]:
            deliveries_add(scale * 3, at=now - timedelta(hours=index * 20), event=event, status=status)
        installation_add(created_at=now - timedelta(days=index))
        run = run_add(workflow, finished_at=now - timedelta(days=index), seconds=index + 1, conclusion="failure")
        prompt_step_add(run, finished_at=now, model=f"model-{index}", usage={"prompt_tokens": 1, "total_tokens": 1})


def test_the_number_of_queries_does_not_grow_with_the_data(staff_client, now, django_assert_max_num_queries):
    _seed(now, 1)
    with CaptureQueriesContext(connection) as small:
        render(staff_client)

    _seed(now, 4)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = render(staff_client)
    assert response.context["deliveries"].last_7d.total == 3 * 3 + 4 * 3 * 12
