"""Proposing a change as a pull request: github.create_branch, github.commit_files and
github.create_pull_request, run through the engine against the GitHub double's git objects."""

import base64
import re

import pytest
import requests

from tests.conftest import github_connection, load_fixture
from tests.github_double import GitHub, Repository
from workflows.models import Conclusion, WorkflowRun
from workflows.nodes import NODE_TYPES, StepContext, StepFailed
from workflows.services import run_start, workflow_create

INSTALLATION = 5150
REPO = "Codertocat/Hello-World"
HIDDEN = "Codertocat/secret"  # covered by the installation, not seen by the workflow's owner
BRANCH = "aiworkflow/fix-readme"
REF = f"/repos/{REPO}/git/ref/heads/aiworkflow/fix-readme"
REF_UPDATE = f"/repos/{REPO}/git/refs/heads/aiworkflow/fix-readme"
LOGO = b"\x89PNG\r\n\x1a\n\x00\xff binary"
FILES = [
    {"path": "README.md", "content": "Hello, world\n"},
    {"path": "assets/logo.png", "content_base64": base64.b64encode(LOGO).decode()},
    {"path": "docs/old.md", "delete": True},
]
BRANCH_STEP = {"id": "branch", "type": "github.create_branch", "params": {"branch": BRANCH}}
COMMIT_STEP = {
    "id": "commit",
    "type": "github.commit_files",
    "params": {"branch": BRANCH, "message": "Fix the README", "files": FILES},
}
PULL_REQUEST_STEP = {
    "id": "pr",
    "type": "github.create_pull_request",
    "params": {"title": "Fix the README", "body": "Proposed by a workflow.", "head": BRANCH},
}


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.WORKFLOW_STEP_RETRY_BASE_SECONDS = 0


@pytest.fixture
def repository(github: GitHub, user) -> Repository:
    """REPO on the run's installation, its default branch `master` holding three files; HIDDEN
    on the same installation, where a step that crossed the tenant would succeed."""
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    repository = github.repository(REPO, id=186853002)
    hidden = github.repository(HIDDEN, id=777)
    github.installation(INSTALLATION, repositories=[repository, hidden])
    for each in (repository, hidden):
        each.push("master", {"README.md": "Hello\n", "docs/old.md": "old\n", "src/app.py": "print(1)\n"})
    return repository


def trigger(head_sha: str, *, delivery_id: str = "d-1") -> dict:
    payload = load_fixture("pull_request__opened")
    payload["installation"] = {"id": INSTALLATION}
    payload["pull_request"]["head"]["sha"] = head_sha
    return {
        "event": "pull_request",
        "action": "opened",
        "delivery_id": delivery_id,
        "installation_id": INSTALLATION,
        "repository": REPO,
        "sender": payload["sender"]["login"],
        "payload": payload,
    }


def chain(user, *nodes: dict):
    edges = [{"from": first["id"], "to": second["id"]} for first, second in zip(nodes, nodes[1:], strict=False)]
    return workflow_create(owner=user, name="Propose a fix", definition={"nodes": list(nodes), "edges": edges})


def with_params(node: dict, **params) -> dict:
    return {**node, "params": {**node["params"], **params}}


@pytest.fixture
def run_now(django_capture_on_commit_callbacks, repository):
    """Start a run on a pull request whose head is master's, and execute it (eagerly)."""

    def run(workflow, *, delivery_id: str = "d-1", **kwargs) -> WorkflowRun:
        with django_capture_on_commit_callbacks(execute=True):
            created = run_start(
                workflow=workflow, trigger=trigger(repository.refs["master"], delivery_id=delivery_id), **kwargs
            )
        created.refresh_from_db()
        return created

    return run


def steps_of(run: WorkflowRun) -> dict:
    return {step.node_id: step for step in run.steps.all()}


def writes(github: GitHub) -> list[str]:
    return [f"{request.method} {request.path}" for request in github.requests() if request.method != "GET"]


def git_requests(github: GitHub) -> list[str]:
    return [request.path for request in github.requests() if "/repos/" in request.path]


def test_a_branch_a_commit_of_three_files_and_a_pull_request(user, github, repository, run_now):
    base = repository.refs["master"]

    run = run_now(chain(user, BRANCH_STEP, COMMIT_STEP, PULL_REQUEST_STEP))

    assert run.conclusion == Conclusion.SUCCESS, {step.node_id: step.error for step in run.steps.all()}
    steps = steps_of(run)
    assert steps["branch"].output == {"branch": BRANCH, "sha": base, "created": True}
    head = repository.refs[BRANCH]
    assert steps["commit"].output == {
        "sha": head,
        "html_url": f"https://github.com/{REPO}/commit/{head}",
        "branch": BRANCH,
        "files": ["README.md", "assets/logo.png", "docs/old.md"],
        "created": True,
    }
    assert repository.files_at(BRANCH) == {
        "README.md": b"Hello, world\n",  # a text file keeps its final newline through the template
        "assets/logo.png": LOGO,
        "src/app.py": b"print(1)\n",
    }
    commit = repository.git_commits[head]
    assert commit["parents"] == [base]
    assert commit["message"] == f"Fix the README\n\nAiworkflow-Step: {run.pk}:commit"
    assert repository.refs["master"] == base, "the default branch is untouched"
    assert github.count("POST", f"/repos/{REPO}/git/blobs") == 1, "only the binary file needs a blob of its own"
    assert [request.json()["force"] for request in github.requests("PATCH", REF_UPDATE)] == [False]
    [pull_request] = repository.issues.values()
    assert steps["pr"].output == {
        "number": pull_request.number,
        "html_url": f"https://github.com/{REPO}/pull/{pull_request.number}",
        "created": True,
    }
    body = pull_request.body
    assert (body["title"], body["body"], body["draft"]) == ("Fix the README", "Proposed by a workflow.", False)
    assert (body["head"]["ref"], body["head"]["sha"], body["base"]["ref"]) == (BRANCH, head, "master")


@pytest.mark.parametrize("start", ["develop", "sha"])
def test_a_branch_starts_where_from_says(user, github, repository, run_now, start):
    develop = repository.push("develop", {"feature.txt": "wip"})
    start_from = develop if start == "sha" else "develop"

    run = run_now(chain(user, with_params(BRANCH_STEP, **{"from": start_from})))

    assert run.conclusion == Conclusion.SUCCESS
    assert repository.refs[BRANCH] == develop


def test_a_branch_from_nowhere_fails_naming_it(user, github, repository, run_now):
    run = run_now(chain(user, with_params(BRANCH_STEP, **{"from": "no-such-branch"})))

    step = steps_of(run)["branch"]
    assert step.conclusion == Conclusion.FAILURE
    assert "no branch 'no-such-branch'" in step.error
    assert BRANCH not in repository.refs


def test_a_branch_step_retried_after_github_made_the_branch_succeeds_once(user, github, repository, run_now):
    lost = requests.ConnectionError("connection reset after GitHub created the branch")
    github.fail("POST", f"/repos/{REPO}/git/refs", error=lost, after_applying=True)

    run = run_now(chain(user, BRANCH_STEP))

    step = steps_of(run)["branch"]
    assert (step.conclusion, step.attempts) == (Conclusion.SUCCESS, 2)
    assert step.output == {"branch": BRANCH, "sha": repository.refs["master"], "created": False}
    assert github.count("POST", f"/repos/{REPO}/git/refs") == 1


def test_an_existing_branch_at_another_commit_is_left_alone(user, github, repository, run_now):
    theirs = repository.push(BRANCH, {"theirs.txt": "someone's work"})

    run = run_now(chain(user, BRANCH_STEP))

    step = steps_of(run)["branch"]
    assert step.conclusion == Conclusion.FAILURE
    assert f"Branch '{BRANCH}'" in step.error and "already exists" in step.error
    assert repository.refs[BRANCH] == theirs
    assert writes(github) == [f"POST /app/installations/{INSTALLATION}/access_tokens"]


def test_a_branch_moved_meanwhile_is_never_pushed_over(user, github, repository, run_now):
    repository.refs[BRANCH] = repository.refs["master"]
    pushed: list[str] = []
    github.meanwhile(
        "PATCH", REF_UPDATE, lambda: pushed.append(repository.push(BRANCH, {"theirs.txt": "pushed meanwhile"}))
    )

    run = run_now(chain(user, COMMIT_STEP))

    step = steps_of(run)["commit"]
    assert (step.conclusion, step.attempts) == (Conclusion.FAILURE, 1)
    assert f"Branch '{BRANCH}' of {REPO} moved to {pushed[0][:12]}" in step.error
    assert repository.refs[BRANCH] == pushed[0], "their push stays the head"
    assert repository.files_at(BRANCH)["README.md"] == b"Hello\n"
    assert [request.json()["force"] for request in github.requests("PATCH", REF_UPDATE)] == [False]


def test_a_commit_step_retried_after_github_moved_the_branch_commits_once(user, github, repository, run_now):
    base = repository.refs["master"]
    repository.refs[BRANCH] = base
    lost = requests.ConnectionError("connection reset after GitHub moved the branch")
    github.fail("PATCH", REF_UPDATE, error=lost, after_applying=True)

    run = run_now(chain(user, COMMIT_STEP))

    step = steps_of(run)["commit"]
    assert (step.conclusion, step.attempts) == (Conclusion.SUCCESS, 2)
    head = repository.refs[BRANCH]
    assert step.output["sha"] == head and step.output["created"] is False
    assert repository.git_commits[head]["parents"] == [base], "one commit on top of the base, not two"
    assert github.count("POST", f"/repos/{REPO}/git/commits") == 1


def test_the_pull_request_step_run_twice_edits_one_pull_request(user, github, repository, run_now):
    repository.push(BRANCH, {"README.md": "Hello, world\n"})
    titled = with_params(PULL_REQUEST_STEP, title="Fix for {{ trigger.delivery_id }}")
    workflow = chain(user, titled)

    first = run_now(workflow, delivery_id="d-1")
    second = run_now(workflow, delivery_id="d-2")

    [pull_request] = repository.issues.values()
    assert steps_of(first)["pr"].output["created"] is True
    assert steps_of(second)["pr"].output == {
        "number": pull_request.number,
        "html_url": f"https://github.com/{REPO}/pull/{pull_request.number}",
        "created": False,
    }
    assert pull_request.body["title"] == "Fix for d-2"
    assert github.count("POST", f"/repos/{REPO}/pulls") == 1


def test_a_pull_request_step_retried_after_github_opened_it_opens_one(user, github, repository, run_now):
    repository.push(BRANCH, {"README.md": "Hello, world\n"})
    lost = requests.ConnectionError("connection reset after GitHub opened the pull request")
    github.fail("POST", f"/repos/{REPO}/pulls", error=lost, after_applying=True)

    run = run_now(chain(user, with_params(PULL_REQUEST_STEP, draft=True)))

    step = steps_of(run)["pr"]
    assert (step.conclusion, step.attempts, step.output["created"]) == (Conclusion.SUCCESS, 2, False)
    [pull_request] = repository.issues.values()
    assert pull_request.body["draft"] is True


def test_a_pull_request_with_nothing_to_merge_fails_with_githubs_reason(user, github, repository, run_now):
    repository.refs[BRANCH] = repository.refs["master"]

    run = run_now(chain(user, PULL_REQUEST_STEP))

    step = steps_of(run)["pr"]
    assert step.conclusion == Conclusion.FAILURE
    assert "No commits between master and" in step.error
    assert repository.issues == {}


def test_the_default_branch_is_written_only_when_allowed(user, github, repository, run_now):
    base = repository.refs["master"]
    refused = run_now(chain(user, with_params(COMMIT_STEP, branch="master")), delivery_id="d-1")

    step = steps_of(refused)["commit"]
    assert step.conclusion == Conclusion.FAILURE
    assert "default branch" in step.error and "allow_default_branch" in step.error
    assert repository.refs["master"] == base
    assert not [write for write in writes(github) if "/git/" in write]

    allowed = run_now(
        chain(user, with_params(COMMIT_STEP, branch="master", allow_default_branch=True)), delivery_id="d-2"
    )

    assert allowed.conclusion == Conclusion.SUCCESS
    assert repository.git_commits[repository.refs["master"]]["parents"] == [base]


@pytest.mark.parametrize(
    "name",
    [
        "-rf",
        "a..b",
        "refs/heads/main",
        "HEAD",
        "topic.lock",
        "topic/.hidden",
        "with space",
        "tilde~1",
        "caret^",
        "colon:x",
        "what?",
        "star*",
        "bracket[",
        "back\\slash",
        "/absolute",
        "double//slash",
        "trailing/",
        "trailing.",
        "reflog@{1}",
        "new\nline",
        "x" * 256,
    ],
)
def test_a_hostile_branch_name_is_refused_before_any_request(user, github, repository, run_now, name):
    github.forget_requests()
    nodes = [
        with_params(BRANCH_STEP, branch=name),
        with_params(COMMIT_STEP, branch=name),
        with_params(PULL_REQUEST_STEP, head=name),
    ]
    # Independent steps: each meets the name on its own.
    workflow = workflow_create(owner=user, name="Hostile", definition={"nodes": nodes, "edges": []})

    run = run_now(workflow)

    named = {"branch": "`branch`", "commit": "`branch`", "pr": "`head`"}
    for step in run.steps.all():
        assert step.conclusion == Conclusion.FAILURE
        assert step.error.startswith(f"{named[step.node_id]} {name[:100]!r} ")
    assert git_requests(github) == []


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "/etc/passwd", "docs/../../x", ".git/config", "docs/.GIT/hooks", "a//b", "./a", "dir/", "a\rb"],
)
def test_a_hostile_file_path_is_refused_before_any_request(user, github, repository, run_now, path):
    github.forget_requests()

    run = run_now(chain(user, with_params(COMMIT_STEP, files=[{"path": path, "content": "x"}])))

    step = steps_of(run)["commit"]
    assert step.conclusion == Conclusion.FAILURE
    assert "`files[].path`" in step.error
    assert git_requests(github) == []


def context() -> StepContext:
    return StepContext(
        run_id="r-1",
        node_id="commit",
        owner_id=1,
        installation_id=INSTALLATION,
        repository=REPO,
        trigger={},
        dry_run=False,
    )


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([{"path": "a", "content": "x", "delete": True}], "exactly one of"),
        ([{"path": "a"}], "exactly one of"),
        ([{"path": "a", "content_base64": "not base64!"}], "is not base64"),
        ([{"path": "a", "content": "x"}, {"path": "a", "delete": True}], "more than once"),
        ([{"path": f"f{number}", "content": "x"} for number in range(101)], "1 to 100 files"),
        ([{"path": name, "content": "x" * 3_000_000} for name in ("a", "b")], "more than 5242880 bytes"),
    ],
)
def test_bad_files_fail_clearly(files, message):
    params = {"branch": BRANCH, "message": "m", "files": files}

    with pytest.raises(StepFailed, match=message):
        NODE_TYPES["github.commit_files"].execute(params, context())


def test_a_nul_byte_in_a_rendered_branch_or_path_is_refused(github):
    # A NUL cannot be saved in a definition, but a template could render one from a step's output.
    with pytest.raises(StepFailed, match=re.escape("`branch` 'a\\x00b' may not")):
        NODE_TYPES["github.create_branch"].execute({"branch": "a\x00b"}, context())
    with pytest.raises(StepFailed, match=re.escape("`files[].path` 'a\\x00b' may not")):
        NODE_TYPES["github.commit_files"].execute(
            {"branch": BRANCH, "message": "m", "files": [{"path": "a\x00b", "content": "x"}]}, context()
        )
    assert github.requests() == []


def test_an_empty_commit_message_or_pull_request_title_fails_clearly():
    with pytest.raises(StepFailed, match="`message` must be non-empty"):
        NODE_TYPES["github.commit_files"].execute({"branch": BRANCH, "message": "  ", "files": FILES}, context())
    with pytest.raises(StepFailed, match="`title` must be non-empty text of at most 256"):
        NODE_TYPES["github.create_pull_request"].execute({"title": "t" * 257, "head": BRANCH}, context())


def test_a_dry_run_records_each_write_and_makes_none(user, github, repository, run_now):
    base = repository.refs["master"]

    run = run_now(chain(user, BRANCH_STEP, COMMIT_STEP, PULL_REQUEST_STEP), dry_run=True)

    assert run.conclusion == Conclusion.SUCCESS
    steps = steps_of(run)
    for node in (BRANCH_STEP, COMMIT_STEP, PULL_REQUEST_STEP):
        assert steps[node["id"]].output == {"dry_run": True, "would": {"type": node["type"], "params": node["params"]}}
    assert writes(github) == []
    assert repository.refs == {"master": base} and repository.issues == {}


@pytest.mark.parametrize(
    "node",
    [
        with_params(BRANCH_STEP, repository=HIDDEN),
        with_params(COMMIT_STEP, repository=HIDDEN),
        with_params(PULL_REQUEST_STEP, repository=HIDDEN),
    ],
)
def test_a_repository_the_owner_does_not_reach_is_refused_before_any_request(user, github, repository, run_now, node):
    hidden = github.repository(HIDDEN)
    hidden.push(BRANCH, {"README.md": "would be proposed"})
    github.forget_requests()

    run = run_now(chain(user, node))

    step = steps_of(run)[node["id"]]
    assert step.conclusion == Conclusion.FAILURE
    assert f"{HIDDEN} is not among the repositories the workflow's owner reaches" in step.error
    assert github.requests() == []
    assert list(hidden.refs) == ["master", BRANCH] and hidden.issues == {}
