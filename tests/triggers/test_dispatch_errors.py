"""GitHub failing to list a delivery's changed files: a passing fault retries the delivery and
starts nothing meanwhile; only a diff GitHub cannot produce lets path filters pass."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from freezegun import freeze_time

from github_app.models import WebhookDelivery
from github_app.webhooks.deliveries import deliveries_relay
from tests.conftest import github_connection
from tests.github_double import changed_file
from tests.triggers.test_dispatch import CONDITION
from tests.workflows.test_engine import INSTALLATION, REPO
from triggers.services import workflow_save
from workflows.models import Conclusion, WorkflowRun

Status = WebhookDelivery.Status
PULL_REQUEST_FILES = f"/repos/{REPO}/pulls/2/files"
COMPARE = f"/repos/{REPO}/compare/aaa...bbb"
FAULTS = {
    "502": {"json": {"message": "Server Error"}, "status": 502},
    "rate limit": {
        "json": {"message": "You have exceeded a secondary rate limit."},
        "status": 403,
        "headers": {"Retry-After": "900"},
    },
    "timeout": {"error": requests.ReadTimeout("read timed out")},
}


@pytest.fixture(autouse=True)
def client_retries_spent(settings):
    """Each fault is what GitHub still answers once the client's own retries are spent."""
    settings.GITHUB_HTTP_RETRIES = 0


@pytest.fixture
def repository(github):
    repository = github.repository(REPO, id=186853002)
    github.installation(INSTALLATION, repositories=[repository])
    return repository


def on_docs(user, event: str, **filters):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    trigger = {"repository": REPO, "events": [event], "paths": ["docs/**"], **filters}
    return workflow_save(owner=user, name=f"Docs {event}", definition=CONDITION, triggers=[trigger])


def changed_files(repository, path: str, files: list[str]) -> None:
    items = [changed_file(name) for name in files]
    if path == COMPARE:
        repository.compare("aaa", "bbb", files=items, commits=21)
    else:
        repository.pull_request(2, files=items)


def deliver_reading_files_from(deliver, path: str) -> WebhookDelivery:
    if path == COMPARE:  # 20 commits: more than the payload lists, so compare tells what changed
        return deliver(
            "push_5",
            "push",
            ref="refs/heads/main",
            before="aaa",
            after="bbb",
            commits=[{"id": str(n)} for n in range(20)],
        )
    return deliver()


def relay_when_due(delivery: WebhookDelivery, django_capture_on_commit_callbacks) -> None:
    delivery.refresh_from_db()
    assert delivery.next_attempt_at is not None, "the attempt failed and was scheduled again"
    with freeze_time(delivery.next_attempt_at + timedelta(seconds=1)), django_capture_on_commit_callbacks(execute=True):
        assert deliveries_relay() == 1


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(
    "path, event", [(PULL_REQUEST_FILES, "pull_request"), (COMPARE, "push")], ids=["pull request files", "compare"]
)
def test_a_passing_fault_retries_the_delivery_and_starts_no_run_until_github_answers(
    user, installation, deliver, github, repository, django_capture_on_commit_callbacks, path, event, fault
):
    on_docs(user, event)
    failing = github.fail("GET", path, **FAULTS[fault], times=None)

    delivery = deliver_reading_files_from(deliver, path)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.runs_started) == (Status.RECEIVED, 1, 0)
    assert delivery.last_error and delivery.next_attempt_at > timezone.now()
    assert not WorkflowRun.objects.exists()

    github.recover(failing)
    changed_files(repository, path, ["docs/guide.md"])
    relay_when_due(delivery, django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.runs_started, delivery.last_error) == (
        Status.PROCESSED,
        2,
        1,
        "",
    )
    assert WorkflowRun.objects.get().conclusion == Conclusion.SUCCESS


def test_a_rate_limit_is_waited_out_before_the_retry(user, installation, deliver, github, repository, settings):
    on_docs(user, "pull_request")
    github.fail("GET", PULL_REQUEST_FILES, **FAULTS["rate limit"], times=None)

    delivery = deliver()

    delivery.refresh_from_db()
    assert "GitHubRetryLater" in delivery.last_error
    assert (delivery.next_attempt_at - timezone.now()).total_seconds() == pytest.approx(900, abs=5)
    with freeze_time(timezone.now() + timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS + 1)):
        assert deliveries_relay() == 0


def test_a_502_never_lets_through_a_run_that_the_paths_exclude(
    user, installation, deliver, github, repository, django_capture_on_commit_callbacks
):
    on_docs(user, "pull_request")
    failing = github.fail("GET", PULL_REQUEST_FILES, **FAULTS["502"], times=None)
    delivery = deliver()
    github.recover(failing)
    changed_files(repository, PULL_REQUEST_FILES, ["README.md"])

    relay_when_due(delivery, django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.runs_started) == (Status.PROCESSED, 0)
    assert not WorkflowRun.objects.exists()


def test_no_workflow_of_the_delivery_starts_before_its_changed_files_are_known(
    user, installation, deliver, github, repository, django_capture_on_commit_callbacks
):
    """A workflow without path filters waits for the retry too: each attempt starts all its runs
    or none, and the retry starts each exactly once."""
    on_docs(user, "pull_request")
    workflow_save(
        owner=user, name="Every PR", definition=CONDITION, triggers=[{"repository": REPO, "events": ["pull_request"]}]
    )
    failing = github.fail("GET", PULL_REQUEST_FILES, **FAULTS["timeout"], times=None)

    delivery = deliver()

    assert not WorkflowRun.objects.exists()
    github.recover(failing)
    changed_files(repository, PULL_REQUEST_FILES, ["docs/guide.md"])
    relay_when_due(delivery, django_capture_on_commit_callbacks)
    assert sorted(WorkflowRun.objects.values_list("workflow__name", flat=True)) == ["Docs pull_request", "Every PR"]


def test_no_changed_files_are_asked_for_when_no_trigger_with_paths_still_matches(
    user, installation, deliver, github, repository
):
    on_docs(user, "pull_request", branches=["release/**"])  # the pull request is against main
    failing = github.fail("GET", PULL_REQUEST_FILES, **FAULTS["502"], times=None)

    delivery = deliver()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.runs_started, failing.hits) == (Status.PROCESSED, 0, 0)


TOO_LARGE = {
    "message": "Sorry, the diff exceeded the maximum number of files (300).",
    "errors": [{"resource": "PullRequest", "field": "diff", "code": "too_large"}],
}
TOO_SLOW = {
    "message": "Server Error: Sorry, this diff is taking too long to generate.",
    "errors": [{"resource": "PullRequest", "field": "diff", "code": "not_available"}],
}


@pytest.mark.parametrize(
    "path, event, status, body",
    [
        (PULL_REQUEST_FILES, "pull_request", 406, TOO_LARGE),
        (PULL_REQUEST_FILES, "pull_request", 422, TOO_SLOW),
        (COMPARE, "push", 406, TOO_LARGE),
        (COMPARE, "push", 422, TOO_SLOW),
        (COMPARE, "push", 404, {"message": "No common ancestor between aaa and bbb."}),
    ],
    ids=[
        "pull request too large",
        "pull request too slow",
        "compare too large",
        "compare too slow",
        "compare of unrelated histories",
    ],
)
def test_a_diff_github_cannot_produce_lets_path_filters_pass_as_in_actions(
    user, installation, deliver, github, repository, path, event, status, body
):
    on_docs(user, event)
    github.fail("GET", path, status, json=body)

    delivery = deliver_reading_files_from(deliver, path)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.runs_started) == (Status.PROCESSED, 1, 1)


def test_a_compare_github_does_not_find_is_retried_not_taken_for_an_unavailable_diff(
    user, installation, deliver, repository
):
    on_docs(user, "push")  # and GitHub knows no such comparison

    delivery = deliver_reading_files_from(deliver, COMPARE)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.runs_started) == (Status.RECEIVED, 0)
    assert "404" in delivery.last_error
