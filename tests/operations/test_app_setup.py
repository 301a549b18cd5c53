"""Registering the GitHub App through GitHub's manifest flow at /setup/github-app/: the manifest,
the staff-only pages, the code exchange (GitHub stubbed with `responses`), where the credentials
go, and the service using them where the environment leaves a setting empty."""

import html
import json
import os
import re
import stat
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import environ
import pytest
import requests
import responses
from django.contrib.auth import get_user_model
from django.core import checks
from django.db import connection
from django.test import Client
from freezegun import freeze_time

from aiworkflow.redaction import REDACTED, secret_shapes_redact
from aiworkflow.settings_test import _throwaway_app_key
from github_app.credentials import app_credentials
from github_app.models import AppRegistration
from github_app.webhooks.events import WORKFLOW_EVENTS
from github_app.webhooks.signatures import signature_for
from operations.app_setup.manifest import EVENT_PERMISSIONS, app_manifest_build
from workflows.nodes import NODE_TYPES

API = "https://api.github.com"
CONVERSION = f"{API}/app-manifests/c0de-from-github/conversions"
BOT_USER = re.compile(r"https://api\.github\.com(:443)?/users/ai-review-dev%5Bbot%5D\Z")
ACCESS_ORDER = {"read": 1, "write": 2}
REGISTERED_PEM = _throwaway_app_key()


def registered_app(private_key: str) -> dict:
    """GitHub's answer to the conversion, as its REST reference shows it."""
    return {
        "id": 4242,
        "slug": "ai-review-dev",
        "node_id": "A_kwDOxyz",
        "owner": {"login": "octo-org", "id": 9, "type": "Organization"},
        "name": "AI review (dev)",
        "html_url": "https://github.com/apps/ai-review-dev",
        "client_id": "Iv23.registeredclient",
        "client_secret": "registered-client-secret-0123456789abcdef",
        "webhook_secret": "registered-webhook-secret-0123456789abcdef",
        "pem": private_key,
        "permissions": {"metadata": "read"},
        "events": ["push"],
    }


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(username="operator", password="operator-pass-1", is_staff=True)


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def unconfigured(settings):
    """A deployment started with no GitHub App settings at all."""
    for name in ("GITHUB_APP_ID", "GITHUB_APP_SLUG", "GITHUB_APP_PRIVATE_KEY", "GITHUB_CLIENT_ID"):
        setattr(settings, name, "")
    settings.GITHUB_CLIENT_SECRET = ""
    settings.GITHUB_WEBHOOK_SECRET = ""
    settings.GITHUB_APP_BOT_USER_ID = 0
    return settings


@pytest.fixture
def github_registration(github_http):
    """GitHub creating the App: the conversion of the code, and the App's bot account."""
    github_http.add(responses.POST, CONVERSION, json=registered_app(REGISTERED_PEM), status=201)
    github_http.add(responses.GET, BOT_USER, json={"login": "ai-review-dev[bot]", "id": 777, "type": "Bot"})
    return github_http


GITHUB_FORM = re.compile(r'<form method="post" action="([^"]*)">(.*?)</form>', re.S)
INPUT_NAME = re.compile(r'<input[^>]* name="([^"]*)"')


def start(client: Client, **fields) -> str:
    data = {"base_url": "https://review.example.com", "name": "AI review (dev)", "organization": "", **fields}
    response = client.post("/setup/github-app/", data)
    assert response.status_code == 200, response.content
    return response.content.decode()


def github_form(page: str) -> tuple[str, dict]:
    """The form that posts to GitHub: its action and the manifest it carries."""
    ((action, inputs),) = [match for match in GITHUB_FORM.findall(page) if 'name="manifest"' in match[1]]
    manifest = re.search(r'name="manifest" value="([^"]*)"', inputs)
    assert manifest is not None
    return html.unescape(action), json.loads(html.unescape(manifest.group(1)))


def state_of(action: str) -> str:
    return parse_qs(urlsplit(action).query)["state"][0]


def done(client: Client, state: str, code: str = "c0de-from-github"):
    return client.get("/setup/github-app/done/", {"code": code, "state": state})


class TestManifest:
    def test_it_points_github_at_this_deployment(self):
        manifest = app_manifest_build(base_url="https://review.example.com", name="AI review")

        assert manifest["url"] == "https://review.example.com"
        assert manifest["hook_attributes"] == {
            "url": "https://review.example.com/api/v1/public/webhooks/github",
            "active": True,
        }
        assert manifest["redirect_url"] == "https://review.example.com/setup/github-app/done/"
        assert manifest["callback_urls"] == ["https://review.example.com/api/v1/public/webhooks/github/auth"]
        assert manifest["setup_url"] == "https://review.example.com/api/v1/public/webhooks/github/auth"
        assert manifest["request_oauth_on_install"] is True and manifest["public"] is False

    def test_it_grants_every_node_what_it_needs(self):
        granted = app_manifest_build(base_url="https://x.example", name="x")["default_permissions"]

        for node in NODE_TYPES.values():
            for permission, access in node.permissions.items():
                assert ACCESS_ORDER[granted[permission]] >= ACCESS_ORDER[access], (node.name, permission)

    def test_every_github_node_declares_its_permissions(self):
        undeclared = [name for name, node in NODE_TYPES.items() if name.startswith("github.") and not node.permissions]
        assert undeclared == []

    def test_it_subscribes_every_trigger_event_with_the_permission_github_requires(self):
        manifest = app_manifest_build(base_url="https://x.example", name="x")

        assert set(manifest["default_events"]) == WORKFLOW_EVENTS
        for event in manifest["default_events"]:
            assert EVENT_PERMISSIONS[event] in manifest["default_permissions"], event

    def test_writes_are_asked_only_where_a_node_writes(self):
        granted = app_manifest_build(base_url="https://x.example", name="x")["default_permissions"]
        writing = {
            permission
            for node in NODE_TYPES.values()
            for permission, access in node.permissions.items()
            if access == "write"
        }

        assert {permission for permission, access in granted.items() if access == "write"} == writing


class TestPages:
    def test_anonymous_and_non_staff_users_are_sent_to_the_admin_login(self, client, user):
        assert client.get("/setup/github-app/").url.startswith("/admin/login/")
        client.force_login(user)
        for response in (client.get("/setup/github-app/"), client.post("/setup/github-app/", {}), done(client, "x")):
            assert response.status_code == 302 and response.url.startswith("/admin/login/")

    def test_the_form_offers_this_address_as_the_public_url(self, staff_client, settings):
        settings.ALLOWED_HOSTS = ["abc.trycloudflare.com"]
        page = staff_client.get("/setup/github-app/", HTTP_HOST="abc.trycloudflare.com").content.decode()
        assert 'name="base_url" value="http://abc.trycloudflare.com"' in page

    def test_the_review_posts_the_manifest_to_github_for_a_personal_account(self, staff_client):
        action, manifest = github_form(start(staff_client))

        assert action.startswith("https://github.com/settings/apps/new?state=")
        assert manifest["name"] == "AI review (dev)"
        assert manifest["hook_attributes"]["url"] == "https://review.example.com/api/v1/public/webhooks/github"

    def test_the_review_posts_to_the_organisation_named(self, staff_client):
        action, _ = github_form(start(staff_client, organization="octo-org"))
        assert action.startswith("https://github.com/organizations/octo-org/settings/apps/new?state=")

    def test_the_form_to_github_carries_no_csrf_token_of_ours(self, staff_client):
        ((_, inputs),) = [match for match in GITHUB_FORM.findall(start(staff_client)) if "manifest" in match[1]]
        assert INPUT_NAME.findall(inputs) == ["manifest"]

    def test_a_private_address_is_flagged_as_unreachable_from_github(self, staff_client):
        page = start(staff_client, base_url="http://127.0.0.1:8000")
        assert "GitHub cannot reach" in page
        assert "GitHub cannot reach" not in start(staff_client)

    @pytest.mark.parametrize(
        "fields",
        [
            {"base_url": "javascript:alert(1)"},
            {"base_url": "ftp://review.example.com"},
            {"base_url": "https://user:pass@review.example.com"},
            {"base_url": "https://review.example.com/prefix"},
            {"base_url": "https://review.example.com/?next=evil"},
            {"base_url": "https://review.example.com/#frag"},
            {"base_url": "https://" + "a" * 200 + ".com"},
            {"organization": "../../settings"},
            {"organization": "octo org"},
            {"organization": "-octo"},
            {"organization": "a" * 40},
            {"name": ""},
            {"name": "n" * 35},
        ],
    )
    def test_bad_input_is_refused_with_the_form_again(self, staff_client, fields):
        data = {"base_url": "https://review.example.com", "name": "AI review", "organization": "", **fields}
        response = staff_client.post("/setup/github-app/", data)

        assert response.status_code == 400
        assert b'name="manifest"' not in response.content


class TestCompletion:
    def test_the_app_is_stored_encrypted_and_used_where_the_environment_is_empty(
        self, staff_client, unconfigured, github_registration
    ):
        action, _ = github_form(start(staff_client))

        response = done(staff_client, state_of(action))

        assert response.status_code == 200
        assert "no restart is needed" in response.content.decode()
        registration = AppRegistration.objects.get()
        assert (registration.app_id, registration.slug, registration.bot_user_id) == (4242, "ai-review-dev", 777)
        assert (registration.owner_login, registration.owner_type) == ("octo-org", "Organization")
        with connection.cursor() as cursor:
            cursor.execute("SELECT client_secret, webhook_secret, private_key FROM github_app_appregistration")
            stored = " ".join(cursor.fetchone())
        assert "registered-client-secret" not in stored and "registered-webhook" not in stored
        assert "PRIVATE KEY" not in stored
        credentials = app_credentials()
        assert (credentials.app_id, credentials.slug, credentials.client_id) == (
            "4242",
            "ai-review-dev",
            "Iv23.registeredclient",
        )
        assert credentials.webhook_secret == "registered-webhook-secret-0123456789abcdef"
        assert credentials.bot_user_id == 777
        install = re.search(r'<a href="([^"]*)">Install the App</a>', response.content.decode()).group(1)
        assert install.startswith("https://github.com/apps/ai-review-dev/installations/new?state=")

    def test_deliveries_signed_with_the_registered_secret_are_accepted(
        self, staff_client, unconfigured, github_registration
    ):
        done(staff_client, state_of(github_form(start(staff_client))[0]))
        body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()

        def post(secret: str):
            return Client().post(
                "/api/v1/public/webhooks/github",
                body,
                content_type="application/json",
                HTTP_X_GITHUB_EVENT="ping",
                HTTP_X_GITHUB_DELIVERY="d2b5a8f0-0000-4000-8000-000000000001",
                HTTP_X_HUB_SIGNATURE_256=signature_for(body=body, secret=secret),
            )

        assert post("not-the-registered-secret").status_code == 401
        assert post("registered-webhook-secret-0123456789abcdef").status_code in (200, 202)

    def test_the_environment_wins_and_the_page_says_which_settings_shadow_the_new_app(
        self, staff_client, settings, github_registration
    ):
        response = done(staff_client, state_of(github_form(start(staff_client))[0]))

        text = response.content.decode()
        for name in ("GITHUB_APP_ID", "GITHUB_APP_SLUG", "GITHUB_CLIENT_SECRET", "GITHUB_WEBHOOK_SECRET"):
            assert name in text
        assert app_credentials().app_id == settings.GITHUB_APP_ID

    def test_in_development_the_credentials_are_written_to_the_dotenv_file(
        self, staff_client, settings, unconfigured, github_registration, tmp_path, monkeypatch
    ):
        dotenv = tmp_path / ".env"
        dotenv.write_text("DJANGO_DEBUG=true\nGITHUB_WEBHOOK_SECRET=generated-by-bin-run\n# a comment kept\n")
        settings.GITHUB_APP_REGISTRATION_DOTENV = str(dotenv)
        settings.GITHUB_WEBHOOK_SECRET = "generated-by-bin-run"

        response = done(staff_client, state_of(github_form(start(staff_client))[0]))

        assert stat.S_IMODE(os.stat(dotenv).st_mode) == 0o600
        text = dotenv.read_text()
        assert text.startswith("DJANGO_DEBUG=true\nGITHUB_WEBHOOK_SECRET=registered-webhook-secret")
        assert "# a comment kept" in text and text.count("GITHUB_WEBHOOK_SECRET=") == 1
        read_back: dict = {}
        monkeypatch.setattr(environ.Env, "ENVIRON", read_back)
        environ.Env.read_env(str(dotenv))
        assert read_back["GITHUB_APP_PRIVATE_KEY"].replace("\\n", "\n") == REGISTERED_PEM.strip()
        assert read_back["GITHUB_APP_ID"] == "4242" and read_back["GITHUB_APP_BOT_USER_ID"] == "777"
        page = response.content.decode()
        assert "GITHUB_WEBHOOK_SECRET" in page and "restart the service" in page


class TestCompletionRefusals:
    def test_a_state_started_by_another_staff_member_registers_nothing(self, staff_client, github_http, db):
        action, _ = github_form(start(staff_client))
        other = Client()
        other.force_login(
            get_user_model().objects.create_user(username="second-operator", password="pw-second-1", is_staff=True)
        )

        response = done(other, state_of(action))

        assert response.status_code == 400
        assert AppRegistration.objects.count() == 0 and len(github_http.calls) == 0

    def test_the_same_user_in_another_browser_registers_nothing(self, staff_client, staff, github_http):
        action, _ = github_form(start(staff_client))
        elsewhere = Client()
        elsewhere.force_login(staff)

        assert done(elsewhere, state_of(action)).status_code == 400
        assert AppRegistration.objects.count() == 0 and len(github_http.calls) == 0

    def test_a_state_older_than_an_hour_registers_nothing(self, staff_client, github_http):
        action, _ = github_form(start(staff_client))

        with freeze_time(timedelta(minutes=61)):
            response = done(staff_client, state_of(action))

        assert response.status_code == 400 and len(github_http.calls) == 0

    def test_a_forged_state_registers_nothing(self, staff_client, github_http):
        github_form(start(staff_client))
        assert done(staff_client, "eyJ1IjoxLCJuIjoiYWJjIn0:forged:signature").status_code == 400
        assert len(github_http.calls) == 0

    @pytest.mark.parametrize("code", ["../../user", "a b", "", "c" * 257, "code?x=1"])
    def test_a_malformed_code_never_reaches_github(self, staff_client, github_http, code):
        action, _ = github_form(start(staff_client))
        assert done(staff_client, state_of(action), code=code).status_code == 400
        assert len(github_http.calls) == 0

    def test_a_completed_registration_cannot_be_replayed(self, staff_client, unconfigured, github_registration):
        state = state_of(github_form(start(staff_client))[0])
        assert done(staff_client, state).status_code == 200

        assert done(staff_client, state).status_code == 400
        assert AppRegistration.objects.count() == 1

    @pytest.mark.parametrize(
        ("answer", "status"),
        [
            ({"status": 404, "json": {"message": "Not Found"}}, 400),
            ({"status": 422, "json": {"message": "code expired"}}, 400),
            ({"status": 500, "json": {}}, 502),
            ({"status": 201, "body": "not json"}, 502),
            ({"status": 201, "json": {"id": 1, "slug": "x"}}, 502),
            ({"body": requests.ConnectionError("reset")}, 503),
        ],
    )
    def test_github_failures_store_nothing_and_say_so(self, staff_client, github_http, answer, status):
        github_http.add(responses.POST, CONVERSION, **answer)
        action, _ = github_form(start(staff_client))

        response = done(staff_client, state_of(action))

        assert response.status_code == status
        assert "Nothing was stored" in response.content.decode()
        assert AppRegistration.objects.count() == 0


class TestConfiguration:
    def ids(self) -> set[str]:
        return {message.id for message in checks.run_checks() if message.id and message.id.startswith("github_app.")}

    def test_a_deployment_without_any_app_starts_and_is_told_where_to_register(self, unconfigured, db):
        unconfigured.DEBUG = False

        assert self.ids() == {"github_app.W002", "github_app.W003"}
        (warning,) = [message for message in checks.run_checks() if message.id == "github_app.W002"]
        assert "/setup/github-app/" in warning.hint

    def test_a_registered_app_satisfies_the_checks(self, staff_client, unconfigured, github_registration):
        unconfigured.DEBUG = False
        done(staff_client, state_of(github_form(start(staff_client))[0]))

        assert self.ids() == set()

    def test_registered_secrets_are_redacted_from_logs(self, staff_client, unconfigured, github_registration):
        done(staff_client, state_of(github_form(start(staff_client))[0]))
        app_credentials()

        line = "GitHub echoed registered-webhook-secret-0123456789abcdef back"
        assert secret_shapes_redact(line) == line.replace("registered-webhook-secret-0123456789abcdef", REDACTED)
