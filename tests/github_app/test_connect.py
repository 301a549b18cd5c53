"""The connect page (/connect/): a service run without a frontend completes installs itself, with
the session login, under the same rule as the completion API: only the user the state named."""

from datetime import timedelta
from urllib.parse import parse_qs, quote, urlparse

import pytest
from django.test import Client
from freezegun import freeze_time

from github_app.install.flow import install_state_verify
from github_app.install.selectors import github_integration_list
from github_app.models import RepositoryAccess
from integrations.models import OAuthToken
from tests.conftest import client_for, github_connection
from tests.github_app.test_install_flow import (
    CALLBACK,
    HELLO,
    INSTALLATION_ID,
    SECRET,
    accessible_installation,
    assert_nothing_bound,
    assert_unspent,
    callback,
    install_state_issue,
    installation_repositories_unreachable,
    installation_token_fails,
    pending_completion,
    user_repositories_fail,
    user_repositories_unreachable,
)

CONNECT = "/connect/"
LOGIN = "/accounts/login/"
PASSWORD = "correct horse battery staple"  # the `user` fixture's
# What Chromium and Firefox send for a page they navigate to.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def connect_page(client: Client, completion: str):
    return client.get(CONNECT, {"completion": completion})


def connect_post(client: Client, completion: str):
    return client.post(CONNECT, {"completion": completion})


def bound_repositories(user) -> list[str]:
    return [access.full_name for entry in github_integration_list(user=user) for access in entry.repositories]


def assert_html_page(response, status: int) -> str:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


class TestCallbackRedirect:
    def test_a_browser_is_sent_to_the_connect_page_without_a_frontend(self, client, user, github):
        accessible_installation(github)

        response = callback(client, install_state_issue(user=user), request_meta={"HTTP_ACCEPT": BROWSER_ACCEPT})

        assert response.status_code == 302
        location = urlparse(response["Location"])
        assert (location.scheme, location.netloc, location.path) == ("", "", CONNECT)
        query = parse_qs(location.query)
        assert list(query) == ["completion"]
        assert_nothing_bound()
        assert connect_post(signed_in(user), query["completion"][0]).status_code == 302
        assert bound_repositories(user) == [HELLO]

    def test_a_request_from_a_browser_is_sent_to_the_page_saying_an_owner_must_approve(self, client, user, github):
        query = {"state": install_state_issue(user=user), "setup_action": "request"}

        response = client.get(CALLBACK, query, HTTP_ACCEPT=BROWSER_ACCEPT)

        assert response.status_code == 302
        assert response["Location"] == f"{CONNECT}?status=requested"
        page = assert_html_page(signed_in(user).get(response["Location"]), 200)
        assert 'id="requested"' in page and "approve" in page

    @pytest.mark.parametrize(
        ("query", "reason"),
        [
            (
                {"state": "forged.state.value", "setup_action": "install", "installation_id": "1"},
                "not one this server issued",
            ),
            ({"state": "x", "setup_action": "install"}, "installation_id"),
            ({"state": "x", "setup_action": "install", "error": "access_denied"}, "GitHub reported: access_denied"),
            ({"state": "x", "setup_action": "<script>alert(1)</script>"}, "is not a valid choice"),
        ],
    )
    def test_a_failed_callback_is_a_page_for_a_browser_and_json_for_a_client(self, client, github, query, reason):
        page = assert_html_page(client.get(CALLBACK, query, HTTP_ACCEPT=BROWSER_ACCEPT), 400)

        assert reason in page and 'role="alert"' in page
        assert "<script>alert(1)</script>" not in page
        answer = client.get(CALLBACK, query)
        assert answer.status_code == 400 and answer["Content-Type"] == "application/json"

    def test_with_a_frontend_a_failed_callback_stays_json(self, client, settings):
        settings.FRONTEND_URL = "https://app.example.com/github/connected"
        query = {"state": "forged.state.value", "setup_action": "install", "installation_id": "1"}

        answer = client.get(CALLBACK, query, HTTP_ACCEPT=BROWSER_ACCEPT)

        assert answer.status_code == 400 and answer.json()["error"]

    @pytest.mark.parametrize("accept", [None, "application/json", "*/*", "application/json, text/*;q=0.5"])
    def test_api_clients_keep_the_json_answer(self, client, user, github, accept):
        accessible_installation(github)
        meta = {} if accept is None else {"HTTP_ACCEPT": accept}

        response = callback(client, install_state_issue(user=user), request_meta=meta)

        assert response.status_code == 200
        assert response.json()["status"] == "pending"

    def test_a_configured_frontend_still_receives_the_browser(self, client, user, github, settings):
        settings.FRONTEND_URL = "https://app.example.com/integrations"
        accessible_installation(github)

        response = callback(client, install_state_issue(user=user), request_meta={"HTTP_ACCEPT": BROWSER_ACCEPT})

        assert response.status_code == 302
        location = urlparse(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == "https://app.example.com/integrations"
        assert parse_qs(location.query)["status"] == ["pending"]


class TestSignIn:
    def test_anonymous_is_sent_to_the_login_page_keeping_next(self, client, db):
        response = client.get(CONNECT, {"completion": "abc"})

        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next={quote('/connect/?completion=abc', safe='/')}"

    def test_anonymous_cannot_post_a_completion(self, client, user, github):
        accessible_installation(github)
        completion = pending_completion(user)

        response = connect_post(client, completion)

        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
        assert_nothing_bound()
        assert_unspent(completion)

    def test_signing_in_lands_back_on_the_install(self, client, user, github):
        accessible_installation(github)
        completion = pending_completion(user)
        login_page = client.get(connect_page(client, completion)["Location"])
        assert 'name="password"' in assert_html_page(login_page, 200)

        response = client.post(LOGIN, {"username": "alice", "password": PASSWORD, "next": login_page.context["next"]})

        assert response.status_code == 302
        assert response["Location"] == f"{CONNECT}?completion={completion}"
        assert 'id="pending"' in assert_html_page(client.get(response["Location"]), 200)

    def test_a_user_who_is_not_staff_may_sign_in(self, client, user):
        assert not user.is_staff

        response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})

        assert (response.status_code, response["Location"]) == (302, CONNECT)

    def test_a_wrong_password_stays_on_the_login_page(self, client, user):
        response = client.post(LOGIN, {"username": "alice", "password": "wrong", "next": CONNECT})

        page = assert_html_page(response, 200)
        assert "correct username and password" in page
        assert client.get(CONNECT)["Location"].startswith(LOGIN)

    def test_signing_out_asks_for_a_login_again(self, user):
        client = signed_in(user)

        response = client.post("/accounts/logout/", {"next": CONNECT})

        assert (response.status_code, response["Location"]) == (302, CONNECT)
        assert client.get(CONNECT)["Location"].startswith(LOGIN)

    def test_the_admin_and_the_api_keep_their_own_answers(self, client, user):
        """LOGIN_URL is for the pages for users: the admin keeps its staff login, and the API
        answers 401 in its error shape, never a redirect to a login page."""
        assert client.get("/admin/")["Location"].startswith("/admin/login/")
        assert client.get("/dashboard/")["Location"].startswith("/admin/login/")
        response = client.get("/api/v1/app/integrations/github")
        assert response.status_code == 401
        assert set(response.json()) == {"error", "detail"}


class TestConnect:
    def test_the_named_user_sees_the_install_and_completes_it(self, user, github):
        accessible_installation(github, [HELLO, SECRET], user_sees=[HELLO])
        completion = pending_completion(user)
        calls_at_the_callback = github.count()
        client = signed_in(user)

        shown = connect_page(client, completion)

        page = assert_html_page(shown, 200)
        assert shown.context["pending"]["account_login"] == "Codertocat"
        assert shown.context["pending"]["account_type"] == "User"
        assert "Only the repositories selected at GitHub" in page
        assert f'name="completion" value="{completion}"' in page
        assert "csrfmiddlewaretoken" in page
        # The install link goes to GitHub: the completion in this page's address must not follow it.
        assert shown["Referrer-Policy"] == "same-origin"
        assert github.count() == calls_at_the_callback  # showing it asks GitHub nothing
        assert_nothing_bound()

        response = connect_post(client, completion)

        assert response.status_code == 302
        assert response["Location"] == f"{CONNECT}?connected={INSTALLATION_ID}"
        assert bound_repositories(user) == [HELLO]
        assert OAuthToken.objects.get().user == user
        after = client.get(response["Location"])
        assert after.context["connected"].installation.account_login == "Codertocat"
        connected = assert_html_page(after, 200).split('id="connected"')[1].split("</section>")[0]
        assert HELLO in connected and SECRET not in connected

    def test_without_a_completion_the_users_connections_and_an_install_link(self, user, other_user, db):
        github_connection(user, 41, repositories={7: "acme/widgets"})
        github_connection(other_user, 42, repositories={8: "globex/secret-plans"})

        response = signed_in(user).get(CONNECT)

        page = assert_html_page(response, 200)
        assert "acme/widgets" in page
        assert "globex" not in page
        install_url = urlparse(response.context["install_url"])
        assert install_url.path == "/apps/ai-workflow-teams-test/installations/new"
        assert install_state_verify(state=parse_qs(install_url.query)["state"][0]).user == user
        assert 'id="install-link"' in page

    def test_connected_names_only_the_users_own_connection(self, user, other_user, db):
        github_connection(other_user, 42, repositories={8: "globex/secret-plans"})

        response = signed_in(user).get(CONNECT, {"connected": "42"})

        page = assert_html_page(response, 200)
        assert response.context["connected"] is None
        assert "globex" not in page

    def test_an_unconfigured_app_says_what_to_set_instead_of_failing(self, user, settings):
        settings.GITHUB_APP_SLUG = ""

        response = signed_in(user).get(CONNECT)

        page = assert_html_page(response, 200)
        assert 'id="install-unconfigured"' in page and "GITHUB_APP_SLUG" in page
        assert 'id="install-link"' not in page


class TestAnotherUser:
    """User B, signed in, holds the completion of an install that A's state started (a link A
    sent, a shared screen): B must learn nothing of it and bind nothing."""

    def test_sees_a_refusal_without_any_detail_of_the_install(self, user, other_user, github):
        accessible_installation(github, [HELLO, SECRET])
        completion = pending_completion(user)
        calls_at_the_callback = github.count()

        response = connect_page(signed_in(other_user), completion)

        page = assert_html_page(response, 403)
        assert "another user" in page
        for detail in ("Codertocat", HELLO, SECRET, str(INSTALLATION_ID), "Connect</button>"):
            assert detail not in page
        assert "pending" not in response.context
        assert github.count() == calls_at_the_callback

    def test_cannot_complete_it_and_the_right_user_still_can(self, user, other_user, github):
        accessible_installation(github, [HELLO, SECRET])
        completion = pending_completion(user)
        calls_at_the_callback = github.count()

        response = connect_post(signed_in(other_user), completion)

        page = assert_html_page(response, 403)
        assert HELLO not in page and "Codertocat" not in page
        assert_nothing_bound()
        assert_unspent(completion)
        assert github.count() == calls_at_the_callback  # refused before GitHub is asked
        assert connect_post(signed_in(user), completion).status_code == 302
        assert OAuthToken.objects.get().user == user
        assert not github_integration_list(user=other_user)


class TestUnusableCompletions:
    @pytest.mark.parametrize("completion", ["not-a-completion-this-server-issued", "", "x" * 5000])
    def test_an_unknown_completion_is_a_400_page(self, user, github, completion):
        client = signed_in(user)

        shown = client.get(CONNECT, {"completion": completion}) if completion else None
        posted = connect_post(client, completion)

        if shown is not None:
            assert "not one this server issued" in assert_html_page(shown, 400)
        assert "not one this server issued" in assert_html_page(posted, 400)
        assert_nothing_bound()

    def test_a_used_completion_is_a_400_page_and_binds_once(self, user, github):
        accessible_installation(github)
        completion = pending_completion(user)
        client = signed_in(user)
        assert connect_post(client, completion).status_code == 302

        replayed = connect_post(client, completion)

        assert "already been used" in assert_html_page(replayed, 400)
        assert "already been used" in assert_html_page(connect_page(client, completion), 400)
        assert OAuthToken.objects.count() == 1

    def test_an_expired_completion_is_a_400_page(self, user, github):
        accessible_installation(github)
        with freeze_time() as frozen:
            completion = pending_completion(user)
            client = signed_in(user)
            frozen.tick(timedelta(seconds=601))

            shown = connect_page(client, completion)
            posted = connect_post(client, completion)

        assert "expired" in assert_html_page(shown, 400)
        assert "expired" in assert_html_page(posted, 400)
        assert_nothing_bound()


class TestCsrf:
    def test_a_post_without_the_pages_token_is_refused_and_binds_nothing(self, user, github):
        accessible_installation(github)
        completion = pending_completion(user)
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)

        response = connect_post(client, completion)

        assert response.status_code == 403
        assert_nothing_bound()
        assert_unspent(completion)

    def test_the_pages_own_form_passes(self, user, github):
        accessible_installation(github)
        completion = pending_completion(user)
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        token = connect_page(client, completion).context["csrf_token"]

        response = client.post(CONNECT, {"completion": completion, "csrfmiddlewaretoken": str(token)})

        assert response.status_code == 302
        assert bound_repositories(user) == [HELLO]


class TestGitHubFailures:
    @pytest.mark.parametrize(
        "failure, expected",
        [
            (installation_token_fails, 502),
            (installation_repositories_unreachable, 503),
            (user_repositories_fail, 502),
            (user_repositories_unreachable, 503),
        ],
    )
    def test_a_failure_is_a_readable_page_as_the_api_answers_and_the_completion_stays_usable(
        self, user, github, failure, expected
    ):
        accessible_installation(github)
        completion = pending_completion(user)
        client = signed_in(user)
        failure(github)

        response = connect_post(client, completion)

        page = assert_html_page(response, expected)
        assert response.context["message"] in page
        assert f'name="completion" value="{completion}"' in page  # "Try again"
        assert_nothing_bound()
        assert_unspent(completion)
        github.recover()
        assert connect_post(client, completion).status_code == 302
        assert bound_repositories(user) == [HELLO]

    def test_a_user_token_github_no_longer_accepts_is_a_403_page_about_that(self, user, github):
        installing = accessible_installation(github)
        completion = pending_completion(user)
        installing.revoke()

        response = connect_post(signed_in(user), completion)

        page = assert_html_page(response, 403)
        assert "no longer accepts your authorization" in page
        assert "Not yours to connect" not in page
        assert not RepositoryAccess.objects.exists()


def test_the_api_completion_and_the_page_bind_the_same(user, github):
    """Both roads end in install_complete: the page's result reads back through the API."""
    accessible_installation(github, [HELLO, SECRET], user_sees=[HELLO])
    assert connect_post(signed_in(user), pending_completion(user)).status_code == 302

    listed = client_for(user).get("/api/v1/app/integrations/github").json()["integrations"]

    assert [repo["full_name"] for repo in listed[0]["installation"]["repositories"]] == [HELLO]
