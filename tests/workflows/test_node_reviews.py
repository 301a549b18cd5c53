"""`github.create_review`: a pull request review whose inline comments GitHub accepts, through the
engine, with GitHub played by the double (which refuses a comment outside the diff, as GitHub does)."""

import json

import pytest
import requests
from github import GithubException

from github_app.api.installation_client import installation_call
from github_app.api.reviews import ReviewComment, ReviewPlacement, review_body
from github_app.api.writes import _write, comment_marker
from tests.conftest import github_connection, load_fixture
from tests.github_app.test_diff_lines import THREE_HUNKS
from tests.github_double import GitHub, PullRequest, changed_file
from tests.workflows.test_engine import trigger
from workflows.models import Conclusion, WorkflowRun
from workflows.services import run_start, workflow_create

INSTALLATION = 5150
REPO = "Codertocat/Hello-World"
HIDDEN = "Codertocat/secret"
REVIEWS = f"/repos/{REPO}/pulls/2/reviews"
HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"  # the recorded pull request's head
# The first two hunks of the diff-lines tests' modified file.
LOAD_PY = THREE_HUNKS[: THREE_HUNKS.index("\n@@ -40")]
FILES = [
    changed_file("app/load.py", LOAD_PY),
    changed_file(
        "docs/usage.md",
        "@@ -3,3 +3,3 @@ Intro\n Install it with pip.\n-Run the old way.\n+Run the new way.\n Done.",
        status="renamed",
        previous_filename="docs/guide.md",
    ),
    changed_file("setup.cfg", "@@ -1,2 +0,0 @@\n-[flake8]\n-max-line-length = 120", status="removed"),
    changed_file("logo.png", None),
]
SUGGESTION = '```suggestion\n    logging.debug("loaded %s", path.name)\n```'


@pytest.fixture(autouse=True)
def engine_settings(settings):
    settings.WORKFLOW_STEP_RETRY_BASE_SECONDS = 0


@pytest.fixture
def connected(user):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})


def pull_request_to_review(github: GitHub) -> PullRequest:
    repository = github.repository(REPO, id=186853002)
    github.installation(INSTALLATION, repositories=[repository, github.repository(HIDDEN, id=777)])
    github.repository(HIDDEN).pull_request(2, files=FILES)
    return repository.pull_request(2, files=FILES)


@pytest.fixture
def run_review(user, connected, django_capture_on_commit_callbacks):
    """Run a workflow of one `github.create_review` step with `params`; returns the run."""

    def run(dry_run: bool = False, **params) -> WorkflowRun:
        definition = {"nodes": [{"id": "post", "type": "github.create_review", "params": params}], "edges": []}
        workflow = workflow_create(owner=user, name="Review", definition=definition)
        with django_capture_on_commit_callbacks(execute=True):
            created = run_start(workflow=workflow, trigger=trigger(), dry_run=dry_run)
        created.refresh_from_db()
        return created

    return run


COMMENTS = [
    {"path": "app/load.py", "line": 27, "body": "Log the name, not the whole path.\n\n" + SUGGESTION},
    {"path": "app/load.py", "line": 26, "side": "LEFT", "body": "Why was this check dropped?"},
    {"path": "app/load.py", "line": 28, "start_line": 25, "body": "This whole block could be one line."},
    {"path": "docs/guide.md", "line": 4, "body": "Say which command."},  # the renamed file's old path
    {"path": "app/load.py", "line": 12, "body": "Unrelated: this name is misleading."},  # between hunks
    {"path": "setup.cfg", "line": 1, "body": "Keep the flake8 settings somewhere."},  # deleted: no new side
    {"path": "logo.png", "line": 1, "body": "A smaller logo?"},  # binary: no patch
]


def test_in_diff_comments_are_inline_and_the_others_move_into_the_body(github, run_review):
    pull_request = pull_request_to_review(github)

    run = run_review(event="REQUEST_CHANGES", body="A few things to fix.", comments=COMMENTS)

    step = run.steps.get(node_id="post")
    assert run.conclusion == Conclusion.SUCCESS, step.error
    [review] = pull_request.reviews
    assert review["state"] == "CHANGES_REQUESTED" and review["commit_id"] == HEAD_SHA
    placed = [
        (comment["path"], comment["line"], comment["side"], comment.get("start_line"))
        for comment in pull_request.review_comments
    ]
    assert placed == [
        ("app/load.py", 27, "RIGHT", None),
        ("app/load.py", 26, "LEFT", None),
        ("app/load.py", 28, "RIGHT", 25),
        ("docs/usage.md", 4, "RIGHT", None),
    ]
    assert pull_request.review_comments[0]["body"].endswith(SUGGESTION)
    body = review["body"]
    assert body.startswith("A few things to fix.")
    assert "**Comments on lines outside the diff (3):**" in body
    for location, text in [
        ("app/load.py:12", "Unrelated: this name is misleading."),
        ("setup.cfg:1", "Keep the flake8 settings somewhere."),
        ("logo.png:1", "A smaller logo?"),
    ]:
        assert f"**`{location}`**\n\n{text}" in body
    assert body.endswith(comment_marker(f"{run.pk}:post:0"))
    assert step.output == {
        "review_ids": [review["id"]],
        "html_url": review["html_url"],
        "inline_comments": 4,
        "moved_comments": 3,
        "omitted_comments": 0,
        "reviews_created": 1,
    }


def test_github_refuses_a_review_with_a_comment_outside_the_diff(github, db):
    """What the placement prevents: the same comment sent inline fails the whole review."""
    pull_request = pull_request_to_review(github)
    outside = {"path": "app/load.py", "line": 12, "side": "RIGHT", "body": "Unrelated."}

    with pytest.raises(GithubException) as refused:
        installation_call(
            INSTALLATION,
            lambda client: _write(
                client, INSTALLATION, "POST", REVIEWS, {"event": "COMMENT", "body": "x", "comments": [outside]}
            ),
        )

    assert refused.value.status == 422
    assert refused.value.data["message"] == "Unprocessable Entity"
    assert "pull_request_review_thread.line" in refused.value.data["errors"][0]
    assert pull_request.reviews == []


def test_sixty_comments_are_posted_as_two_reviews(github, run_review):
    pull_request = pull_request_to_review(github)
    comments = [{"path": "app/load.py", "line": 27, "body": f"Note {number}"} for number in range(60)]

    run = run_review(event="APPROVE", body="Fine overall.", comments=comments)

    first, second = pull_request.reviews
    assert (first["state"], second["state"]) == ("APPROVED", "COMMENTED")
    assert second["body"] == f"(continued 2/2)\n\n{comment_marker(f'{run.pk}:post:1')}"
    per_review = [
        sum(comment["pull_request_review_id"] == review["id"] for comment in pull_request.review_comments)
        for review in (first, second)
    ]
    assert per_review == [50, 10]
    [request] = [request for request in github.requests("POST", REVIEWS) if request.json()["event"] == "APPROVE"]
    assert len(request.json()["comments"]) == 50
    assert run.steps.get(node_id="post").output["review_ids"] == [first["id"], second["id"]]


def test_a_retry_after_github_stored_the_review_posts_no_second_one(github, run_review):
    pull_request = pull_request_to_review(github)
    reset = requests.ConnectionError("connection reset after GitHub stored the review")
    github.fail("POST", REVIEWS, error=reset, after_applying=True)

    run = run_review(body="Looks fine.", comments=COMMENTS[:1])

    step = run.steps.get(node_id="post")
    assert (run.conclusion, step.attempts) == (Conclusion.SUCCESS, 2)
    assert len(pull_request.reviews) == 1 and len(pull_request.review_comments) == 1
    assert github.count("POST", REVIEWS) == 1, "the retry found its marker and posted nothing"
    assert step.output["reviews_created"] == 0 and step.output["review_ids"] == [pull_request.reviews[0]["id"]]


def test_a_batched_review_retried_after_its_first_batch_posts_only_the_rest(github, run_review):
    pull_request = pull_request_to_review(github)
    github.fail("POST", REVIEWS, error=requests.ConnectionError("reset"), after_applying=True)
    comments = [{"path": "app/load.py", "line": 27, "body": f"Note {number}"} for number in range(60)]

    run = run_review(comments=json.dumps(comments), body="Notes.")

    assert run.conclusion == Conclusion.SUCCESS
    assert [review["body"].rsplit("\n\n", 1)[-1] for review in pull_request.reviews] == [
        comment_marker(f"{run.pk}:post:0"),
        comment_marker(f"{run.pk}:post:1"),
    ]
    assert len(pull_request.review_comments) == 60


def test_comments_given_as_a_template_rendering_json(github, run_review):
    pull_request = pull_request_to_review(github)
    # `trigger.payload` stands in for an earlier step's output: a list that only a template can pass.
    listed = '{{ [{"path": "app/load.py", "line": 27, "body": trigger.payload.pull_request.title}]|tojson }}'

    run = run_review(comments=listed)

    assert run.conclusion == Conclusion.SUCCESS, run.steps.get(node_id="post").error
    [comment] = pull_request.review_comments
    assert comment["body"] == load_fixture("pull_request__opened")["pull_request"]["title"]


def test_dry_run_records_the_review_and_writes_nothing(github, run_review):
    pull_request = pull_request_to_review(github)

    run = run_review(dry_run=True, body="Would say", comments=COMMENTS[:1])

    assert run.conclusion == Conclusion.SUCCESS
    assert github.requests("POST") == [] and pull_request.reviews == []
    output = run.steps.get(node_id="post").output
    assert output == {
        "dry_run": True,
        "would": {"type": "github.create_review", "params": {"body": "Would say", "comments": COMMENTS[:1]}},
    }


def test_a_repository_the_owner_does_not_reach_is_refused_before_any_request(github, run_review):
    pull_request_to_review(github)
    hidden = github.repository(HIDDEN).issues[2]

    run = run_review(repository=HIDDEN, body="Hello", comments=COMMENTS[:1])

    step = run.steps.get(node_id="post")
    assert step.conclusion == Conclusion.FAILURE
    assert f"{HIDDEN} is not among the repositories" in step.error
    assert github.requests() == [] and hidden.reviews == []


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"comments": "not json"}, "`comments` is a string but not JSON"),
        ({"comments": '[{"path": "a.py", "body": "no line"}]'}, "`comments[0]`: 'line' is a required property"),
        ({"comments": [{"path": "../etc/passwd", "line": 1, "body": "x"}]}, "`comments[0].path` '../etc/passwd'"),
        ({"comments": '[{"path": "a.py", "line": 1, "body": "x", "side": "MIDDLE"}]'}, "`comments[0].side`"),
        ({"event": "MERGE", "body": "x"}, "`event` 'MERGE' is not one of COMMENT, REQUEST_CHANGES, APPROVE"),
    ],
)
def test_bad_input_fails_the_step_clearly(github, run_review, params, error):
    pull_request = pull_request_to_review(github)

    run = run_review(**params)

    step = run.steps.get(node_id="post")
    assert (step.conclusion, step.attempts) == (Conclusion.FAILURE, 1)
    assert error in step.error
    assert pull_request.reviews == [] and github.requests("POST") == []


def test_a_body_too_long_for_github_keeps_the_marker_and_says_what_was_left_out():
    moved = [ReviewComment(path="a.py", line=number, body="x" * 10_000) for number in range(1, 11)]
    placement = ReviewPlacement(inline=[], moved=moved, omitted=3)

    body = review_body(body="Summary", placement=placement, marker=comment_marker("run:node:0"))

    assert len(body) <= 65536
    assert "…and 4 more, left out" in body and body.count("**`a.py:") == 6
    assert "3 more inline comments were not posted: a review step posts at most 500." in body
    assert body.endswith(comment_marker("run:node:0"))


# The README's example: an AI review with inline comments and a check run.
REVIEW_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "verdict": {"enum": ["COMMENT", "REQUEST_CHANGES", "APPROVE"]},
        "comments": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "line": {"type": "integer"},
                    "side": {"enum": ["LEFT", "RIGHT"]},
                    "body": {"type": "string"},
                },
                "required": ["path", "line", "side", "body"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["summary", "verdict", "comments"],
    "additionalProperties": False,
}
AI_REVIEW = {
    "nodes": [
        {"id": "started", "type": "github.create_check_run", "params": {"name": "AI review", "status": "in_progress"}},
        {"id": "pr", "type": "github.get_pull_request", "params": {}},
        {
            "id": "review",
            "type": "ai.prompt",
            "params": {
                "system": "You review pull requests. Comment only on lines of the diff.",
                "prompt": "Review this pull request.\n\n{{ nodes.pr.diff }}",
                "json_schema": REVIEW_SCHEMA,
            },
        },
        {
            "id": "post",
            "type": "github.create_review",
            "params": {
                "event": "{{ nodes.review.json.verdict }}",
                "body": "{{ nodes.review.json.summary }}",
                "comments": "{{ nodes.review.json.comments|tojson }}",
            },
        },
        {
            "id": "finished",
            "type": "github.create_check_run",
            "params": {
                "name": "AI review",
                "conclusion": "{{ 'failure' if nodes.review.json.verdict == 'REQUEST_CHANGES' else 'success' }}",
                # From the answer, not from the review step's output: a dry run records that step.
                "output": {
                    "title": "{{ nodes.review.json.comments|length }} review comments",
                    "summary": "{{ nodes.review.json.summary }}",
                },
            },
        },
    ],
    "edges": [
        {"from": "started", "to": "pr"},
        {"from": "pr", "to": "review"},
        {"from": "review", "to": "post"},
        {"from": "post", "to": "finished"},
    ],
}


def test_the_ai_review_example_posts_inline_comments_and_completes_its_check_run(
    github, llm, user, connected, settings, django_capture_on_commit_callbacks
):
    settings.AI_API_KEY, settings.AI_MODEL = "sk-test", "gpt-test"
    pull_request = pull_request_to_review(github)
    answer = {
        "summary": "One bug, one nit.",
        "verdict": "REQUEST_CHANGES",
        "comments": [
            {"path": "app/load.py", "line": 28, "side": "RIGHT", "body": "`data or {}` hides a missing file <here>."},
            {"path": "app/load.py", "line": 90, "side": "RIGHT", "body": "A line the diff does not show."},
        ],
    }
    llm.answers((200, json.dumps(answer)))
    workflow = workflow_create(owner=user, name="AI review", definition=AI_REVIEW)

    with django_capture_on_commit_callbacks(execute=True):
        run = run_start(workflow=workflow, trigger=trigger())
    run.refresh_from_db()

    errors = {step.node_id: step.error for step in run.steps.all() if step.error}
    assert run.conclusion == Conclusion.SUCCESS, errors
    [review] = pull_request.reviews
    assert review["state"] == "CHANGES_REQUESTED" and "app/load.py:90" in review["body"]
    [inline] = pull_request.review_comments
    assert (inline["line"], inline["body"]) == (28, "`data or {}` hides a missing file <here>.")
    [check_run] = github.repository(REPO).check_runs
    assert (check_run["status"], check_run["conclusion"]) == ("completed", "failure")
    assert (check_run["output"]["title"], check_run["output"]["summary"]) == ("2 review comments", "One bug, one nit.")
