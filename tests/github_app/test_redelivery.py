"""Deliveries GitHub failed to send are found in the App's delivery log and asked for again."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from github_app.models import DeliveryLogPosition, RedeliveryRequest, WebhookDelivery
from github_app.webhooks.redelivery import MAX_PAGES_PER_PASS
from github_app.webhooks.tasks import deliveries_redeliver_missed
from tests.github_app.webhooks import fixture_body, post_webhook
from tests.github_double import GitHub

pytestmark = pytest.mark.django_db
Status = WebhookDelivery.Status
RATE_LIMITED = {
    "403 with the quota spent": {
        "status": 403,
        "json": {
            "message": "API rate limit exceeded for app ID 123456.",
            "documentation_url": "https://docs.github.com/rest",
        },
        "headers": {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1893456000"},
    },
    "429 with Retry-After": {
        "status": 429,
        "json": {"message": "Too many requests", "documentation_url": "https://docs.github.com/rest"},
        "headers": {"Retry-After": "60"},
    },
}


LOG = "/app/hook/deliveries"


def attempts(entry_id: int) -> str:
    return f"{LOG}/{entry_id}/attempts"


def log_pages_asked(github) -> list[str | None]:
    """The `cursor` of each request for a page of the log, in order (None: the newest page)."""
    return [request.query.get("cursor") for request in github.requests("GET", LOG)]


def paged_log(github, pages: list[list[tuple]]) -> list[list[dict]]:
    """The App's delivery log in `pages` of equal size, newest first: each entry is
    (entry id, GUID, hook_delivery's keyword arguments)."""
    github.hook_log_page_size = len(pages[0])
    return [[github.hook_delivery(entry_id, guid, **options) for entry_id, guid, options in page] for page in pages]


def cursor_after(page: list[dict]) -> str:
    return GitHub.hook_log_cursor(page[-1])


def redeliver_missed(*args: str) -> str:
    out = io.StringIO()
    call_command("redeliver_missed", *args, stdout=out)
    return out.getvalue()


def position() -> DeliveryLogPosition:
    return DeliveryLogPosition.objects.get()


@pytest.fixture
def deliver(client, db, django_capture_on_commit_callbacks):
    """GitHub sends a delivery to the webhook endpoint, and we answer it."""

    def send(delivery_id: str, name: str = "pull_request__opened", event: str = "pull_request"):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, fixture_body(name), event=event, delivery_id=delivery_id)
        assert response.status_code == 202, response.content
        return WebhookDelivery.objects.get(delivery_id=delivery_id)

    return send


class TestWhatIsRedelivered:
    def test_a_delivery_github_failed_to_send_is_redelivered_and_processed_and_nothing_else_is_redelivered(
        self, github, deliver
    ):
        deliver("stored-but-logged-as-timed-out")
        deliver("delivered")
        github.hook_delivery(9, "rescued-by-a-redelivery", status_code=200, minutes_ago=1, redelivery=True)
        github.hook_delivery(8, "answered-503", status_code=503, minutes_ago=2)
        github.hook_delivery(
            7, "sent-while-we-were-down", status_code=0, minutes_ago=3, event="issues", action="opened"
        )
        github.hook_delivery(6, "stored-but-logged-as-timed-out", status_code=0, minutes_ago=4)
        github.hook_delivery(5, "delivered", status_code=202, minutes_ago=5)
        github.hook_delivery(4, "rescued-by-a-redelivery", status_code=503, minutes_ago=6)

        out = redeliver_missed()

        assert github.redeliveries_asked() == [8, 7]
        assert all(request.headers["Authorization"].startswith("Bearer ey") for request in github.requests()), "App JWT"
        assert "Asked to redeliver answered-503 pull_request.opened (failed: Invalid HTTP Response: 503, 503)" in out
        assert "Asked to redeliver sent-while-we-were-down issues.opened (failed: timed out, 0)" in out
        assert "Read 6 log entries: 2 redelivery(ies) asked, 1 skipped as stored, 0 skipped as asked before." in out
        assert set(RedeliveryRequest.objects.values_list("delivery_id", "log_entry_id")) == {
            ("answered-503", 8),
            ("sent-while-we-were-down", 7),
        }

        redelivered = deliver("answered-503")
        deliver("sent-while-we-were-down", name="issues__opened", event="issues")

        redelivered.refresh_from_db()
        assert (redelivered.status, redelivered.attempts) == (Status.PROCESSED, 1)
        assert WebhookDelivery.objects.get(delivery_id="sent-while-we-were-down").status == Status.PROCESSED

    def test_a_delivery_is_asked_for_once_even_when_its_redelivery_fails_too(self, github):
        github.hook_delivery(1, "lost", status_code=503)
        redeliver_missed()
        github.forget_requests()
        github.hook_delivery(2, "lost", status_code=503, minutes_ago=1, redelivery=True)

        out = redeliver_missed()

        assert github.redeliveries_asked() == []
        assert "Read 1 log entries: 0 redelivery(ies) asked, 0 skipped as stored, 1 skipped as asked before." in out
        assert RedeliveryRequest.objects.get().log_entry_id == 1

    def test_the_first_pass_looks_back_the_configured_hours_only(self, github, settings):
        settings.WEBHOOK_REDELIVER_LOOKBACK_HOURS = 2
        github.hook_delivery(2, "recent", status_code=503, minutes_ago=60)
        github.hook_delivery(1, "before-the-lookback", status_code=503, minutes_ago=180)

        out = redeliver_missed()

        assert github.redeliveries_asked() == [2]
        assert "Read 1 log entries" in out
        assert position().newest_entry_id == 2

    def test_the_lookback_can_be_widened_for_the_first_pass(self, github, settings):
        settings.WEBHOOK_REDELIVER_LOOKBACK_HOURS = 2
        github.hook_delivery(2, "recent", status_code=503, minutes_ago=60)
        github.hook_delivery(1, "before-the-lookback", status_code=503, minutes_ago=180)

        redeliver_missed("--lookback-hours", "4")

        assert github.redeliveries_asked() == [2, 1]

    def test_a_later_pass_reads_down_to_where_the_last_one_began_and_no_further(self, github):
        github.hook_log_page_size = 2
        github.hook_delivery(10, "seen", status_code=202, minutes_ago=30)
        redeliver_missed()
        github.forget_requests()
        github.hook_delivery(11, "new-failure", status_code=503, minutes_ago=1)
        github.hook_delivery(9, "older-than-the-position", status_code=503, minutes_ago=40)  # on the second page

        out = redeliver_missed()

        assert github.redeliveries_asked() == [11]
        assert log_pages_asked(github) == [None], "the page past the position is not read"
        assert "Read 1 log entries" in out
        assert position().newest_entry_id == 11

    def test_a_refused_redelivery_is_kept_and_the_pass_goes_on(self, github):
        github.hook_delivery(3, "refused", status_code=503, minutes_ago=1)
        github.hook_delivery(2, "accepted", status_code=503, minutes_ago=2)
        github.fail("POST", attempts(3), 422, json={"message": "Validation Failed"})

        out = redeliver_missed()

        assert github.redeliveries_asked() == [3, 2]
        assert "GitHub refused (422) to redeliver refused pull_request.opened" in out
        assert "2 redelivery(ies) asked (1 refused)" in out
        assert dict(RedeliveryRequest.objects.values_list("delivery_id", "refused_with")) == {
            "refused": 422,
            "accepted": None,
        }
        assert position().newest_entry_id == 3

    def test_a_dry_run_lists_without_asking_or_recording(self, github):
        github.hook_delivery(1, "lost", status_code=503)

        out = redeliver_missed("--dry-run")

        assert "Would ask to redeliver lost pull_request.opened" in out
        assert "1 redelivery(ies) would be asked" in out
        assert github.redeliveries_asked() == []
        assert not RedeliveryRequest.objects.exists()
        assert DeliveryLogPosition.objects.filter(newest_entry_id__isnull=False).count() == 0


class TestPages:
    def test_the_pass_follows_the_cursor_over_every_page(self, github):
        pages = paged_log(
            github,
            [
                [(6, "a", {"status_code": 503, "minutes_ago": 1}), (5, "ok-1", {"minutes_ago": 2})],
                [(4, "b", {"status_code": 0, "minutes_ago": 3}), (3, "ok-2", {"minutes_ago": 4})],
                [(2, "c", {"status_code": 500, "minutes_ago": 5}), (1, "ok-3", {"minutes_ago": 6})],
            ],
        )

        out = redeliver_missed()

        assert log_pages_asked(github) == [None, cursor_after(pages[0]), cursor_after(pages[1])]
        assert github.redeliveries_asked() == [6, 4, 2]
        assert "Read 6 log entries: 3 redelivery(ies) asked" in out
        assert (position().newest_entry_id, position().resume_cursor) == (6, "")

    def test_a_pass_reads_a_bounded_number_of_pages_and_the_next_goes_on(self, github):
        pages = paged_log(
            github,
            [
                [(100 - number, f"lost-{number}", {"status_code": 503, "minutes_ago": number + 1})]
                for number in range(MAX_PAGES_PER_PASS + 1)
            ],
        )

        out = redeliver_missed()

        assert len(github.redeliveries_asked()) == MAX_PAGES_PER_PASS
        assert "page limit reached" in out
        assert (position().newest_entry_id, position().resume_cursor) == (
            None,
            cursor_after(pages[MAX_PAGES_PER_PASS - 1]),
        )

        github.forget_requests()
        redeliver_missed()

        assert log_pages_asked(github) == [cursor_after(pages[MAX_PAGES_PER_PASS - 1])]
        assert github.redeliveries_asked() == [100 - MAX_PAGES_PER_PASS]
        assert (position().newest_entry_id, position().resume_cursor) == (100, "")


class TestGitHubFailures:
    @pytest.fixture
    def two_pages(self, github):
        return paged_log(
            github,
            [
                [(6, "a", {"status_code": 503, "minutes_ago": 1}), (5, "ok", {"minutes_ago": 2})],
                [(4, "b", {"status_code": 503, "minutes_ago": 3}), (3, "c", {"status_code": 0, "minutes_ago": 4})],
            ],
        )

    def then_github_recovers(self, github, two_pages) -> str:
        github.recover()
        github.forget_requests()
        out = redeliver_missed()
        assert log_pages_asked(github) == [cursor_after(two_pages[0])], "it goes on from the unfinished page"
        assert (position().newest_entry_id, position().resume_cursor) == (6, "")
        return out

    @pytest.mark.parametrize("answer", RATE_LIMITED.values(), ids=RATE_LIMITED.keys())
    def test_a_rate_limit_on_a_redelivery_stops_the_pass_and_the_next_picks_up(self, github, two_pages, answer):
        github.fail("POST", attempts(4), **answer)

        with pytest.raises(CommandError, match="The pass stopped early: GitHub's rate limit is exhausted"):
            redeliver_missed()

        assert github.redeliveries_asked() == [6, 4], "nothing after the rate limit is asked"
        assert list(RedeliveryRequest.objects.values_list("delivery_id", flat=True)) == ["a"]
        assert (position().newest_entry_id, position().resume_cursor) == (None, cursor_after(two_pages[0]))

        self.then_github_recovers(github, two_pages)

        assert github.redeliveries_asked() == [4, 3]

    @pytest.mark.parametrize("answer", RATE_LIMITED.values(), ids=RATE_LIMITED.keys())
    def test_a_rate_limit_on_the_log_stops_the_pass_and_the_next_picks_up(self, github, two_pages, answer):
        github.fail("GET", LOG, query={"cursor": cursor_after(two_pages[0])}, **answer)

        with pytest.raises(CommandError, match="rate limit"):
            redeliver_missed()

        assert github.redeliveries_asked() == [6]
        assert (position().newest_entry_id, position().resume_cursor) == (None, cursor_after(two_pages[0]))

        self.then_github_recovers(github, two_pages)

        assert github.redeliveries_asked() == [4, 3]

    def test_the_wait_github_asks_for_is_shown(self, github):
        github.fail("GET", LOG, **RATE_LIMITED["429 with Retry-After"])

        with pytest.raises(CommandError, match="GitHub asks to wait 60 s"):
            redeliver_missed()

    def test_a_github_error_stops_the_pass_without_moving_the_position(self, github):
        github.hook_delivery(1, "lost", status_code=503)
        github.fail("POST", attempts(1), 502, json={"message": "Server Error"})

        with pytest.raises(CommandError, match="The pass stopped early: GitHub answered with an error"):
            redeliver_missed()

        assert not RedeliveryRequest.objects.exists(), "an ask that failed is asked again next pass"
        assert position().newest_entry_id is None

    def test_the_beat_task_stops_quietly_and_the_next_run_picks_up(self, github, two_pages):
        github.fail("GET", LOG, **RATE_LIMITED["429 with Retry-After"])

        assert deliveries_redeliver_missed.delay().get() == 0

        assert deliveries_redeliver_missed.delay().get() == 3
        assert github.redeliveries_asked() == [6, 4, 3]


class TestConfiguration:
    @pytest.mark.parametrize("hours", ["-1", "0", "a day"])
    def test_the_lookback_must_be_a_positive_number_of_hours(self, db, hours):
        with pytest.raises(CommandError, match="--lookback-hours"):
            redeliver_missed("--lookback-hours", hours)

    def test_without_a_github_app_the_command_says_so(self, db, github, settings):
        settings.GITHUB_APP_ID = ""

        with pytest.raises(CommandError, match="The GitHub App is not configured"):
            redeliver_missed()
        assert deliveries_redeliver_missed.delay().get() == 0
        assert github.requests() == []

    def test_redelivery_requests_are_listed_read_only_in_the_admin(self, client, github, deliver):
        github.hook_delivery(1, "lost", status_code=503)
        redeliver_missed()
        deliver("lost")
        client.force_login(get_user_model().objects.create_superuser(username="ops", password="pw-for-ops-only"))

        page = client.get("/admin/github_app/redeliveryrequest/")

        assert page.status_code == 200
        assert "lost" in page.content.decode()
        assert client.get("/admin/github_app/redeliveryrequest/add/").status_code == 403
