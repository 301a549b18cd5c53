"""The connect page in a real headless Chromium: the user GitHub sent back signs in through the
login form, lands on their pending install, clicks Connect and sees the repositories bound.

GitHub is the double behind `responses`, which patches requests for every thread: the calls of
the completion, made in the live server's thread, reach it too."""

import pytest

from github_app.install.selectors import github_integration_list
from tests.github_app.test_connect import PASSWORD, bound_repositories
from tests.github_app.test_install_flow import HELLO, SECRET, accessible_installation, pending_completion
from tests.operations.test_dashboard_browser import SCREENSHOT, browser_page
from tests.operations.test_dashboard_browser import chromium as chromium  # a fixture, used by name

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_signs_in_connects_and_sees_the_repositories(live_server, chromium, user, github):
    accessible_installation(github, [HELLO, SECRET], user_sees=[HELLO])
    completion = pending_completion(user)
    connect_url = f"{live_server.url}/connect/?completion={completion}"

    with browser_page(chromium) as page:
        page.goto(connect_url)
        assert "/accounts/login/" in page.url
        page.fill("#id_username", "alice")
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")

        assert page.url == connect_url
        assert page.inner_text("#pending-account") == "Codertocat"
        assert page.inner_text("#signed-in-as") == "alice"
        with page.expect_navigation():
            page.click("#connect")

        assert page.url.endswith("/connect/?connected=957387")
        connected = page.inner_text("#connected")
        assert HELLO in connected and SECRET not in connected
        assert HELLO in page.inner_text("#connections")
        page.screenshot(path=str(SCREENSHOT.with_name("connect.png")), full_page=True)

    assert bound_repositories(user) == [HELLO]
    assert github_integration_list(user=user)[0].installation is not None
