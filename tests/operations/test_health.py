import time
from datetime import timedelta

import pytest
import requests
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from aiworkflow.beat import HEARTBEAT_KEY, HeartbeatScheduler
from aiworkflow.celery import app as celery_app
from github_app.models import WebhookDelivery


@pytest.fixture
def beat_alive():
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


def test_live_answers_without_touching_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/health", "/health/ready"])
def test_ready_reports_every_check(client, db, beat_alive, path):
    response = client.get(path)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "beat": True,
    }
    assert body["checks"]["beat"]["heartbeat_age_seconds"] < 5


def test_a_broker_outage_leaves_the_web_role_ready(client, db, beat_alive, broker_unreachable):
    """Intake stores deliveries without the broker; an orchestrator must not pull the web
    process out of rotation for it."""
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["broker"]["ok"] is False


def test_a_database_outage_makes_the_web_role_unready(client, db, beat_alive, monkeypatch):
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self):
        raise self.Database.OperationalError("connection refused")

    with monkeypatch.context() as outage:
        outage.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)
        response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "OperationalError"}


def test_a_dead_beat_is_reported(client, db, settings):
    cache.set(HEARTBEAT_KEY, time.time() - settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS - 5, timeout=None)

    beat = client.get("/health/ready").json()["checks"]["beat"]

    assert beat["ok"] is False
    assert "s ago" in beat["error"]


def test_a_beat_that_never_ran_is_reported(client, db):
    assert client.get("/health/ready").json()["checks"]["beat"]["ok"] is False


def test_a_cache_outage_is_reported_not_raised(client, db, cache_unreachable):
    response = client.get("/health/ready?full=1")

    assert response.status_code == 200
    assert response.json()["checks"]["beat"]["ok"] is False


def test_full_adds_github_app_authentication_and_the_oldest_waiting_work(client, db, beat_alive, github):
    WebhookDelivery.objects.create(
        delivery_id="waiting", event="push", status="received", received_at=timezone.now() - timedelta(minutes=5)
    )

    checks = client.get("/health/ready?full=1").json()["checks"]

    assert checks["github_app"] == {"ok": True, "app": github.app_slug}
    assert checks["waiting"]["deliveries"] == 1
    assert 290 < checks["waiting"]["oldest_delivery_age_seconds"] < 400
    assert checks["waiting"]["runs"] == 0
    assert checks["waiting"]["oldest_run_age_seconds"] is None


def test_github_is_asked_at_most_once_a_minute_whatever_the_probe_rate(client, db, github):
    for _ in range(5):
        client.get("/health/ready?full=1")

    assert github.count("GET", "/app") == 1


def test_a_rejected_app_key_makes_the_github_check_fail(client, db, github):
    github.fail("GET", "/app", 401, json={"message": "A JSON web token could not be decoded"}, times=None)

    check = client.get("/health/ready?full=1").json()["checks"]["github_app"]

    assert check["ok"] is False
    assert client.get("/health/ready?full=1").status_code == 200  # GitHub is not this process's readiness


def test_github_unreachable_is_reported(client, db, github):
    github.fail("GET", "/app", error=requests.ConnectionError("connection reset"))

    assert client.get("/health/ready?full=1").json()["checks"]["github_app"]["ok"] is False


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_health_is_get_only(client, db, path):
    assert client.post(path).status_code == 405


@pytest.fixture
def scheduler(tmp_path, monkeypatch) -> HeartbeatScheduler:
    """Beat's scheduler with nothing due, so that a tick sends no task."""
    monkeypatch.setitem(celery_app.conf, "beat_schedule", {})
    return HeartbeatScheduler(app=celery_app, schedule_filename=str(tmp_path / "schedule"))


def test_beat_leaves_a_heartbeat_as_it_ticks(settings, scheduler):

    scheduler.tick()

    assert time.time() - cache.get(HEARTBEAT_KEY) < 5
    assert scheduler.max_interval <= settings.BEAT_HEARTBEAT_INTERVAL_SECONDS


def test_beat_keeps_its_schedule_while_the_cache_is_down(cache_unreachable, scheduler):

    assert scheduler.tick() >= 0


def test_the_beat_probe_fails_without_a_fresh_heartbeat(settings):
    with pytest.raises(CommandError, match="no heartbeat"):
        call_command("probe", "beat")
    cache.set(HEARTBEAT_KEY, time.time() - settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS - 1, timeout=None)
    with pytest.raises(CommandError, match="s old"):
        call_command("probe", "beat")
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)
    call_command("probe", "beat")
