"""Deliveries GitHub failed to send are found in the App's delivery log and asked for again."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from responses import matchers

from github_app.models import DeliveryLogPosition, RedeliveryRequest, WebhookDelivery
from github_app.webhooks.redelivery import MAX_PAGES_PER_PASS
from github_app.webhooks.tasks import deliveries_redeliver_missed
from tests.github_app.github_stub import (
    api_url,
    delivery_log,
    delivery_log_pages_asked,
    hook_delivery,
    log_cursor,
    redeliveries_accepted,
    redeliveries_asked,
)
from tests.github_app.webhooks import fixture_body, post_webhook

pytestmark = pytest.mark.django_db
Status = WebhookDelivery.Status
RATE_LIMITED = {
    "403 with the quota spent": {
        "status": 403,
        "json": {"message": "API rate limit exceeded for app ID 123456.", "documentation_url": "https://docs.github.com/rest"},
        "headers": {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1893456000"},
    },
    "429 with Retry-After": {
        "status": 429,
        "json": {"message": "Too many requests", "documentation_url": "https://docs.github.com/rest"},
        "headers": {"Retry-After": "60"},
    },
}


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
        self, github_http, deliver
    ):
        deliver("stored-but-logged-as-timed-out")
        deliver("delivered")
        delivery_log(github_http, [[
            hook_delivery(9, "rescued-by-a-redelivery", status_code=200, minutes_ago=1, redelivery=True),
            hook_delivery(8, "answered-503", status_code=503, minutes_ago=2),
            hook_delivery(7, "sent-while-we-were-down", status_code=0, minutes_ago=3, event="issues", action="opened"),
            hook_delivery(6, "stored-but-logged-as-timed-out", status_code=0, minutes_ago=4),
            hook_delivery(5, "delivered", status_code=202, minutes_ago=5),
            hook_delivery(4, "rescued-by-a-redelivery", status_code=503, minutes_ago=6),
        ]])
        redeliveries_accepted(github_http)

        out = redeliver_missed()

        assert redeliveries_asked(github_http) == [8, 7]
        assert all(call.request.headers["Authorization"].startswith("Bearer ey") for call in github_http.calls), "App JWT"
        assert "Asked to redeliver answered-503 pull_request.opened (failed: Invalid HTTP Response: 503, 503)" in out
        assert "Asked to redeliver sent-while-we-were-down issues.opened (failed: timed out, 0)" in out
        assert "Read 6 log entries: 2 redelivery(ies) asked, 1 skipped as stored, 0 skipped as asked before." in out
        assert set(RedeliveryRequest.objects.values_list("delivery_id", "log_entry_id")) == {
            ("answered-503", 8), ("sent-while-we-were-down", 7)
        }

        redelivered = deliver("answered-503")
        deliver("sent-while-we-were-down", name="issues__opened", event="issues")

        redelivered.refresh_from_db()
        assert (redelivered.status, redelivered.attempts) == (Status.PROCESSED, 1)
        assert WebhookDelivery.objects.get(delivery_id="sent-while-we-were-down").status == Status.PROCESSED

    def test_a_delivery_is_asked_for_once_even_when_its_redelivery_fails_too(self, github_http):
        delivery_log(github_http, [[hook_delivery(1, "lost", status_code=503)]])
        redeliveries_accepted(github_http)
        redeliver_missed()
        github_http.reset()
        delivery_log(github_http, [[
            hook_delivery(2, "lost", status_code=503, minutes_ago=1, redelivery=True),
            hook_delivery(1, "lost", status_code=503),
        ]])
        redeliveries_accepted(github_http)

        out = redeliver_missed()

        assert redeliveries_asked(github_http) == []
        assert "Read 1 log entries: 0 redelivery(ies) asked, 0 skipped as stored, 1 skipped as asked before." in out
        assert RedeliveryRequest.objects.get().log_entry_id == 1

    def test_the_first_pass_looks_back_the_configured_hours_only(self, github_http, settings):
        settings.WEBHOOK_REDELIVER_LOOKBACK_HOURS = 2
        delivery_log(github_http, [[
            hook_delivery(2, "recent", status_code=503, minutes_ago=60),
            hook_delivery(1, "before-the-lookback", status_code=503, minutes_ago=180),
        ]])
        redeliveries_accepted(github_http)

        out = redeliver_missed()

        assert redeliveries_asked(github_http) == [2]
        assert "Read 1 log entries" in out
        assert position().newest_entry_id == 2

    def test_the_lookback_can_be_widened_for_the_first_pass(self, github_http, settings):
        settings.WEBHOOK_REDELIVER_LOOKBACK_HOURS = 2
        delivery_log(github_http, [[
            hook_delivery(2, "recent", status_code=503, minutes_ago=60),
            hook_delivery(1, "before-the-lookback", status_code=503, minutes_ago=180),
        ]])
        redeliveries_accepted(github_http)

        redeliver_missed("--lookback-hours", "4")

        assert redeliveries_asked(github_http) == [2, 1]

    def test_a_later_pass_reads_down_to_where_the_last_one_began_and_no_further(self, github_http):
        delivery_log(github_http, [[hook_delivery(10, "seen", status_code=202, minutes_ago=30)]])
        redeliver_missed()
        github_http.reset()
        delivery_log(github_http, [
            [
                hook_delivery(11, "new-failure", status_code=503, minutes_ago=1),
                hook_delivery(10, "seen", status_code=202, minutes_ago=30),
            ],
            [hook_delivery(9, "older-than-the-position", status_code=503, minutes_ago=40)],
        ])
        redeliveries_accepted(github_http)

        out = redeliver_missed()

        assert redeliveries_asked(github_http) == [11]
        assert delivery_log_pages_asked(github_http) == [None], "the page past the position is not read"
        assert "Read 1 log entries" in out
        assert position().newest_entry_id == 11

    def test_a_refused_redelivery_is_kept_and_the_pass_goes_on(self, github_http):
        delivery_log(github_http, [[
            hook_delivery(3, "refused", status_code=503, minutes_ago=1),
            hook_delivery(2, "accepted", status_code=503, minutes_ago=2),
        ]])
        github_http.post(api_url("/app/hook/deliveries/3/attempts"), json={"message": "Validation Failed"}, status=422)
        redeliveries_accepted(github_http)

        out = redeliver_missed()

        assert redeliveries_asked(github_http) == [3, 2]
        assert "GitHub refused (422) to redeliver refused pull_request.opened" in out
        assert "2 redelivery(ies) asked (1 refused)" in out
        assert dict(RedeliveryRequest.objects.values_list("delivery_id", "refused_with")) == {"refused": 422, "accepted": None}
        assert position().newest_entry_id == 3

    def test_a_dry_run_lists_without_asking_or_recording(self, github_http):
        delivery_log(github_http, [[hook_delivery(1, "lost", status_code=503)]])
        redeliveries_accepted(github_http)

        out = redeliver_missed("--dry-run")

        assert "Would ask to redeliver lost pull_request.opened" in out
        assert "1 redelivery(ies) would be asked" in out
        assert redeliveries_asked(github_http) == []
        assert not RedeliveryRequest.objects.exists()
        assert DeliveryLogPosition.objects.filter(newest_entry_id__isnull=False).count() == 0


class TestPages:
    def test_the_pass_follows_the_cursor_over_every_page(self, github_http):
        pages = [
            [hook_delivery(6, "a", status_code=503, minutes_ago=1), hook_delivery(5, "ok-1", minutes_ago=2)],
            [hook_delivery(4, "b", status_code=0, minutes_ago=3), hook_delivery(3, "ok-2", minutes_ago=4)],
            [hook_delivery(2, "c", status_code=500, minutes_ago=5), hook_delivery(1, "ok-3", minutes_ago=6)],
        ]
        delivery_log(github_http, pages)
        redeliveries_accepted(github_http)

        out = redeliver_missed()

        assert delivery_log_pages_asked(github_http) == [None, log_cursor(pages[0]), log_cursor(pages[1])]
        assert redeliveries_asked(github_http) == [6, 4, 2]
        assert "Read 6 log entries: 3 redelivery(ies) asked" in out
        assert (position().newest_entry_id, position().resume_cursor) == (6, "")

    def test_a_pass_reads_a_bounded_number_of_pages_and_the_next_goes_on(self, github_http):
        pages = [
            [hook_delivery(100 - number, f"lost-{number}", status_code=503, minutes_ago=number + 1)]
            for number in range(MAX_PAGES_PER_PASS + 1)
        ]
        delivery_log(github_http, pages)
        redeliveries_accepted(github_http)

        out = redeliver_missed()

        assert len(redeliveries_asked(github_http)) == MAX_PAGES_PER_PASS
        assert "page limit reached" in out
        assert (position().newest_entry_id, position().resume_cursor) == (None, log_cursor(pages[MAX_PAGES_PER_PASS - 1]))

        github_http.reset()
        delivery_log(github_http, pages[MAX_PAGES_PER_PASS:], first_cursor=log_cursor(pages[MAX_PAGES_PER_PASS - 1]))
        redeliveries_accepted(github_http)

        redeliver_missed()

        assert redeliveries_asked(github_http) == [100 - MAX_PAGES_PER_PASS]
        assert (position().newest_entry_id, position().resume_cursor) == (100, "")


class TestGitHubFailures:
    @pytest.fixture
    def two_pages(self):
        return [
            [hook_delivery(6, "a", status_code=503, minutes_ago=1), hook_delivery(5, "ok", minutes_ago=2)],
            [hook_delivery(4, "b", status_code=503, minutes_ago=3), hook_delivery(3, "c", status_code=0, minutes_ago=4)],
        ]

    def then_github_recovers(self, github_http, two_pages) -> str:
        github_http.reset()
        delivery_log(github_http, two_pages[1:], first_cursor=log_cursor(two_pages[0]))
        redeliveries_accepted(github_http)
        out = redeliver_missed()
        assert delivery_log_pages_asked(github_http) == [log_cursor(two_pages[0])], "it goes on from the unfinished page"
        assert (position().newest_entry_id, position().resume_cursor) == (6, "")
        return out

    @pytest.mark.parametrize("answer", RATE_LIMITED.values(), ids=RATE_LIMITED.keys())
    def test_a_rate_limit_on_a_redelivery_stops_the_pass_and_the_next_picks_up(self, github_http, two_pages, answer):
        delivery_log(github_http, two_pages)
        github_http.post(api_url("/app/hook/deliveries/4/attempts"), **answer)
        redeliveries_accepted(github_http)

        with pytest.raises(CommandError, match="The pass stopped early: GitHub's rate limit is exhausted"):
            redeliver_missed()

        assert redeliveries_asked(github_http) == [6, 4], "nothing after the rate limit is asked"
        assert list(RedeliveryRequest.objects.values_list("delivery_id", flat=True)) == ["a"]
        assert (position().newest_entry_id, position().resume_cursor) == (None, log_cursor(two_pages[0]))

        self.then_github_recovers(github_http, two_pages)

        assert redeliveries_asked(github_http) == [4, 3]

    @pytest.mark.parametrize("answer", RATE_LIMITED.values(), ids=RATE_LIMITED.keys())
    def test_a_rate_limit_on_the_log_stops_the_pass_and_the_next_picks_up(self, github_http, two_pages, answer):
        second_page = matchers.query_param_matcher({"per_page": "100", "cursor": log_cursor(two_pages[0])})
        github_http.get(api_url("/app/hook/deliveries"), match=[second_page], **answer)  # met before the page itself
        delivery_log(github_http, two_pages)
        redeliveries_accepted(github_http)

        with pytest.raises(CommandError, match="rate limit"):
            redeliver_missed()

        assert redeliveries_asked(github_http) == [6]
        assert (position().newest_entry_id, position().resume_cursor) == (None, log_cursor(two_pages[0]))

        self.then_github_recovers(github_http, two_pages)

        assert redeliveries_asked(github_http) == [4, 3]

    def test_the_wait_github_asks_for_is_shown(self, github_http):
        github_http.get(api_url("/app/hook/deliveries"), **RATE_LIMITED["429 with Retry-After"])

        with pytest.raises(CommandError, match="GitHub asks to wait 60 s"):
            redeliver_missed()

    def test_a_github_error_stops_the_pass_without_moving_the_position(self, github_http):
        delivery_log(github_http, [[hook_delivery(1, "lost", status_code=503)]])
        github_http.post(api_url("/app/hook/deliveries/1/attempts"), json={"message": "Server Error"}, status=502)

        with pytest.raises(CommandError, match="The pass stopped early: GitHub answered with an error"):
            redeliver_missed()

        assert not RedeliveryRequest.objects.exists(), "an ask that failed is asked again next pass"
        assert position().newest_entry_id is None

    def test_the_beat_task_stops_quietly_and_the_next_run_picks_up(self, github_http, two_pages):
        github_http.get(api_url("/app/hook/deliveries"), **RATE_LIMITED["429 with Retry-After"])

        assert deliveries_redeliver_missed.delay().get() == 0

        github_http.reset()
        delivery_log(github_http, two_pages)
        redeliveries_accepted(github_http)
        assert deliveries_redeliver_missed.delay().get() == 3
        assert redeliveries_asked(github_http) == [6, 4, 3]


class TestConfiguration:
    @pytest.mark.parametrize("hours", ["-1", "0", "a day"])
    def test_the_lookback_must_be_a_positive_number_of_hours(self, db, hours):
        with pytest.raises(CommandError, match="--lookback-hours"):
            redeliver_missed("--lookback-hours", hours)

    def test_without_a_github_app_the_command_says_so(self, db, github_http, settings):
        settings.GITHUB_APP_ID = ""

        with pytest.raises(CommandError, match="The GitHub App is not configured"):
            redeliver_missed()
        assert deliveries_redeliver_missed.delay().get() == 0
        assert len(github_http.calls) == 0

    def test_redelivery_requests_are_listed_read_only_in_the_admin(self, client, github_http, deliver):
        delivery_log(github_http, [[hook_delivery(1, "lost", status_code=503)]])
        redeliveries_accepted(github_http)
        redeliver_missed()
        deliver("lost")
        client.force_login(get_user_model().objects.create_superuser(username="ops", password="pw-for-ops-only"))

        page = client.get("/admin/github_app/redeliveryrequest/")

        assert page.status_code == 200
        assert "lost" in page.content.decode()
        assert client.get("/admin/github_app/redeliveryrequest/add/").status_code == 403
