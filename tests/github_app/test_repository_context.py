"""Pull-request and commit context, file content, compare and the write helpers, against GitHub
stubbed with `responses` with bodies shaped like GitHub's."""

import base64
import json
import time

import pytest
import responses
from github import GithubException

from github_app.errors import FileNotAFile
from github_app.api.reads import ConditionalReads, commit_context, compare_changed_files, file_content, pull_request_context
from github_app.api.writes import comment_marker, comment_upsert, labels_add
from tests.conftest import load_fixture
from tests.github_app.github_stub import api_url

INSTALLATION = 777
REPO = "Codertocat/Hello-World"
NUMBER = 2


@pytest.fixture
def github(db, github_http):
    github_http.post(
        api_url(f"/app/installations/{INSTALLATION}/access_tokens"),
        json={"token": "ghs_context", "expires_at": "2099-01-01T00:00:00Z"},
        status=201,
    )
    return github_http


def changed_file(index: int) -> dict:
    return {
        "sha": f"{index:040x}", "filename": f"src/file_{index}.py", "status": "modified", "additions": 1,
        "deletions": 1, "changes": 2, "patch": f"@@ -1 +1 @@\n-old {index}\n+new {index}",
    }


def stub_pull_request(mock, *, files: list[dict], diff_status: int = 200, etag: str = '"pr-v1"'):
    pull_request = load_fixture("pull_request__opened")["pull_request"]
    pull_request["changed_files"] = len(files)

    def pull_request_or_diff(request):
        if request.headers.get("Accept") == "application/vnd.github.diff":
            if diff_status == 406:
                body = {"message": "Sorry, the diff exceeded the maximum number of files (300).",
                        "errors": [{"resource": "PullRequest", "field": "diff", "code": "too_large"}]}
                return 406, {}, json.dumps(body)
            return 200, {"ETag": '"diff-v1"'}, "diff --git a/README.md b/README.md\n"
        if request.headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, ""
        return 200, {"ETag": etag}, json.dumps(pull_request)

    mock.add_callback("GET", api_url(f"/repos/{REPO}/pulls/{NUMBER}"), callback=pull_request_or_diff)

    def files_page(request):
        page = int(dict(pair.split("=") for pair in request.url.split("?")[1].split("&"))["page"])
        return 200, {}, json.dumps(files[(page - 1) * 100 : page * 100])

    mock.add_callback("GET", api_url(f"/repos/{REPO}/pulls/{NUMBER}/files"), callback=files_page)
    mock.get(api_url(f"/repos/{REPO}/issues/{NUMBER}/comments"), json=[{"id": 1, "body": "Looks good"}])
    mock.get(api_url(f"/repos/{REPO}/pulls/{NUMBER}/comments"), json=[{"id": 2, "body": "nit", "path": "README.md"}])
    mock.get(api_url(f"/repos/{REPO}"), json=load_fixture("pull_request__opened")["repository"])


def requests_to(mock, fragment: str) -> list:
    return [call for call in mock.calls if fragment in call.request.url]


class TestPullRequestContext:
    def test_everything_a_review_needs(self, github):
        stub_pull_request(github, files=[changed_file(1)])

        context = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER)

        assert context["pull_request"]["number"] == NUMBER
        assert context["diff"].startswith("diff --git") and context["diff_truncated"] is False
        assert [item["filename"] for item in context["files"]] == ["src/file_1.py"]
        assert context["issue_comments"][0]["body"] == "Looks good"
        assert context["review_comments"][0]["path"] == "README.md"
        assert context["repository"]["full_name"] == REPO

    def test_250_changed_files_are_read_over_three_pages(self, github):
        stub_pull_request(github, files=[changed_file(index) for index in range(250)])

        context = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER)

        assert len(context["files"]) == 250 and context["files_truncated"] is False
        assert len(requests_to(github, "/files")) == 3

    def test_a_diff_too_large_for_github_is_built_from_the_patches(self, github):
        files = [changed_file(index) for index in range(301)]
        files[0] = {**files[0], "status": "added"}
        files[1] = {**files[1], "status": "renamed", "previous_filename": "src/old_name.py"}
        files[2] = {key: value for key, value in files[2].items() if key != "patch"}  # binary
        stub_pull_request(github, files=files, diff_status=406)

        context = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER)

        assert context["diff_truncated"] is True
        diff = context["diff"]
        assert diff.count("diff --git") == 301
        assert "--- /dev/null\n+++ b/src/file_0.py\n@@ -1 +1 @@\n-old 0\n+new 0" in diff
        assert "diff --git a/src/old_name.py b/src/file_1.py" in diff
        assert "Binary or too large to show: src/file_2.py" in diff

    def test_a_warm_reread_in_the_same_run_is_conditional_and_costs_304s(self, github):
        stub_pull_request(github, files=[changed_file(1)])
        reads = ConditionalReads("run-1")
        cold = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER, reads=reads)
        github.calls.reset()

        warm = pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER, reads=reads)

        assert warm["pull_request"] == cold["pull_request"]
        conditional = [call for call in github.calls if call.request.headers.get("If-None-Match") == '"pr-v1"']
        assert conditional and all(call.response.status_code == 304 for call in conditional)

    def test_another_run_reads_afresh(self, github):
        stub_pull_request(github, files=[changed_file(1)])
        pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER, reads=ConditionalReads("run-1"))
        github.calls.reset()

        pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER, reads=ConditionalReads("run-2"))

        assert not any("If-None-Match" in call.request.headers for call in github.calls)

    def test_enterprise_server(self, github, settings):
        settings.GITHUB_API_BASE_URL = "https://ghe.example.com/api/v3"
        github.post(api_url(f"/app/installations/{INSTALLATION}/access_tokens"), json={"token": "ghs_e", "expires_at": "2099-01-01T00:00:00Z"}, status=201)
        stub_pull_request(github, files=[changed_file(1)])

        pull_request_context(installation_id=INSTALLATION, repo=REPO, number=NUMBER)

        assert {call.request.url.split("/")[2].split(":")[0] for call in github.calls} == {"ghe.example.com"}


def test_commit_context(github):
    commit = {"sha": "abc", "commit": {"message": "Fix"}, "files": [changed_file(1)]}
    github.get(api_url(f"/repos/{REPO}/commits/abc"), json=commit)
    github.get(api_url(f"/repos/{REPO}"), json={"full_name": REPO})

    context = commit_context(installation_id=INSTALLATION, repo=REPO, sha="abc")

    assert context["commit"]["commit"]["message"] == "Fix"
    assert context["files"][0]["filename"] == "src/file_1.py"


class TestFileContent:
    def entry(self, raw: bytes, **changes) -> dict:
        return {"type": "file", "encoding": "base64", "size": len(raw), "name": "f", "path": "docs/f",
                "sha": "s1", "content": base64.encodebytes(raw).decode(), **changes}

    def test_text_is_decoded(self, github):
        github.get(api_url(f"/repos/{REPO}/contents/docs/f"), json=self.entry("héllo\n".encode()))

        result = file_content(installation_id=INSTALLATION, repo=REPO, path="docs/f", ref="main")

        assert (result["content"], result["binary"], result["truncated"]) == ("héllo\n", False, False)
        assert "ref=main" in github.calls[-1].request.url

    @pytest.mark.parametrize("raw", [b"\x89PNG\r\n\x1a\n\x00\x00", b"\xff\xfe\xfa"])
    def test_binary_content_is_detected(self, github, raw):
        github.get(api_url(f"/repos/{REPO}/contents/docs/f"), json=self.entry(raw))

        result = file_content(installation_id=INSTALLATION, repo=REPO, path="docs/f")

        assert (result["content"], result["binary"]) == (None, True)

    def test_a_file_over_the_cap_comes_without_content(self, github, settings):
        settings.GITHUB_FILE_CONTENT_MAX_BYTES = 10
        github.get(api_url(f"/repos/{REPO}/contents/docs/f"), json=self.entry(b"x" * 11))

        result = file_content(installation_id=INSTALLATION, repo=REPO, path="docs/f")

        assert (result["content"], result["truncated"], result["size"]) == (None, True, 11)

    def test_a_directory_is_refused(self, github):
        github.get(api_url(f"/repos/{REPO}/contents/docs"), json=[{"type": "file", "path": "docs/f"}])

        with pytest.raises(FileNotAFile):
            file_content(installation_id=INSTALLATION, repo=REPO, path="docs")


def test_compare_lists_changed_paths_with_both_names_of_a_rename(github):
    body = {"status": "ahead", "commits": [{"sha": "b"}], "files": [
        {"filename": "a.py", "status": "modified"},
        {"filename": "new.py", "previous_filename": "old.py", "status": "renamed"},
    ]}
    github.get(api_url(f"/repos/{REPO}/compare/aaa...bbb"), json=body)

    assert compare_changed_files(installation_id=INSTALLATION, repo=REPO, base="aaa", head="bbb") == ["a.py", "old.py", "new.py"]


class TestWrites:
    COMMENTS = api_url(f"/repos/{REPO}/issues/{NUMBER}/comments")

    def test_a_retried_step_edits_its_comment_instead_of_posting_another(self, github):
        posted = {"id": 10, "html_url": "https://github.com/c/10", "body": f"Review\n\n{comment_marker('run-1:comment')}"}
        github.get(self.COMMENTS, json=[{"id": 9, "body": "someone else"}])
        github.post(self.COMMENTS, json=posted, status=201)
        first = comment_upsert(installation_id=INSTALLATION, repo=REPO, number=NUMBER, body="Review", marker_key="run-1:comment")
        github.replace(responses.GET, self.COMMENTS, json=[{"id": 9, "body": "someone else"}, posted])
        github.patch(api_url(f"/repos/{REPO}/issues/comments/10"), json={**posted, "body": "Review v2"})

        second = comment_upsert(installation_id=INSTALLATION, repo=REPO, number=NUMBER, body="Review v2", marker_key="run-1:comment")

        assert (first.created, second.created, first.id, second.id) == (True, False, 10, 10)
        assert [call.request.method for call in github.calls if "/comments" in call.request.url] == ["GET", "POST", "GET", "PATCH"]
        assert json.loads(github.calls[-1].request.body)["body"].endswith(comment_marker("run-1:comment"))

    def test_labels_are_added(self, github):
        github.post(api_url(f"/repos/{REPO}/issues/{NUMBER}/labels"), json=[{"name": "bug"}, {"name": "ai-reviewed"}])

        assert labels_add(installation_id=INSTALLATION, repo=REPO, number=NUMBER, labels=["ai-reviewed"]) == ["bug", "ai-reviewed"]
        assert json.loads(github.calls[-1].request.body) == {"labels": ["ai-reviewed"]}

    def test_writes_of_one_installation_are_a_second_apart(self, github):
        github.post(api_url(f"/repos/{REPO}/issues/{NUMBER}/labels"), json=[{"name": "x"}])
        started = time.monotonic()

        for _ in range(3):
            labels_add(installation_id=INSTALLATION, repo=REPO, number=NUMBER, labels=["x"])

        assert time.monotonic() - started >= 1.9


def test_an_html_error_page_from_github_is_a_github_error_with_its_status(github, settings):
    settings.GITHUB_HTTP_RETRIES = 0
    github.get(api_url(f"/repos/{REPO}/commits/abc1234"), body="<html><h1>Unicorn!</h1></html>", status=502, content_type="text/html")

    with pytest.raises(GithubException) as raised:
        commit_context(installation_id=INSTALLATION, repo=REPO, sha="abc1234")

    assert raised.value.status == 502 and "Unicorn" in raised.value.data["message"]
