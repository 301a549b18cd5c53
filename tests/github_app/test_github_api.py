"""App JWT, the shared installation-token store, and the installation client's retry policy,
against the GitHub double."""

import logging
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from github import BadCredentialsException, GithubException

from github_app.api.app_jwt import app_auth, app_private_key_validate
from github_app.api.installation_client import (
    GitHubRetryLater,
    installation_call,
    installation_rate_limit,
    installation_repositories_fetch,
    mint_installation_token,
)
from github_app.api.tokens import (
    DatabaseTokenStore,
    RedisTokenStore,
    StoredToken,
    installation_token,
    token_key,
    token_store,
)
from github_app.errors import InstallationNotFound
from tests.worker import run_at_once

INSTALLATION = 4242
LONG_TOKEN = "ghs_" + "L" * 516  # GitHub's newer tokens are about 520 characters
MINT = f"/app/installations/{INSTALLATION}/access_tokens"


@pytest.fixture
def installation(github):
    """Installation 4242 of the App, on octo/widgets, handing out LONG_TOKEN."""
    installation = github.installation(
        INSTALLATION, repositories=[github.repository("octo/widgets", id=1, private=True)]
    )
    installation.token = LONG_TOKEN
    return installation


def token() -> str:
    return installation_token(installation_id=INSTALLATION, mint=mint_installation_token)


class TestAppJwt:
    def test_claims_and_signature(self, settings):
        before = int(time.time())
        encoded = app_auth().token
        public_key = serialization.load_pem_private_key(settings.GITHUB_APP_PRIVATE_KEY.encode(), None).public_key()

        claims = jwt.decode(encoded, public_key, algorithms=["RS256"])

        assert claims["iss"] == settings.GITHUB_APP_ID
        assert before - 61 <= claims["iat"] <= before - 59, "backdated a minute against clock skew"
        assert claims["exp"] - int(time.time()) <= 600, "GitHub refuses more than 10 minutes ahead"
        assert claims["exp"] > int(time.time()) + 300
        assert jwt.get_unverified_header(encoded)["alg"] == "RS256"

    def test_a_key_with_literal_newlines_is_accepted(self, settings):
        settings.GITHUB_APP_PRIVATE_KEY = settings.GITHUB_APP_PRIVATE_KEY.replace("\n", "\\n")

        app_private_key_validate()
        assert app_auth().token.count(".") == 2

    def test_a_key_file_is_read(self, settings, tmp_path):
        (tmp_path / "app.pem").write_text(settings.GITHUB_APP_PRIVATE_KEY)
        settings.GITHUB_APP_PRIVATE_KEY = ""
        settings.GITHUB_APP_PRIVATE_KEY_PATH = str(tmp_path / "app.pem")

        app_private_key_validate()
        assert app_auth() is not None

    @pytest.mark.parametrize(
        "key",
        [
            "-----BEGIN RSA PRIVATE KEY-----\nnot base64\n-----END RSA PRIVATE KEY-----",
            "a-secret-that-is-not-a-key",
        ],
    )
    def test_a_malformed_key_is_a_clear_configuration_error(self, settings, key):
        settings.GITHUB_APP_PRIVATE_KEY = key

        with pytest.raises(ImproperlyConfigured, match="not a PEM private key") as raised:
            app_private_key_validate()
        assert key not in str(raised.value)

    def test_a_non_rsa_key_is_refused(self, settings):
        settings.GITHUB_APP_PRIVATE_KEY = (
            ec.generate_private_key(ec.SECP256R1())
            .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            .decode()
        )

        with pytest.raises(ImproperlyConfigured, match="RSA"):
            app_private_key_validate()

    def test_an_unreadable_key_file_is_a_configuration_error(self, settings, tmp_path):
        settings.GITHUB_APP_PRIVATE_KEY = ""
        settings.GITHUB_APP_PRIVATE_KEY_PATH = str(tmp_path / "missing.pem")

        with pytest.raises(ImproperlyConfigured, match="cannot be read"):
            app_private_key_validate()


class TestTokenStore:
    def test_fifty_sequential_calls_mint_once(self, db, installation):
        tokens = {token() for _ in range(50)}

        assert tokens == {LONG_TOKEN}
        assert len(installation.tokens) == 1

    def test_a_token_with_under_five_minutes_left_is_replaced(self, db, installation):
        installation.token, installation.token_lifetime = "ghs_short_lived", 299
        assert token() == "ghs_short_lived"
        installation.token, installation.token_lifetime = "ghs_renewed", 3600

        assert token() == "ghs_renewed"
        assert [minted.value for minted in installation.tokens] == ["ghs_short_lived", "ghs_renewed"]

    def test_a_rejected_token_is_replaced_once(self, db, installation):
        installation.token = "ghs_first"
        first = token()
        installation.token = "ghs_second"

        renewed = installation_token(installation_id=INSTALLATION, mint=mint_installation_token, rejected=first)
        again = installation_token(installation_id=INSTALLATION, mint=mint_installation_token, rejected=first)

        assert (renewed, again) == ("ghs_second", "ghs_second"), (
            "a second caller with the same stale token reuses the new one"
        )
        assert [minted.value for minted in installation.tokens] == ["ghs_first", "ghs_second"]

    def test_scope_and_api_host_make_separate_tokens(self, db, settings):
        assert token_key(installation_id=1) != token_key(installation_id=1, permissions={"contents": "read"})
        assert token_key(installation_id=1, repositories=["a", "b"]) == token_key(
            installation_id=1, repositories=["b", "a"]
        )
        github_key = token_key(installation_id=1)
        settings.GITHUB_API_BASE_URL = "https://ghe.example.com/api/v3"
        assert token_key(installation_id=1) != github_key

    def test_a_scoped_mint_asks_github_for_that_scope(self, db, github, installation):
        installation_token(
            installation_id=INSTALLATION,
            mint=mint_installation_token,
            permissions={"contents": "read"},
            repositories=["r"],
        )

        assert github.requests("POST", MINT)[0].json() == {"permissions": {"contents": "read"}, "repositories": ["r"]}
        assert (installation.tokens[0].permissions, installation.tokens[0].repositories) == (
            {"contents": "read"},
            ["r"],
        )

    def test_tokens_are_stored_encrypted(self, db, installation):
        token()

        store = token_store()
        key = token_key(installation_id=INSTALLATION)
        if isinstance(store, RedisTokenStore):
            raw = store.redis.get(store.prefix + key).decode()
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT token FROM github_app_installationaccesstoken WHERE cache_key = %s", [key])
                raw = cursor.fetchone()[0]
        assert LONG_TOKEN not in raw
        assert store.read(key).token == LONG_TOKEN

    def test_an_unknown_installation_is_a_404_error(self, db, github):
        with pytest.raises(InstallationNotFound):
            token()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("store", ["configured", "database"])
def test_eight_concurrent_threads_mint_once(github, installation, settings, store):
    if store == "database":
        settings.REDIS_URL = ""  # the table, and its row lock, instead of Redis
    github.slow(0.2, "POST", MINT)  # the first mint is still running when the others ask
    results = run_at_once(token)

    assert results == [LONG_TOKEN] * 8
    assert len(installation.tokens) == 1


@pytest.mark.parametrize("store_class", [DatabaseTokenStore, RedisTokenStore])
def test_both_stores_keep_tokens_and_take_the_mint_lock(db, settings, store_class):
    if store_class is RedisTokenStore and not settings.REDIS_URL:
        pytest.skip("no Redis configured")
    store = store_class(settings.REDIS_URL) if store_class is RedisTokenStore else store_class()
    key = f"test-host:1:{store_class.__name__}"

    assert store.read(key) is None
    store.write(key, StoredToken(token=LONG_TOKEN, expires_at=datetime.now(UTC) + timedelta(hours=1)))

    assert store.read(key).token == LONG_TOKEN and store.read(key).fresh
    with store.mint_lock(key):
        pass


class TestInstallationClient:
    REPO = "/repos/octo/widgets"
    SECONDARY_LIMIT = {"message": "You have exceeded a secondary rate limit."}

    def repo_name(self):
        return installation_call(INSTALLATION, lambda github: github.get_repo("octo/widgets").full_name)

    def repo_requests(self, github) -> list:
        return github.requests("GET", self.REPO)

    def test_a_401_refreshes_the_token_once_and_retries(self, db, github, installation):
        installation.token = None  # each mint a token of its own
        github.fail("GET", self.REPO, 401, json={"message": "Bad credentials"})

        assert self.repo_name() == "octo/widgets"
        assert len(installation.tokens) == 2
        tokens = [request.headers["Authorization"] for request in self.repo_requests(github)]
        assert tokens == [f"token {minted.value}" for minted in installation.tokens]

    def test_a_token_github_revoked_is_replaced(self, db, github, installation):
        self.repo_name()
        installation.revoke_tokens()
        installation.token = "ghs_after_revocation"

        assert self.repo_name() == "octo/widgets"
        assert self.repo_requests(github)[-1].headers["Authorization"] == "token ghs_after_revocation"

    def test_a_second_401_is_not_retried_again(self, db, github, installation):
        github.fail("GET", self.REPO, 401, json={"message": "Bad credentials"}, times=None)

        with pytest.raises(BadCredentialsException):
            self.repo_name()
        assert len(self.repo_requests(github)) == 2

    def test_server_errors_are_retried(self, db, github, installation):
        github.fail("GET", self.REPO, 502)
        github.fail("GET", self.REPO, 503)

        assert self.repo_name() == "octo/widgets"
        assert [request.status for request in self.repo_requests(github)] == [502, 503, 200]

    def test_writes_are_not_retried_on_server_errors(self, db, github, installation):
        comments = "/repos/octo/widgets/issues/1/comments"
        github.fail("POST", comments, 502)

        with pytest.raises(GithubException):
            installation_call(
                INSTALLATION,
                lambda github: github.requester.requestJsonAndCheck("POST", comments, input={"body": "hi"}),
            )
        assert github.count("POST", comments) == 1

    @pytest.mark.parametrize(
        "status, message",
        [
            (404, "Not Found"),
            (422, "Validation Failed"),
            (400, "Problems parsing JSON"),
            (403, "Resource not accessible by integration"),
        ],
    )
    def test_client_errors_are_not_retried(self, db, github, installation, status, message):
        github.fail("GET", self.REPO, status, json={"message": message}, times=None)

        with pytest.raises(GithubException):
            self.repo_name()
        assert len(self.repo_requests(github)) == 1

    def test_a_secondary_limit_with_a_short_retry_after_is_waited_out(self, db, github, installation):
        github.fail("GET", self.REPO, 403, json=self.SECONDARY_LIMIT, headers={"Retry-After": "1"})

        assert self.repo_name() == "octo/widgets"
        assert len(self.repo_requests(github)) == 2

    def test_a_secondary_limit_beyond_the_budget_raises_without_sleeping(self, db, github, installation):
        github.fail("GET", self.REPO, 403, json=self.SECONDARY_LIMIT, headers={"Retry-After": "120"})
        started = time.monotonic()

        with pytest.raises(GitHubRetryLater) as raised:
            self.repo_name()
        assert raised.value.retry_after == 120
        assert time.monotonic() - started < 1

    def test_a_secondary_limit_without_retry_after_backs_off_a_minute(self, db, github, installation):
        github.fail("GET", self.REPO, 403, json=self.SECONDARY_LIMIT)
        started = time.monotonic()

        with pytest.raises(GitHubRetryLater) as raised:
            self.repo_name()
        assert raised.value.retry_after >= 60
        assert time.monotonic() - started < 1

    def test_a_primary_limit_beyond_the_budget_raises_without_sleeping(self, db, installation):
        installation.rate_limit.remaining, installation.rate_limit.reset = 0, int(time.time()) + 1800
        started = time.monotonic()

        with pytest.raises(GitHubRetryLater) as raised:
            self.repo_name()
        assert 1790 <= raised.value.retry_after <= 1802
        assert time.monotonic() - started < 1

    def test_a_primary_limit_resetting_within_the_budget_is_waited_out(self, db, github, installation):
        # `responses` retries without sleeping, so the limit is one answer rather than the model's clock.
        reset = {
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Reset": str(int(time.time()) + 1),
        }
        github.fail(
            "GET", self.REPO, 403, json={"message": "API rate limit exceeded for installation ID 4242."}, headers=reset
        )

        assert self.repo_name() == "octo/widgets"
        assert [request.status for request in self.repo_requests(github)] == [403, 200]

    def test_rate_limit_headers_are_recorded_per_installation(self, db, installation):
        installation.rate_limit.remaining, installation.rate_limit.reset = 4991, 1900000000

        self.repo_name()

        assert installation_rate_limit(INSTALLATION) == {"remaining": 4990, "limit": 5000, "reset": 1900000000}

    def test_enterprise_server_base_url(self, db, github_http, installation, settings):
        settings.GITHUB_API_BASE_URL = "https://ghe.example.com/api/v3"

        assert self.repo_name() == "octo/widgets"
        assert {call.request.url.split("/")[2].split(":")[0] for call in github_http.calls} == {"ghe.example.com"}

    def test_repositories_are_listed_with_the_shared_token(self, db, installation):
        assert installation_repositories_fetch(installation_id=INSTALLATION) == [
            {"id": 1, "full_name": "octo/widgets", "private": True}
        ]
        assert installation_repositories_fetch(installation_id=INSTALLATION)
        assert len(installation.tokens) == 1

    def test_the_token_never_reaches_logs_or_errors(self, db, github, installation, caplog):
        caplog.set_level(logging.DEBUG)
        github.fail("GET", self.REPO, 401, json={"message": "Bad credentials"}, times=None)

        with pytest.raises(BadCredentialsException) as raised:
            self.repo_name()

        assert LONG_TOKEN not in caplog.text
        assert LONG_TOKEN not in str(raised.value) and LONG_TOKEN not in repr(raised.value)
