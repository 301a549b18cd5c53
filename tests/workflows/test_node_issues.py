"""github.get_issue, github.create_issue, github.update_issue and github.remove_labels, run by
the engine against the GitHub double."""

# ruff: noqa: F811  (pytest fixtures imported from node_runs are named as test arguments)

import pytest
import requests

from github_app.api.writes import comment_marker
from tests.workflows.node_runs import (  # noqa: F401  (fixtures)
    HIDDEN,
    REPO,
    issue_event,
    repository,
    run_now,
    single_node,
    step_retries_at_once,
    tenant,
)
from workflows.models import Conclusion, WorkflowRun

ISSUES = f"/repos/{REPO}/issues"

pytestmark = pytest.mark.usefixtures("tenant")


def step_of(run):
    return run.steps.get(node_id="step")


class TestGetIssue:
    def test_reads_the_issue_of_the_event_with_its_comments(self, user, repository, run_now):
        issue = repository.issue(
            3, title="Crash on start", text="It crashes.", labels=["bug"], assignees=["hubot"], author="mona"
        )
        issue.comment("Same here", login="octocat")

        run = run_now(single_node(user, "github.get_issue", {}), issue_event(3))

        output = step_of(run).output
        assert step_of(run).conclusion == Conclusion.SUCCESS
        assert output["issue"] == {
            **output["issue"],
            "number": 3,
            "title": "Crash on start",
            "body": "It crashes.",
            "state": "open",
            "labels": ["bug"],
            "assignees": ["hubot"],
            "user": "mona",
            "html_url": f"https://github.com/{REPO}/issues/3",
            "is_pull_request": False,
        }
        assert [(comment["user"], comment["body"]) for comment in output["comments"]] == [("octocat", "Same here")]
        assert output["comments_truncated"] is False

    def test_comments_are_bounded_and_the_cut_is_flagged(self, user, repository, run_now):
        issue = repository.issue(1)
        for number in range(301):
            issue.comment(f"comment {number}")

        run = run_now(single_node(user, "github.get_issue", {"number": 1}), issue_event(1))

        output = step_of(run).output
        assert len(output["comments"]) == 300 and output["comments_truncated"] is True
        assert repository.issues[1].comments[0]["body"] == output["comments"][0]["body"]

    def test_a_second_read_in_the_run_is_conditional(self, user, repository, run_now, github):
        repository.issue(1)
        definition = {
            "nodes": [
                {"id": "first", "type": "github.get_issue", "params": {}},
                {"id": "second", "type": "github.get_issue", "params": {}},
            ],
            "edges": [{"from": "first", "to": "second"}],
        }
        from workflows.services import workflow_create

        run = run_now(workflow_create(owner=user, name="Twice", definition=definition), issue_event(1))

        assert run.conclusion == Conclusion.SUCCESS
        assert [request.status for request in github.requests("GET", f"{ISSUES}/1")] == [200, 304]

    def test_a_repository_the_owner_does_not_reach_is_refused_before_github(self, user, repository, run_now, github):
        repository.issue(1)
        github.repository(HIDDEN).issue(1)

        run = run_now(single_node(user, "github.get_issue", {"repository": HIDDEN}), issue_event(1))

        assert step_of(run).conclusion == Conclusion.FAILURE
        assert "not among the repositories" in step_of(run).error
        assert github.requests() == []

    def test_a_missing_issue_fails_the_step(self, user, repository, run_now):
        run = run_now(single_node(user, "github.get_issue", {"number": 99}), issue_event(1))

        assert (step_of(run).conclusion, step_of(run).attempts) == (Conclusion.FAILURE, 1)


class TestCreateIssue:
    PARAMS = {"title": "Nightly build failed", "body": "See the log.", "labels": ["ci"], "assignees": ["hubot"]}

    def test_opens_an_issue_carrying_the_steps_marker(self, user, repository, run_now):
        run = run_now(single_node(user, "github.create_issue", self.PARAMS), issue_event())

        [issue] = repository.issues.values()
        assert step_of(run).output == {
            "number": issue.number,
            "html_url": f"https://github.com/{REPO}/issues/{issue.number}",
            "created": True,
        }
        assert (issue.title, issue.labels, issue.assignees) == ("Nightly build failed", ["ci"], ["hubot"])
        assert issue.text == f"See the log.\n\n{comment_marker(f'{run.pk}:step')}"

    def test_a_retry_after_github_opened_the_issue_finds_it(self, user, repository, run_now, github):
        reset = requests.ConnectionError("connection reset after GitHub stored the issue")
        github.fail("POST", ISSUES, error=reset, after_applying=True)

        run = run_now(single_node(user, "github.create_issue", self.PARAMS), issue_event())

        assert len(repository.issues) == 1, "the retry found its marker and opened no second issue"
        assert (step_of(run).attempts, step_of(run).output["created"]) == (2, False)
        search = github.requests("GET", ISSUES)[-1].query
        assert search["creator"] == f"{github.app_slug}[bot]" and search["state"] == "all"

    def test_a_marker_in_someone_elses_issue_is_not_the_steps(self, user, repository, run_now, github):
        def mallory_pastes_the_marker() -> None:
            marker = comment_marker(f"{WorkflowRun.objects.get().pk}:step")
            repository.issue(7, text=f"copied {marker}", author="mallory")

        github.meanwhile("GET", ISSUES, mallory_pastes_the_marker)

        run = run_now(single_node(user, "github.create_issue", self.PARAMS), issue_event())

        assert step_of(run).output["created"] is True and step_of(run).output["number"] == 8
        assert sorted(repository.issues) == [7, 8]

    def test_each_run_opens_its_own_issue(self, user, repository, run_now):
        workflow = single_node(user, "github.create_issue", self.PARAMS)

        run_now(workflow, issue_event())
        run_now(workflow, issue_event())

        assert len(repository.issues) == 2

    def test_dry_run_records_and_opens_nothing(self, user, repository, run_now, github):
        run = run_now(single_node(user, "github.create_issue", self.PARAMS), issue_event(), dry_run=True)

        assert step_of(run).output == {"dry_run": True, "would": {"type": "github.create_issue", "params": self.PARAMS}}
        assert repository.issues == {} and github.requests() == []

    def test_a_repository_the_owner_does_not_reach_is_refused(self, user, repository, run_now, github):
        run = run_now(single_node(user, "github.create_issue", {**self.PARAMS, "repository": HIDDEN}), issue_event())

        assert step_of(run).conclusion == Conclusion.FAILURE
        assert github.requests() == [] and github.repository(HIDDEN).issues == {}

    @pytest.mark.parametrize(
        "params, message",
        [
            ({"title": "{{ '   ' }}"}, "`title` must be non-empty text"),
            ({"title": "{{ 'x' * 300 }}"}, "at most 256 characters"),
            ({"title": "ok", "body": "{{ 'x' * 70000 }}"}, "`body` must be text of at most 65000"),
        ],
    )
    def test_bad_input_fails_clearly_before_github(self, user, repository, run_now, github, params, message):
        run = run_now(single_node(user, "github.create_issue", params), issue_event())

        assert step_of(run).conclusion == Conclusion.FAILURE and message in step_of(run).error
        assert github.requests() == []


class TestUpdateIssue:
    def test_closes_with_a_reason_and_retitles(self, user, repository, run_now):
        repository.issue(1, title="Old")
        params = {"state": "closed", "state_reason": "not_planned", "title": "New"}

        run = run_now(single_node(user, "github.update_issue", params), issue_event(1))

        issue = repository.issues[1]
        assert (issue.state, issue.state_reason, issue.title) == ("closed", "not_planned", "New")
        assert step_of(run).output["issue"]["state"] == "closed"

    def test_a_retry_after_github_applied_the_change_leaves_the_same_issue(self, user, repository, run_now, github):
        repository.issue(1, assignees=["octocat"])
        github.fail("PATCH", f"{ISSUES}/1", error=requests.ConnectionError("reset"), after_applying=True)

        run = run_now(
            single_node(user, "github.update_issue", {"state": "closed", "assignees": ["hubot"]}), issue_event(1)
        )

        issue = repository.issues[1]
        assert step_of(run).attempts == 2 and step_of(run).conclusion == Conclusion.SUCCESS
        assert (issue.state, issue.state_reason, issue.assignees) == ("closed", "completed", ["hubot"])

    def test_dry_run_records_and_changes_nothing(self, user, repository, run_now, github):
        repository.issue(1)

        run = run_now(single_node(user, "github.update_issue", {"state": "closed"}), issue_event(1), dry_run=True)

        assert step_of(run).output["dry_run"] is True
        assert repository.issues[1].state == "open" and github.requests("PATCH") == []

    def test_a_repository_the_owner_does_not_reach_is_refused(self, user, repository, run_now, github):
        github.repository(HIDDEN).issue(1)

        run = run_now(
            single_node(user, "github.update_issue", {"repository": HIDDEN, "state": "closed"}), issue_event(1)
        )

        assert step_of(run).conclusion == Conclusion.FAILURE
        assert github.requests() == [] and github.repository(HIDDEN).issues[1].state == "open"

    @pytest.mark.parametrize(
        "params, message",
        [
            ({}, "Nothing to change"),
            ({"state": "{{ 'deleted' }}"}, "`state` 'deleted' must be one of open, closed"),
            ({"state_reason": "spam"}, "must be one of completed, not_planned, duplicate, reopened"),
            ({"number": "{{ 'one' }}", "state": "closed"}, "No pull request or issue number"),
        ],
    )
    def test_bad_input_fails_clearly_before_github(self, user, repository, run_now, github, params, message):
        repository.issue(1)

        run = run_now(single_node(user, "github.update_issue", params), issue_event(1))

        assert step_of(run).conclusion == Conclusion.FAILURE and message in step_of(run).error
        assert github.requests() == []


class TestRemoveLabels:
    def test_removes_labels_and_a_missing_one_is_not_an_error(self, user, repository, run_now):
        repository.issue(1, labels=["bug", "triage", "needs info"])

        run = run_now(
            single_node(user, "github.remove_labels", {"labels": ["needs info", "wontfix", "triage"]}), issue_event(1)
        )

        assert step_of(run).conclusion == Conclusion.SUCCESS
        assert step_of(run).output == {"removed": ["needs info", "triage"], "labels": ["bug"]}
        assert repository.issues[1].labels == ["bug"]

    def test_labels_none_of_which_are_there_still_answer_the_issues_labels(self, user, repository, run_now):
        repository.issue(1, labels=["bug"])

        run = run_now(single_node(user, "github.remove_labels", {"labels": ["wontfix"]}), issue_event(1))

        assert step_of(run).output == {"removed": [], "labels": ["bug"]}

    def test_a_missing_issue_fails_the_step(self, user, repository, run_now):
        run = run_now(single_node(user, "github.remove_labels", {"labels": ["bug"], "number": 9}), issue_event(1))

        assert step_of(run).conclusion == Conclusion.FAILURE and "404" in step_of(run).error

    def test_a_retry_after_github_removed_the_label_succeeds(self, user, repository, run_now, github):
        repository.issue(1, labels=["bug", "triage"])
        github.fail("DELETE", f"{ISSUES}/1/labels/triage", error=requests.ConnectionError("reset"), after_applying=True)

        run = run_now(single_node(user, "github.remove_labels", {"labels": ["triage"]}), issue_event(1))

        assert (step_of(run).conclusion, step_of(run).attempts) == (Conclusion.SUCCESS, 2)
        assert repository.issues[1].labels == ["bug"]

    def test_dry_run_records_and_removes_nothing(self, user, repository, run_now, github):
        repository.issue(1, labels=["bug"])

        run = run_now(single_node(user, "github.remove_labels", {"labels": ["bug"]}), issue_event(1), dry_run=True)

        assert step_of(run).output["dry_run"] is True
        assert repository.issues[1].labels == ["bug"] and github.requests("DELETE") == []

    def test_a_repository_the_owner_does_not_reach_is_refused(self, user, repository, run_now, github):
        github.repository(HIDDEN).issue(1, labels=["bug"])

        run = run_now(
            single_node(user, "github.remove_labels", {"repository": HIDDEN, "labels": ["bug"]}), issue_event(1)
        )

        assert step_of(run).conclusion == Conclusion.FAILURE
        assert github.requests() == [] and github.repository(HIDDEN).issues[1].labels == ["bug"]

    def test_a_label_name_cannot_reach_another_endpoint(self, user, repository, run_now, github):
        repository.issue(1, labels=["a/b"])

        run = run_now(single_node(user, "github.remove_labels", {"labels": ["a/b", "../../x"]}), issue_event(1))

        assert step_of(run).output["removed"] == ["a/b"]
        assert {request.path for request in github.requests("DELETE")} == {
            f"{ISSUES}/1/labels/a%2Fb",
            f"{ISSUES}/1/labels/..%2F..%2Fx",
        }
