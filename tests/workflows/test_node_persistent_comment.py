"""github.create_comment with `persistent`: one comment per workflow and node on a pull request
or issue, edited by each later run; without it, one comment per run."""

# ruff: noqa: F811  (pytest fixtures imported from node_runs are named as test arguments)

import requests

from github_app.api.writes import comment_marker
from tests.conftest import load_fixture
from tests.github_double import changed_file
from tests.workflows.node_runs import (  # noqa: F401  (fixtures)
    REPO,
    event,
    repository,
    run_now,
    single_node,
    step_retries_at_once,
    tenant,
)
from workflows.models import Conclusion

COMMENTS = f"/repos/{REPO}/issues/2/comments"


def pull_request_event() -> dict:
    return event("pull_request", load_fixture("pull_request__opened"), "opened")


def summary_workflow(user, *, persistent: bool = True, name: str = "Summary"):
    params = {"body": "Summary of {{ trigger.delivery_id or 'run' }}", "persistent": persistent}
    return single_node(user, "github.create_comment", params, name=name)


def test_two_runs_of_one_workflow_keep_one_comment_edited(user, tenant, repository, run_now, github):
    pull_request = repository.pull_request(2, files=[changed_file("README.md")])
    workflow = summary_workflow(user)

    first = run_now(workflow, pull_request_event())
    second = run_now(workflow, {**pull_request_event(), "delivery_id": "d-2"})

    [comment] = pull_request.comments
    assert comment["body"] == f"Summary of d-2\n\n{comment_marker(f'workflow:{workflow.pk}:step')}"
    assert first.steps.get().output["created"] is True
    assert second.steps.get().output == {"id": comment["id"], "html_url": comment["html_url"], "created": False}
    assert github.count("PATCH", f"/repos/{REPO}/issues/comments/{comment['id']}") == 1


def test_a_person_who_copies_the_marker_into_their_comment_does_not_capture_it(user, tenant, repository, run_now):
    pull_request = repository.pull_request(2)
    workflow = summary_workflow(user)
    copied = pull_request.comment(f"hijack {comment_marker(f'workflow:{workflow.pk}:step')}", login="mallory")

    run = run_now(workflow, pull_request_event())

    assert run.conclusion == Conclusion.SUCCESS
    assert copied["body"].startswith("hijack")
    assert [comment["user"]["type"] for comment in pull_request.comments] == ["User", "Bot"]


def test_two_workflows_keep_a_comment_each(user, tenant, repository, run_now):
    pull_request = repository.pull_request(2)

    for name in ("Summary", "Risks"):
        workflow = summary_workflow(user, name=name)
        run_now(workflow, pull_request_event())
        run_now(workflow, pull_request_event())

    assert len(pull_request.comments) == 2


def test_without_persistent_each_run_posts_its_own(user, tenant, repository, run_now):
    pull_request = repository.pull_request(2)
    workflow = summary_workflow(user, persistent=False)

    runs = [run_now(workflow, pull_request_event()) for _ in range(2)]

    assert [comment["body"].rsplit("\n", 1)[-1] for comment in pull_request.comments] == [
        comment_marker(f"{run.pk}:step") for run in runs
    ]


def test_a_persistent_comment_on_an_issue_survives_a_forced_retry(user, tenant, repository, run_now, github):
    issue = repository.issue(1)
    workflow = summary_workflow(user)
    github.fail(
        "POST", f"/repos/{REPO}/issues/1/comments", error=requests.ConnectionError("reset"), after_applying=True
    )
    issue_event = event("issues", load_fixture("issues__opened"), "opened")

    run = run_now(workflow, issue_event)
    run_now(workflow, issue_event)

    assert run.steps.get().attempts == 2
    assert len(issue.comments) == 1


def test_dry_run_records_and_posts_nothing(user, tenant, repository, run_now, github):
    pull_request = repository.pull_request(2)

    run = run_now(summary_workflow(user), pull_request_event(), dry_run=True)

    assert run.steps.get().output["would"]["params"]["persistent"] is True
    assert pull_request.comments == [] and github.requests() == []


def test_a_repository_the_owner_does_not_reach_is_refused(user, tenant, repository, run_now, github):
    params = {"body": "x", "persistent": True, "repository": "Codertocat/secret", "number": 2}

    run = run_now(single_node(user, "github.create_comment", params), pull_request_event())

    assert run.steps.get().conclusion == Conclusion.FAILURE and github.requests() == []
