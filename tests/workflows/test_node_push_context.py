"""github.get_push_context: a push's commits with their files and clipped patches; past the 20
commits a push payload lists, one comparison; a created or deleted ref compares nothing."""

# ruff: noqa: F811  (pytest fixtures imported from node_runs are named as test arguments)

import hashlib

import pytest

from github_app.api.pushes import MAX_PATCH_CHARS, MAX_PATCHES_CHARS
from github_app.models import RepositoryAccess
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

pytestmark = pytest.mark.usefixtures("tenant")
ZEROS = "0" * 40
BEFORE = "a" * 40
AFTER = "b" * 40


def sha(number: int) -> str:
    return hashlib.sha1(str(number).encode()).hexdigest()


def listed_commit(number: int) -> dict:
    """A commit as the push payload lists it."""
    return {
        "id": sha(number),
        "message": f"Change {number}",
        "timestamp": "2019-05-15T15:20:30-05:00",
        "url": f"https://github.com/{REPO}/commit/{sha(number)}",
        "author": {"name": "Codertocat", "email": "c@example.com", "username": "Codertocat"},
        "distinct": True,
        "added": [],
        "removed": [],
        "modified": ["README.md"],
    }


def push(commits: int, *, size: int | None = None, before: str = BEFORE, after: str = AFTER) -> dict:
    payload = {
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "created": before == ZEROS,
        "deleted": after == ZEROS,
        "forced": False,
        "compare": f"https://github.com/{REPO}/compare/{before[:12]}...{after[:12]}",
        "commits": [listed_commit(number) for number in range(min(commits, 20))],
        "size": commits if size is None else size,
    }
    return event("push", payload)


def push_context(user, run_now, trigger):
    run = run_now(single_node(user, "github.get_push_context", {}), trigger)
    return run.steps.get(node_id="step")


def test_each_listed_commit_comes_with_its_files_and_patches(user, repository, run_now, github):
    for number in range(2):
        repository.commit(sha(number), files=[changed_file(f"src/{number}.py", f"@@ -1 +1 @@\n-{number}\n+x")])

    step = push_context(user, run_now, push(2))

    output = step.output
    assert step.conclusion == Conclusion.SUCCESS
    assert [(commit["sha"], commit["message"]) for commit in output["commits"]] == [
        (sha(0), "Change 0"),
        (sha(1), "Change 1"),
    ]
    assert output["commits"][1]["files"] == [
        {
            "filename": "src/1.py",
            "previous_filename": None,
            "status": "modified",
            "additions": 2,
            "deletions": 2,
            "patch": "@@ -1 +1 @@\n-1\n+x",
            "patch_truncated": False,
        }
    ]
    assert (output["total_commits"], output["commits_truncated"], output["patches_truncated"]) == (2, False, False)
    assert github.count("GET", f"/repos/{REPO}/compare/{BEFORE}...{AFTER}") == 0


def test_patches_are_clipped_each_and_in_total(user, repository, run_now):
    big = "@@ -1 +1 @@\n" + "+" * (MAX_PATCH_CHARS * 2)
    files = [changed_file(f"f{number}.txt", big) for number in range(MAX_PATCHES_CHARS // MAX_PATCH_CHARS + 2)]
    repository.commit(sha(0), files=files)

    output = push_context(user, run_now, push(1)).output

    patches = [item["patch"] for item in output["commits"][0]["files"]]
    assert [len(patch or "") for patch in patches] == [MAX_PATCH_CHARS] * 10 + [0, 0]
    assert all(item["patch_truncated"] for item in output["commits"][0]["files"])
    assert output["patches_truncated"] is True


def test_past_twenty_commits_one_comparison_tells_the_push(user, repository, run_now, github):
    repository.compare(BEFORE, AFTER, files=[changed_file("README.md")], commits=300)

    output = push_context(user, run_now, push(300)).output

    assert len(output["commits"]) == 250 and output["total_commits"] == 300
    assert output["commits_truncated"] is True
    assert output["commits"][0]["message"] == "Commit 0" and output["commits"][0]["files"] is None
    assert [item["filename"] for item in output["files"]] == ["README.md"]
    assert github.requests("GET", f"/repos/{REPO}/commits/{sha(0)}") == []


def test_a_comparison_within_its_limits_is_not_flagged(user, repository, run_now):
    repository.compare(BEFORE, AFTER, files=[changed_file("README.md")], commits=21)

    output = push_context(user, run_now, push(21)).output

    assert (len(output["commits"]), output["commits_truncated"], output["files_truncated"]) == (21, False, False)


def test_a_created_branch_is_read_commit_by_commit_never_compared_with_zeros(user, repository, run_now, github):
    for number in range(20):
        repository.commit(sha(number), files=[changed_file("README.md")])

    output = push_context(user, run_now, push(25, before=ZEROS)).output

    assert output["created"] is True and len(output["commits"]) == 20
    assert (output["total_commits"], output["commits_truncated"]) == (25, True)
    assert not any("/compare/" in request.path for request in github.requests())


def test_a_deleted_branch_has_nothing_to_read(user, repository, run_now, github):
    step = push_context(user, run_now, push(0, after=ZEROS))

    assert step.output["deleted"] is True and step.output["commits"] == []
    assert github.requests() == []


def test_an_event_that_is_no_push_fails_clearly(user, repository, run_now, github):
    step = push_context(user, run_now, event("issues", {"issue": {"number": 1}}))

    assert step.conclusion == Conclusion.FAILURE and "needs a push event" in step.error
    assert github.requests() == []


@pytest.mark.parametrize("field", ["before", "after", "commit"])
def test_a_forged_sha_never_reaches_a_url(user, repository, run_now, github, field):
    trigger = push(1)
    forged = "../../../orgs/victim"
    if field == "commit":
        trigger["payload"]["commits"][0]["id"] = forged
    else:
        trigger["payload"][field] = forged

    step = push_context(user, run_now, trigger)

    assert step.conclusion == Conclusion.FAILURE and "is not a commit SHA" in step.error
    assert github.requests() == []


def test_a_repository_the_owner_no_longer_reaches_is_refused(user, repository, run_now, github):
    repository.commit(sha(0), files=[changed_file("README.md")])
    RepositoryAccess.objects.filter(full_name=REPO).delete()

    step = push_context(user, run_now, push(1))

    assert step.conclusion == Conclusion.FAILURE and "not among the repositories" in step.error
    assert github.requests() == []
