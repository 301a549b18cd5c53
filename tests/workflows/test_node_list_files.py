"""github.list_files: the repository's files at a ref, filtered by a glob, capped and flagged."""

# ruff: noqa: F811  (pytest fixtures imported from node_runs are named as test arguments)

import time

import pytest

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
from workflows.models import Conclusion
from workflows.nodes.path_globs import path_glob_match

pytestmark = pytest.mark.usefixtures("tenant")
FILES = {
    "README.md": "hi",
    "setup.py": "",
    "src/app.py": "print()",
    "src/lib/util.py": "",
    "src/lib/data.json": "{}",
    "docs/guide.md": "",
}


def list_files(user, run_now, **params):
    run = run_now(single_node(user, "github.list_files", params), issue_event())
    return run.steps.get(node_id="step")


@pytest.fixture
def tree(repository):
    repository.push("master", FILES)
    return repository


def test_lists_the_default_branchs_files_matching_the_glob(user, tree, run_now):
    step = list_files(user, run_now, glob="**/*.py")

    assert step.conclusion == Conclusion.SUCCESS
    assert step.output["paths"] == ["setup.py", "src/app.py", "src/lib/util.py"]
    assert step.output["ref"] == "master" and step.output["truncated"] is False
    first = step.output["files"][0]
    assert (first["path"], first["size"]) == ("setup.py", 0) and len(first["sha"]) == 40


def test_a_ref_and_a_directory_narrow_the_listing(user, tree, run_now, github):
    tree.refs["feature/x"] = tree.refs["master"]
    tree.push("feature/x", {"src/new.py": "x"})

    step = list_files(user, run_now, ref="feature/x", path="src/", glob="*/*.py")

    assert step.output["paths"] == ["src/app.py", "src/new.py"]
    assert github.requests("GET", f"/repos/{REPO}/git/trees/feature%2Fx")[0].query == {"recursive": "1"}


def test_without_a_glob_every_file_is_listed(user, tree, run_now):
    assert list_files(user, run_now).output["paths"] == sorted(FILES)


def test_the_listing_is_capped_and_flagged(user, repository, run_now):
    repository.push("master", {f"f{number:04}.txt": "" for number in range(1001)})

    output = list_files(user, run_now).output

    assert len(output["files"]) == 1000 and output["truncated"] is True


def test_a_listing_github_truncated_is_flagged(user, tree, run_now):
    tree.tree_listing_limit = 3

    assert list_files(user, run_now).output["truncated"] is True


def test_an_unknown_ref_fails_the_step(user, tree, run_now):
    step = list_files(user, run_now, ref="nowhere")

    assert (step.conclusion, step.attempts) == (Conclusion.FAILURE, 1)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"glob": "{{ '*' * 5000 }}"}, "`glob` must be a pattern of at most 256 characters"),
        ({"glob": "../**"}, "may not start with /, contain a .. segment"),
        ({"path": "src/../../other"}, "`path` 'src/../../other' may not"),
        ({"ref": "/etc"}, "`ref` '/etc' may not start with /"),
    ],
)
def test_hostile_input_fails_clearly_before_github(user, tree, run_now, github, params, message):
    step = list_files(user, run_now, **params)

    assert step.conclusion == Conclusion.FAILURE and message in step.error
    assert github.requests() == []


def test_a_repository_the_owner_does_not_reach_is_refused(user, tree, run_now, github):
    step = list_files(user, run_now, repository=HIDDEN)

    assert step.conclusion == Conclusion.FAILURE and github.requests() == []


@pytest.mark.parametrize(
    "pattern, path, matches",
    [
        ("*.py", "setup.py", True),
        ("*.py", "src/app.py", False),
        ("**/*.py", "setup.py", True),
        ("**/*.py", "src/lib/util.py", True),
        ("src/**", "src/lib/util.py", True),
        ("src/**", "docs/guide.md", False),
        ("src/**/util.py", "src/util.py", True),
        ("src/*/util.py", "src/util.py", False),
        ("?EADME.md", "README.md", True),
        ("readme.md", "README.md", False),
        ("[sd]*/**", "docs/guide.md", True),
    ],
)
def test_glob_semantics(pattern, path, matches):
    assert path_glob_match(pattern=pattern, path=path) is matches


def test_a_hostile_glob_matches_in_bounded_time():
    pattern = "/".join(["**"] * 60 + ["*a*a*a*a*a*a*a*a*a*b"])
    path = "/".join(["a" * 60] * 60)

    started = time.perf_counter()
    assert path_glob_match(pattern=pattern, path=path) is False
    assert time.perf_counter() - started < 1
