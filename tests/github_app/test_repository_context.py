"""Pull-request and commit context, file content, compare and the write helpers, against the
GitHub double."""

import time

import pytest
from github import GithubException

from github_app.api.reads import (
    ConditionalReads,
    commit_context,
    compare_changed_files,
    file_content,
    pull_request_context,
)
from github_app.api.writes import comment_marker, comment_upsert, labels_add
from github_app.errors import FileNotAFile
from tests.github_double import changed_file, source_files

INSTALLATION = 777
REPO = "Codertocat/Hello-World"
NUMBER = 2


@pytest.fixture
def repository(db, github):
    repository = github.repository(REPO, id=186853002)
    github.installation(INSTALLATION, repositories=[repository])
    return repository


def pull_request_with(repository, files: list[dict]):
    pull_request = repository.pull_request(NUMBER, files=files)
    pull_request.comment("Looks good")
    pull_request.review_comment("nit", path="README.md")
    return pull_request


class TestPullRequestContext:
    def test_everything_a_review_needs(self, repository):
        pull_request_with(repository, source_files(1))

        context = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER)

        assert context["pull_request"]["number"] == NUMBER
        assert context["diff"].startswith("diff --git") and context["diff_truncated"] is False
        assert [item["filename"] for item in context["files"]] == ["src/file_0.py"]
        assert context["issue_comments"][0]["body"] == "Looks good"
        assert context["review_comments"][0]["path"] == "README.md"
        assert context["repository"]["full_name"] == REPO

    def test_250_changed_files_are_read_over_three_pages(self, github, repository):
        pull_request_with(repository, source_files(250))

        context = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER)

        assert len(context["files"]) == 250 and context["files_truncated"] is False
        assert github.count("GET", f"/repos/{REPO}/pulls/{NUMBER}/files") == 3

    def test_a_diff_too_large_for_github_is_built_from_the_patches(self, repository):
        files = source_files(301)
        files[0] = {**files[0], "status": "added"}
        files[1] = {**files[1], "status": "renamed", "previous_filename": "src/old_name.py"}
        files[2] = {key: value for key, value in files[2].items() if key != "patch"}  # binary
        pull_request_with(repository, files)

        context = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER)

        assert context["diff_truncated"] is True
        diff = context["diff"]
        assert diff.count("diff --git") == 301
        assert "--- /dev/null\n+++ b/src/file_0.py\n@@ -1 +1 @@\n-old 0\n+new 0" in diff
        assert "diff --git a/src/old_name.py b/src/file_1.py" in diff
        assert "Binary or too large to show: src/file_2.py" in diff

    def test_a_warm_reread_in_the_same_run_is_conditional_and_costs_304s(self, github, repository):
        pull_request_with(repository, source_files(1))
        reads = ConditionalReads("run-1")
        cold = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER, reads=reads)
        cold_requests = github.count()

        warm = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER, reads=reads)

        assert warm == cold
        rereads = github.requests()[cold_requests:]
        assert rereads and all(request.headers.get("If-None-Match") and request.status == 304 for request in rereads)

    def test_another_run_reads_afresh(self, github, repository):
        pull_request_with(repository, source_files(1))
        pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER, reads=ConditionalReads("run-1"))
        first_run_requests = github.count()

        pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER, reads=ConditionalReads("run-2"))

        assert not any("If-None-Match" in request.headers for request in github.requests()[first_run_requests:])

    def test_enterprise_server(self, github_http, repository, settings):
        settings.GITHUB_API_BASE_URL = "https://ghe.example.com/api/v3"
        pull_request_with(repository, source_files(1))

        pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER)

        assert {call.request.url.split("/")[2].split(":")[0] for call in github_http.calls} == {"ghe.example.com"}


def test_commit_context(repository):
    repository.commit("abc", message="Fix", files=source_files(1))

    context = commit_context(installation_id=INSTALLATION, repo=REPO, sha="abc")

    assert context["commit"]["commit"]["message"] == "Fix"
    assert context["files"][0]["filename"] == "src/file_0.py"
    assert context["repository"]["full_name"] == REPO


class TestFileContent:
    def test_text_is_decoded(self, github, repository):
        repository.file("docs/f", "héllo\n")

        result = file_content(installation_id=INSTALLATION, repo=REPO, path="docs/f", ref="main")

        assert (result["content"], result["binary"], result["truncated"]) == ("héllo\n", False, False)
        assert github.requests()[-1].query == {"ref": "main"}

    @pytest.mark.parametrize("raw", [b"\x89PNG\r\n\x1a\n\x00\x00", b"\xff\xfe\xfa"])
    def test_binary_content_is_detected(self, repository, raw):
        repository.file("docs/f", raw)

        result = file_content(installation_id=INSTALLATION, repo=REPO, path="docs/f")

        assert (result["content"], result["binary"]) == (None, True)

    def test_a_file_over_the_cap_comes_without_content(self, repository, settings):
        settings.GITHUB_FILE_CONTENT_MAX_BYTES = 10
        repository.file("docs/f", b"x" * 11)

        result = file_content(installation_id=INSTALLATION, repo=REPO, path="docs/f")

        assert (result["content"], result["truncated"], result["size"]) == (None, True, 11)

    def test_a_directory_is_refused(self, repository):
        repository.file("docs/f", "text")

        with pytest.raises(FileNotAFile):
            file_content(installation_id=INSTALLATION, repo=REPO, path="docs")


def test_compare_lists_changed_paths_with_both_names_of_a_rename(repository):
    renamed = changed_file("new.py", status="renamed", previous_filename="old.py")
    repository.compare("aaa", "bbb", files=[changed_file("a.py"), renamed])

    assert compare_changed_files(installation_id=INSTALLATION, repo=REPO, base="aaa", head="bbb") == [
        "a.py",
        "old.py",
        "new.py",
    ]


class TestWrites:
    COMMENTS = f"/repos/{REPO}/issues/{NUMBER}/comments"

    def test_a_retried_step_edits_its_comment_instead_of_posting_another(self, github, repository):
        issue = repository.issue(NUMBER)
        issue.comment("someone else")
        first = comment_upsert(
            installation_id=INSTALLATION, repo=REPO, number=NUMBER, body="Review", marker_key="run-1:comment"
        )

        second = comment_upsert(
            installation_id=INSTALLATION, repo=REPO, number=NUMBER, body="Review v2", marker_key="run-1:comment"
        )

        assert (first.created, second.created, first.id) == (True, False, second.id)
        assert [comment["body"] for comment in issue.comments] == [
            "someone else",
            f"Review v2\n\n{comment_marker('run-1:comment')}",
        ]
        assert [request.method for request in github.requests() if "/comments" in request.path] == [
            "GET",
            "POST",
            "GET",
            "PATCH",
        ]

    def test_labels_are_added(self, github, repository):
        issue = repository.issue(NUMBER, labels=["bug"])

        assert labels_add(installation_id=INSTALLATION, repo=REPO, number=NUMBER, labels=["ai-reviewed"]) == [
            "bug",
            "ai-reviewed",
        ]
        assert github.requests()[-1].json() == {"labels": ["ai-reviewed"]}
        assert issue.labels == ["bug", "ai-reviewed"]

    def test_writes_of_one_installation_are_a_second_apart(self, repository):
        repository.issue(NUMBER)
        started = time.monotonic()

        for _ in range(3):
            labels_add(installation_id=INSTALLATION, repo=REPO, number=NUMBER, labels=["x"])

        assert time.monotonic() - started >= 1.9


def test_an_html_error_page_from_github_is_a_github_error_with_its_status(github, repository, settings):
    settings.GITHUB_HTTP_RETRIES = 0
    github.fail("GET", f"/repos/{REPO}/commits/abc1234", 502, body="<html><h1>Unicorn!</h1></html>")

    with pytest.raises(GithubException) as raised:
        commit_context(installation_id=INSTALLATION, repo=REPO, sha="abc1234")

    assert raised.value.status == 502 and "Unicorn" in raised.value.data["message"]
