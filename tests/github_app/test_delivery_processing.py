import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from freezegun import freeze_time

from github_app.models import WebhookDelivery
from github_app.webhooks.deliveries import (
    deliveries_claim_due,
    deliveries_relay,
    delivery_claim,
    delivery_payloads_purge,
    delivery_process,
)
from tests.github_app.webhooks import fixture_body, post_webhook

Status = WebhookDelivery.Status
INSTALLATION = "/app/installations/957387"


@pytest.fixture
def installation(github):
    """Installation 957387 at GitHub, its selection switched to all repositories."""
    return github.installation(957387, repository_selection="all", repositories=["Codertocat/one"])


@pytest.fixture
def resync_delivery(client, db, installation, django_capture_on_commit_callbacks):
    """A delivery whose processing calls GitHub: repository selection switched to all."""
    payload = json.loads(fixture_body("installation_repositories__added"))
    payload["repository_selection"] = "all"

    def post() -> WebhookDelivery:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, json.dumps(payload).encode(), event="installation_repositories")
        return WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])

    return post


def github_failing(github):
    github.fail("GET", INSTALLATION, 500, json={"message": "Server Error"}, times=None)


class TestFailureAndRetry:
    def test_a_failed_attempt_is_recorded_with_backoff(self, resync_delivery, github, settings):
        github_failing(github)

        delivery = resync_delivery()

        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (Status.RECEIVED, 1)
        assert "GitHubBadGateway" in delivery.last_error
        delay = (delivery.next_attempt_at - timezone.now()).total_seconds()
        assert settings.WEBHOOK_RETRY_BASE_SECONDS - 2 < delay <= settings.WEBHOOK_RETRY_BASE_SECONDS

    def test_the_relay_retries_only_when_due_and_the_wait_doubles(self, resync_delivery, github, settings):
        github_failing(github)
        delivery = resync_delivery()

        assert deliveries_relay() == 0, "not due yet"
        with freeze_time(timezone.now() + timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS + 1)):
            assert deliveries_relay() == 1
            delivery.refresh_from_db()
            assert delivery.attempts == 2
            assert (delivery.next_attempt_at - timezone.now()).total_seconds() == pytest.approx(
                2 * settings.WEBHOOK_RETRY_BASE_SECONDS, abs=1
            )

    def test_a_retry_that_succeeds_finishes_the_delivery(self, resync_delivery, github, settings):
        github_failing(github)
        delivery = resync_delivery()
        github.recover()  # GitHub is back

        with freeze_time(timezone.now() + timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS + 1)):
            deliveries_relay()

        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_error) == (Status.PROCESSED, 2, "")

    def test_after_the_last_attempt_the_delivery_is_failed_and_visible(self, resync_delivery, github, settings):
        settings.WEBHOOK_MAX_ATTEMPTS = 2
        github_failing(github)
        delivery = resync_delivery()

        with freeze_time(timezone.now() + timedelta(hours=1)):
            deliveries_relay()
        with freeze_time(timezone.now() + timedelta(hours=2)):
            assert deliveries_relay() == 0

        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (Status.FAILED, 2, None)
        assert "GitHubBadGateway" in delivery.last_error

    def test_a_rate_limit_defers_the_retry_until_github_allows_it(self, resync_delivery, github):
        github.fail(
            "GET",
            "/installation/repositories",
            403,
            json={"message": "You have exceeded a secondary rate limit."},
            headers={"Retry-After": "900"},
        )

        delivery = resync_delivery()

        delivery.refresh_from_db()
        assert delivery.status == Status.RECEIVED and "GitHubRetryLater" in delivery.last_error
        assert (delivery.next_attempt_at - timezone.now()).total_seconds() == pytest.approx(900, abs=2)

    def test_backoff_is_capped(self, resync_delivery, github, settings):
        settings.WEBHOOK_RETRY_MAX_SECONDS = 40
        github_failing(github)
        delivery = resync_delivery()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=6, status=Status.QUEUED)

        delivery_process(delivery_pk=delivery.pk)

        delivery.refresh_from_db()
        assert (delivery.next_attempt_at - timezone.now()).total_seconds() == pytest.approx(40, abs=1)


class TestClaim:
    def test_a_delivery_is_claimed_once(self, resync_delivery, github):
        github_failing(github)
        delivery = resync_delivery()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.QUEUED)

        assert delivery_claim(delivery_pk=delivery.pk) is not None
        assert delivery_claim(delivery_pk=delivery.pk) is None

    @pytest.mark.parametrize("status", [Status.PROCESSED, Status.IGNORED, Status.FAILED])
    def test_finished_deliveries_are_not_claimed(self, resync_delivery, github, status):
        github_failing(github)
        delivery = resync_delivery()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=status)

        assert delivery_claim(delivery_pk=delivery.pk) is None

    def test_a_stale_claim_is_taken_over(self, resync_delivery, github, settings):
        github_failing(github)
        delivery = resync_delivery()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.PROCESSING, claimed_at=timezone.now())
        assert delivery_claim(delivery_pk=delivery.pk) is None

        with freeze_time(timezone.now() + timedelta(seconds=settings.WEBHOOK_PROCESSING_STALE_SECONDS + 1)):
            assert delivery_claim(delivery_pk=delivery.pk) is not None


class TestRelay:
    def test_deliveries_the_publisher_never_handed_over_are_found_after_the_grace(self, client, db, settings):
        delivery = WebhookDelivery.objects.create(delivery_id="orphan", event="push", payload=b"{}")
        assert deliveries_claim_due() == []

        with freeze_time(timezone.now() + timedelta(seconds=settings.WEBHOOK_ENQUEUE_GRACE_SECONDS + 1)):
            assert deliveries_claim_due() == [delivery.pk]

    def test_lost_messages_and_dead_workers_are_found(self, resync_delivery, github, settings):
        github_failing(github)
        queued, processing, fresh = resync_delivery(), resync_delivery(), resync_delivery()
        long_ago = timezone.now() - timedelta(hours=2)
        WebhookDelivery.objects.filter(pk=queued.pk).update(status=Status.QUEUED, enqueued_at=long_ago)
        WebhookDelivery.objects.filter(pk=processing.pk).update(status=Status.PROCESSING, claimed_at=long_ago)
        WebhookDelivery.objects.filter(pk=fresh.pk).update(status=Status.QUEUED, enqueued_at=timezone.now())

        assert set(deliveries_claim_due()) == {queued.pk, processing.pk}

    def test_a_delivery_whose_worker_died_on_every_attempt_fails(self, resync_delivery, github, settings):
        github_failing(github)
        delivery = resync_delivery()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=Status.PROCESSING,
            claimed_at=timezone.now() - timedelta(hours=2),
            attempts=settings.WEBHOOK_MAX_ATTEMPTS,
        )

        assert deliveries_claim_due() == []
        delivery.refresh_from_db()
        assert delivery.status == Status.FAILED and "lost" in delivery.last_error

    def test_relay_after_the_broker_was_down_processes_the_kept_delivery(
        self, client, db, broker_unreachable, monkeypatch, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, fixture_body("pull_request__opened"), event="pull_request")
        delivery = WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])
        assert delivery.status == Status.RECEIVED
        monkeypatch.undo()  # the broker is back

        with django_capture_on_commit_callbacks(execute=True):
            assert deliveries_relay() == 1

        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (Status.PROCESSED, 1)

    def test_the_command_processes_in_process_while_the_broker_is_down(
        self, client, db, broker_unreachable, capsys, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            post_webhook(client, fixture_body("pull_request__opened"), event="pull_request", delivery_id="kept")

        call_command("relay_deliveries")

        assert "Processed 1 delivery(ies) in this process" in capsys.readouterr().out
        assert WebhookDelivery.objects.get(delivery_id="kept").status == Status.PROCESSED

    def test_the_command_enqueues_when_the_broker_is_up(self, resync_delivery, github, capsys):
        github_failing(github)
        delivery = resync_delivery()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        github.recover()  # GitHub is back

        call_command("relay_deliveries")

        assert "Enqueued 1 delivery(ies)" in capsys.readouterr().out
        assert WebhookDelivery.objects.get(pk=delivery.pk).status == Status.PROCESSED


class TestPayloadRetention:
    def test_old_finished_payloads_are_purged_and_the_rest_kept(self, resync_delivery, github, settings):
        github_failing(github)
        old_done, old_pending, recent_done = resync_delivery(), resync_delivery(), resync_delivery()
        long_ago = timezone.now() - timedelta(days=settings.WEBHOOK_PAYLOAD_RETENTION_DAYS + 1)
        WebhookDelivery.objects.filter(pk=old_done.pk).update(status=Status.PROCESSED, received_at=long_ago)
        WebhookDelivery.objects.filter(pk=old_pending.pk).update(received_at=long_ago)
        WebhookDelivery.objects.filter(pk=recent_done.pk).update(status=Status.PROCESSED)

        assert delivery_payloads_purge() == 1

        purged = WebhookDelivery.objects.get(pk=old_done.pk)
        assert (bytes(purged.payload), purged.payload_purged_at is not None) == (b"", True)
        assert WebhookDelivery.objects.get(pk=old_pending.pk).payload
        assert WebhookDelivery.objects.get(pk=recent_done.pk).payload
