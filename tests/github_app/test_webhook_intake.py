import io
import json
import uuid
from dataclasses import dataclass
from unittest import mock
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import checks
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from github_app.models import WebhookDelivery
from github_app.webhooks.publisher import publisher
from github_app.webhooks.signatures import signature_for, signature_is_valid
from github_app.webhooks.views import spent_addresses
from tests.github_app.webhooks import WEBHOOK_URL, fixture_body, post_fixture, post_webhook

PULL_REQUEST = "pull_request__opened"
MAX_BODY = 25 * 1024 * 1024


@pytest.fixture
def deliver(client, db, django_capture_on_commit_callbacks):
    """Post as GitHub does, running what the view schedules after commit."""

    def post(name: str = PULL_REQUEST, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post_fixture(client, name, **kwargs)

    return post


def assert_nothing_stored():
    assert not WebhookDelivery.objects.exists()


class BodyThatRecordsReads(io.BytesIO):
    """A request body that counts what the server read of it."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


class TestSignature:
    def test_githubs_published_test_vector(self, settings):
        settings.GITHUB_WEBHOOK_SECRET = "It's a Secret to Everybody"
        expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

        assert signature_for(body=b"Hello, World!", secret="It's a Secret to Everybody") == expected
        assert signature_is_valid(body=b"Hello, World!", header=expected)
        assert not signature_is_valid(body=b"Hello, World?", header=expected)

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"HTTP_X_HUB_SIGNATURE_256": "garbage"},
            {"HTTP_X_HUB_SIGNATURE_256": "sha256="},
            {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64},
            {"HTTP_X_HUB_SIGNATURE_256": "sha256=\u00e9\u00e9"},
            {"HTTP_X_HUB_SIGNATURE": "sha1=0123456789abcdef0123456789abcdef01234567"},
        ],
    )
    def test_missing_garbage_and_sha1_only_signatures_are_a_401(self, client, db, headers):
        body = fixture_body(PULL_REQUEST)
        response = client.post(
            WEBHOOK_URL,
            data=body,
            content_type="application/json",
            HTTP_X_GITHUB_EVENT="pull_request",
            HTTP_X_GITHUB_DELIVERY="d-1",
            **headers,
        )

        assert response.status_code == 401
        assert set(response.json()) == {"error", "detail"}
        assert_nothing_stored()

    def test_wrong_secret_is_a_401(self, client, db):
        assert post_fixture(client, PULL_REQUEST, secret="not-the-secret").status_code == 401
        assert_nothing_stored()

    def test_previous_secret_is_accepted_during_rotation(self, deliver, settings):
        settings.GITHUB_WEBHOOK_SECRET = "new-secret"
        settings.GITHUB_WEBHOOK_SECRET_PREVIOUS = "old-secret"

        assert deliver(secret="old-secret").status_code == 202
        assert deliver(secret="new-secret").status_code == 202

    def test_no_secret_configured_fails_closed(self, client, db, settings):
        settings.GITHUB_WEBHOOK_SECRET = ""

        assert post_fixture(client, PULL_REQUEST, secret="").status_code == 401
        assert_nothing_stored()

    def test_a_body_changed_after_signing_is_refused(self, client, db):
        body = fixture_body(PULL_REQUEST)
        signature = signature_for(body=body, secret="test-webhook-secret")
        response = client.post(
            WEBHOOK_URL,
            data=body.replace(b"opened", b"closed"),
            content_type="application/json",
            HTTP_X_GITHUB_EVENT="pull_request",
            HTTP_X_GITHUB_DELIVERY="d-1",
            HTTP_X_HUB_SIGNATURE_256=signature,
        )

        assert response.status_code == 401

    def test_both_urls_accept_deliveries(self, deliver):
        assert deliver(url="/api/v1/public/webhooks/github").status_code == 202
        assert deliver(url="/webhooks/github").status_code == 202


class TestBadInput:
    @pytest.mark.parametrize("missing", ["HTTP_X_GITHUB_EVENT", "HTTP_X_GITHUB_DELIVERY"])
    def test_missing_github_headers_are_a_400(self, client, db, missing):
        body = fixture_body(PULL_REQUEST)
        headers = {
            "HTTP_X_GITHUB_EVENT": "pull_request",
            "HTTP_X_GITHUB_DELIVERY": "d-1",
            "HTTP_X_HUB_SIGNATURE_256": signature_for(body=body, secret="test-webhook-secret"),
        }
        del headers[missing]

        response = client.post(WEBHOOK_URL, data=body, content_type="application/json", **headers)

        assert response.status_code == 400
        assert_nothing_stored()

    def test_overlong_github_headers_are_a_400(self, client, db):
        assert post_fixture(client, PULL_REQUEST, delivery_id="d" * 65).status_code == 400
        assert post_webhook(client, b"{}", event="e" * 65).status_code == 400
        assert_nothing_stored()

    @pytest.mark.parametrize(
        "body, message",
        [
            (b"{not json", "not valid JSON"),
            (b"   ", "not valid JSON"),
            (b'{"a": 1} trailing', "not valid JSON"),
            (b'{"a": "\xff"}', "not valid JSON"),
            (b"[1, 2, 3]", "JSON object"),
            (b'"a string"', "JSON object"),
            (b"null", "JSON object"),
        ],
    )
    def test_invalid_json_and_non_objects_are_a_400(self, client, db, body, message):
        response = post_webhook(client, body, event="push")

        assert response.status_code == 400
        assert message in response.json()["error"]
        assert_nothing_stored()

    def test_a_form_encoded_body_is_a_415(self, client, db):
        body = b"payload=%7B%22zen%22%3A%22hi%22%7D"

        response = post_webhook(client, body, event="ping", content_type="application/x-www-form-urlencoded")

        assert response.status_code == 415
        assert_nothing_stored()

    def test_25_mib_plus_one_byte_is_a_413(self, client, db):
        body = b'{"padding": "' + b"x" * (MAX_BODY - 14) + b'"}'
        assert len(body) == MAX_BODY + 1

        response = post_webhook(client, body, event="push")

        assert response.status_code == 413
        assert_nothing_stored()

    def test_exactly_25_mib_is_accepted(self, deliver, client):
        body = b'{"padding": "' + b"x" * (MAX_BODY - 15) + b'"}'
        assert len(body) == MAX_BODY

        assert post_webhook(client, body, event="push").status_code == 202
        assert len(WebhookDelivery.objects.get().payload) == MAX_BODY

    @pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head", "options"])
    def test_other_methods_are_a_405(self, client, db, method):
        response = getattr(client, method)(WEBHOOK_URL)

        assert response.status_code == 405
        assert response["Allow"] == "POST"

    @pytest.mark.parametrize("length", ["-1", "abc", "1e3"])
    def test_malformed_content_length_is_a_400(self, client, db, length):
        assert client.generic("POST", WEBHOOK_URL, b"{}", CONTENT_LENGTH=length).status_code == 400

    def test_odd_values_inside_a_signed_payload_are_kept_out_of_typed_columns(self, deliver, client):
        body = json.dumps(
            {
                "action": "a" * 500,
                "installation": {"id": "12"},
                "repository": {"id": 2**70, "full_name": 7},
                "sender": {"login": None, "type": ["x"]},
            }
        ).encode()

        assert post_webhook(client, body, event="issues").status_code == 202
        delivery = WebhookDelivery.objects.get()
        assert (len(delivery.action), delivery.installation_id, delivery.repository_id) == (100, None, None)
        assert (delivery.repository_full_name, delivery.sender_login) == ("", "")


class TestAnswers:
    def test_queued_answer_names_the_delivery(self, deliver):
        response = deliver(delivery_id="abc-123")

        assert response.status_code == 202
        assert response.json() == {
            "status": "queued",
            "delivery_id": "abc-123",
            "event": "pull_request",
            "action": "opened",
            "installation_id": None,
            "repository": "Codertocat/Hello-World",
        }

    def test_ping_is_a_pong_and_is_recorded(self, deliver):
        response = deliver("ping", delivery_id="ping-1")

        assert (response.status_code, response.json()["status"]) == (200, "pong")
        assert WebhookDelivery.objects.get(delivery_id="ping-1").status == "ignored"

    def test_same_delivery_three_times_is_one_row_and_one_processing(self, deliver):
        answers = [deliver(delivery_id="same") for _ in range(3)]

        assert [answer.status_code for answer in answers] == [202, 200, 200]
        assert [answer.json()["status"] for answer in answers] == ["queued", "duplicate", "duplicate"]
        delivery = WebhookDelivery.objects.get(delivery_id="same")
        assert (delivery.status, delivery.attempts) == ("processed", 1)

    def test_unknown_event_is_accepted_and_ignored(self, client, db, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, b'{"action": "sparkled"}', event="brand_new_event", delivery_id="u-1")

        assert response.status_code == 202
        delivery = WebhookDelivery.objects.get(delivery_id="u-1")
        assert (delivery.status, delivery.attempts) == ("ignored", 1)


class TestBrokerDown:
    def test_delivery_is_kept_when_the_broker_is_unreachable(self, deliver, broker_unreachable):
        response = deliver(delivery_id="kept")

        assert response.status_code == 202
        delivery = WebhookDelivery.objects.get(delivery_id="kept")
        assert (delivery.status, delivery.attempts) == ("received", 0)


class TestSourceControls:
    def test_allowlist_refuses_other_sources(self, deliver, settings):
        settings.GITHUB_WEBHOOK_ALLOWED_CIDRS = ["192.30.252.0/22", "2001:db8::/32"]

        refused = deliver(REMOTE_ADDR="203.0.113.9")
        accepted = deliver(REMOTE_ADDR="192.30.252.17")

        assert refused.status_code == 403
        assert accepted.status_code == 202
        assert WebhookDelivery.objects.count() == 1

    def test_allowlist_reads_the_forwarded_address_only_from_trusted_proxies(self, deliver, settings):
        settings.GITHUB_WEBHOOK_ALLOWED_CIDRS = ["192.30.252.0/22"]
        forged = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "192.30.252.17"}

        assert deliver(**forged).status_code == 403
        settings.TRUSTED_PROXY_COUNT = 1
        assert deliver(**forged).status_code == 202
        assert deliver(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.30.252.17, 203.0.113.9").status_code == 403

    def test_failed_verifications_are_throttled_while_other_addresses_still_deliver(self, deliver, client, settings):
        settings.WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE = 5

        failures = [post_fixture(client, PULL_REQUEST, secret="wrong").status_code for _ in range(7)]

        assert failures == [401] * 5 + [429] * 2
        assert deliver(REMOTE_ADDR="192.30.252.17").status_code == 202

    def test_an_address_over_the_limit_is_refused_until_its_minute_has_passed(self, deliver, client, settings):
        settings.WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE = 2
        with freeze_time("2026-01-01 10:00:00") as clock:
            for _ in range(2):
                post_fixture(client, PULL_REQUEST, secret="wrong")

            refused = deliver()
            clock.tick(61)
            accepted = deliver()

        assert refused.status_code == 429 and refused["Retry-After"] == "60"
        assert accepted.status_code == 202

    def test_an_address_spent_in_other_processes_costs_this_one_one_more_body(self, deliver, client, settings):
        """Failures are counted in the shared cache, which is not asked before every body: a
        process learns an address is spent from the count of that address's next failure."""
        settings.WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE = 2
        with freeze_time("2026-01-01 10:00:00"):
            for _ in range(2):
                post_fixture(client, PULL_REQUEST, secret="wrong")
            spent_addresses.clear()  # this process is another one, which saw none of them

            still_read = deliver()
            one_more_failure = post_fixture(client, PULL_REQUEST, secret="wrong")
            refused = deliver()

        assert still_read.status_code == 202
        assert one_more_failure.status_code == 429
        assert refused.status_code == 429

    def test_an_address_over_the_limit_is_answered_before_its_body_is_read(self, client, db, settings):
        settings.WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE = 2
        for _ in range(2):
            post_fixture(client, PULL_REQUEST, secret="wrong")
        body = fixture_body(PULL_REQUEST)
        stream = BodyThatRecordsReads(body)

        response = client.generic(
            "POST",
            WEBHOOK_URL,
            body,
            content_type="application/json",
            HTTP_X_GITHUB_EVENT="pull_request",
            HTTP_X_GITHUB_DELIVERY="d-1",
            HTTP_X_HUB_SIGNATURE_256="sha256=" + "0" * 64,
            **{"wsgi.input": stream},
        )

        assert response.status_code == 429
        assert stream.bytes_read == 0

    def test_an_allowlisted_sender_past_the_limit_still_delivers(self, deliver, client, settings):
        """GitHub's senders are shared: a stranger's webhook pointed at us with the wrong secret
        fails from the same addresses as ours, and must not get ours refused unread."""
        settings.GITHUB_WEBHOOK_ALLOWED_CIDRS = ["192.30.252.0/22"]
        settings.WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE = 2
        github = {"REMOTE_ADDR": "192.30.252.17"}
        failures = [post_fixture(client, PULL_REQUEST, secret="wrong", **github).status_code for _ in range(3)]

        assert failures == [401, 401, 429]
        assert deliver(**github).status_code == 202

    def test_a_delivery_is_stored_when_the_failure_count_cannot_be_read(self, deliver, cache_unreachable):
        assert deliver().status_code == 202
        assert WebhookDelivery.objects.count() == 1

    def test_throttle_is_per_address(self, client, db, settings):
        settings.WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE = 1
        post_fixture(client, PULL_REQUEST, secret="wrong", REMOTE_ADDR="198.51.100.1")

        assert post_fixture(client, PULL_REQUEST, secret="wrong", REMOTE_ADDR="198.51.100.1").status_code == 429
        assert post_fixture(client, PULL_REQUEST, secret="wrong", REMOTE_ADDR="198.51.100.2").status_code == 401


@pytest.fixture(params=["file", "redis"])
def shared_cache(request, settings, tmp_path):
    """The failure counters in a cache every web process shares, as deployed: files, or Redis."""
    if request.param == "file":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
            }
        }
        return
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }


class TestFailureWindow:
    """WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE counts per clock minute, on every cache backend."""

    def test_a_trickle_of_one_failure_every_40_seconds_is_never_refused(self, client, db, settings, shared_cache):
        settings.WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE = 2
        answers = []
        with freeze_time("2026-01-01 10:00:00") as clock:
            for _ in range(12):
                answers.append(post_fixture(client, PULL_REQUEST, secret="wrong").status_code)
                clock.tick(40)

        assert answers == [401] * 12

    def test_a_burst_is_refused_until_the_minute_ends_and_the_next_minute_is_fresh(
        self, deliver, client, settings, shared_cache
    ):
        settings.WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE = 2
        with freeze_time("2026-01-01 10:00:10") as clock:
            burst = [post_fixture(client, PULL_REQUEST, secret="wrong") for _ in range(3)]
            refused = deliver()
            clock.tick(50)
            fresh = post_fixture(client, PULL_REQUEST, secret="wrong")
            accepted = deliver()

        assert [answer.status_code for answer in burst] == [401, 401, 429]
        assert (refused.status_code, refused["Retry-After"]) == (429, "50")
        assert (fresh.status_code, accepted.status_code) == (401, 202)

    def test_a_failure_is_a_401_when_the_cache_cannot_count_it(self, client, db, cache_unreachable):
        assert post_fixture(client, PULL_REQUEST, secret="wrong").status_code == 401


class TestSystemChecks:
    def ids(self) -> set[str]:
        return {message.id for message in checks.run_checks() if message.id}

    @pytest.mark.django_db  # with no secret in the environment, a registered App's is looked for
    def test_missing_secret_is_an_error_in_production_and_a_warning_in_debug(self, settings):
        settings.GITHUB_WEBHOOK_SECRET = ""
        assert "github_app.E003" in self.ids()
        settings.DEBUG = True
        assert "github_app.W003" in self.ids() and "github_app.E003" not in self.ids()

    def test_malformed_allowlist_is_an_error(self, settings):
        settings.GITHUB_WEBHOOK_ALLOWED_CIDRS = ["192.30.252.0/22", "github"]
        assert "github_app.E004" in self.ids()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_unreachable_database_is_a_503_not_a_crash(client):
    unreachable = {"PORT": "1"} if connection.vendor == "postgresql" else {"NAME": "/nonexistent/dir/db.sqlite3"}
    saved = {key: connection.settings_dict[key] for key in unreachable}
    connection.close()
    connection.settings_dict.update(unreachable)
    try:
        response = post_fixture(client, PULL_REQUEST)
    finally:
        connection.close()
        connection.settings_dict.update(saved)

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert set(response.json()) == {"error", "detail"}


@dataclass
class WsgiAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def call_wsgi(application, method: str, path: str, body: bytes = b"", on_start=lambda: None, **environ) -> WsgiAnswer:
    """One request as gunicorn hands it to the application: a WSGI environ, start_response, and
    the answer's close() once its body is read. `on_start` runs when the answer's status is sent."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **environ,
    }
    setup_testing_defaults(environ)
    started: dict = {}

    def start_response(status: str, headers: list, exc_info=None) -> None:
        on_start()
        started.update(status=int(status.split()[0]), headers=dict(headers))

    result = application(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        result.close()
    return WsgiAnswer(started["status"], started["headers"], content)


def signed_environ(body: bytes, *, delivery_id: str | None = None, secret: str | None = None) -> dict:
    signature = signature_for(body=body, secret=secret if secret is not None else django_settings.GITHUB_WEBHOOK_SECRET)
    return {
        "CONTENT_TYPE": "application/json",
        "HTTP_X_GITHUB_EVENT": "pull_request",
        "HTTP_X_GITHUB_HOOK_ID": "30",
        "HTTP_X_GITHUB_DELIVERY": delivery_id or str(uuid.uuid4()),
        "HTTP_X_HUB_SIGNATURE_256": signature,
    }


@pytest.fixture
def gunicorns_application():
    """The application gunicorn serves (aiworkflow.wsgi:application), and the site's own handler
    behind it, which runs the full MIDDLEWARE."""
    from aiworkflow import wsgi

    return wsgi.application, wsgi.site


@pytest.fixture
def handed_over(monkeypatch) -> list[int]:
    """The ids given to the publisher; nothing is processed."""
    submitted: list[int] = []
    monkeypatch.setattr(publisher, "submit", submitted.append)
    return submitted


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestGunicornsApplication:
    """The webhook paths take a handler of their own, with less middleware; answers must not change."""

    def test_a_delivery_is_stored_by_one_insert_before_its_202_then_handed_over(
        self, gunicorns_application, handed_over
    ):
        application, _ = gunicorns_application
        body = fixture_body(PULL_REQUEST)
        when_answered = {}

        def on_start() -> None:
            when_answered["statements"] = [query["sql"].split()[0] for query in queries.captured_queries]
            when_answered["stored"] = WebhookDelivery.objects.filter(delivery_id="fast-1").exists()
            when_answered["handed_over"] = list(handed_over)

        with CaptureQueriesContext(connection) as queries:
            answer = call_wsgi(
                application,
                "POST",
                "/webhooks/github",
                body,
                **signed_environ(body, delivery_id="fast-1"),
                on_start=on_start,
            )

        assert (answer.status, answer.json()["status"]) == (202, "queued")
        stored = WebhookDelivery.objects.get(delivery_id="fast-1")
        assert when_answered == {"statements": ["INSERT"], "stored": True, "handed_over": [stored.pk]}

    def test_the_same_delivery_again_is_a_duplicate(self, gunicorns_application, handed_over):
        application, _ = gunicorns_application
        body = fixture_body(PULL_REQUEST)

        answers = [
            call_wsgi(application, "POST", "/webhooks/github", body, **signed_environ(body, delivery_id="same"))
            for _ in range(2)
        ]

        assert [(answer.status, answer.json()["status"]) for answer in answers] == [(202, "queued"), (200, "duplicate")]
        assert WebhookDelivery.objects.filter(delivery_id="same").count() == 1
        assert len(handed_over) == 1

    def test_the_api_alias_is_served_too(self, gunicorns_application, handed_over):
        application, _ = gunicorns_application
        body = fixture_body(PULL_REQUEST)

        answer = call_wsgi(application, "POST", "/api/v1/public/webhooks/github", body, **signed_environ(body))

        assert answer.status == 202
        assert WebhookDelivery.objects.count() == 1

    def test_a_bad_signature_is_a_401_in_the_error_shape(self, gunicorns_application, handed_over):
        application, _ = gunicorns_application
        body = fixture_body(PULL_REQUEST)

        answer = call_wsgi(application, "POST", "/webhooks/github", body, **signed_environ(body, secret="wrong"))

        assert answer.status == 401
        assert set(answer.json()) == {"error", "detail"}
        assert not WebhookDelivery.objects.exists() and not handed_over

    @pytest.mark.parametrize("body", [b"{not json", b"[1, 2, 3]"])
    def test_a_body_that_is_not_a_json_object_is_a_400(self, gunicorns_application, handed_over, body):
        application, _ = gunicorns_application

        answer = call_wsgi(application, "POST", "/webhooks/github", body, **signed_environ(body))

        assert answer.status == 400
        assert set(answer.json()) == {"error", "detail"}
        assert not WebhookDelivery.objects.exists()

    def test_a_body_over_25_mib_is_a_413_unread(self, gunicorns_application):
        application, _ = gunicorns_application

        answer = call_wsgi(
            application, "POST", "/webhooks/github", b"{}", **signed_environ(b"{}"), CONTENT_LENGTH=str(MAX_BODY + 1)
        )

        assert answer.status == 413
        assert set(answer.json()) == {"error", "detail"}

    def test_a_get_is_a_405(self, gunicorns_application):
        application, _ = gunicorns_application

        answer = call_wsgi(application, "GET", "/webhooks/github")

        assert (answer.status, answer.headers["Allow"]) == (405, "POST")
        assert set(answer.json()) == {"error", "detail"}

    @pytest.mark.parametrize("method, secret", [("GET", None), ("POST", "wrong")])
    def test_answers_are_the_same_as_through_the_full_middleware(self, gunicorns_application, method, secret):
        application, site = gunicorns_application
        body = fixture_body(PULL_REQUEST)
        # The same request id, kept from the request, so that the answers' X-Request-ID match too.
        request = {**signed_environ(body, delivery_id="d-1", secret=secret), "HTTP_X_REQUEST_ID": "r-1"}

        fast, full = (
            call_wsgi(handler, method, "/webhooks/github", body, **request) for handler in (application, site)
        )

        assert (fast.status, fast.headers, fast.body) == (full.status, full.headers, full.body)
        assert {
            name: fast.headers[name]
            for name in ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy")
        } == {
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cross-Origin-Opener-Policy": "same-origin",
        }

    def test_a_queued_answer_carries_the_same_headers_as_through_the_full_middleware(
        self, gunicorns_application, handed_over
    ):
        application, site = gunicorns_application
        body = fixture_body(PULL_REQUEST)

        fast, full = (
            call_wsgi(
                handler,
                "POST",
                "/webhooks/github",
                body,
                **signed_environ(body, delivery_id=delivery_id),
                HTTP_X_REQUEST_ID="r-1",  # kept from the request, so that the answers' X-Request-ID match too
            )
            for handler, delivery_id in ((application, "d-1"), (site, "d-2"))
        )

        assert fast.status == full.status == 202
        assert fast.headers == full.headers
        assert "Set-Cookie" not in fast.headers and "Vary" not in fast.headers

    def test_a_host_not_allowed_is_a_400_in_the_error_shape(self, gunicorns_application):
        application, _ = gunicorns_application
        body = fixture_body(PULL_REQUEST)

        answer = call_wsgi(
            application, "POST", "/webhooks/github", body, **signed_environ(body), HTTP_HOST="attacker.example"
        )

        assert answer.status == 400
        assert set(answer.json()) == {"error", "detail"}
        assert not WebhookDelivery.objects.exists()

    def test_only_the_webhook_paths_skip_the_sessions(self, gunicorns_application, handed_over):
        application, _ = gunicorns_application
        body = fixture_body(PULL_REQUEST)

        with mock.patch.object(
            SessionMiddleware, "process_request", autospec=True, side_effect=SessionMiddleware.process_request
        ) as sessions:
            for path in ("/webhooks/github", "/api/v1/public/webhooks/github"):
                assert call_wsgi(application, "POST", path, body, **signed_environ(body)).status == 202
            assert sessions.call_count == 0
            assert call_wsgi(application, "GET", "/admin/login/").status == 200
            assert sessions.call_count == 1

    def test_the_admin_still_sets_and_enforces_its_csrf_token(self, gunicorns_application):
        application, _ = gunicorns_application

        page = call_wsgi(application, "GET", "/admin/login/")
        refused = call_wsgi(
            application,
            "POST",
            "/admin/login/",
            b"username=ops&password=pw",
            CONTENT_TYPE="application/x-www-form-urlencoded",
        )

        assert page.status == 200 and "csrftoken=" in page.headers["Set-Cookie"]
        assert refused.status == 403


def test_webhook_middleware_is_part_of_the_sites_in_the_same_order(settings):
    site_order = [path for path in settings.MIDDLEWARE if path in settings.WEBHOOK_MIDDLEWARE]

    assert site_order == settings.WEBHOOK_MIDDLEWARE
