"""Which lines of a pull request a review comment may sit on, from patches shaped as GitHub's
`GET /repos/{owner}/{repo}/pulls/{number}/files` returns them (no file headers, hunks only)."""

import pytest

from github_app.api.diff_lines import LEFT, RIGHT, diff_lines, patch_lines

# A modified file with three hunks; the last one touches a file without a final newline.
THREE_HUNKS = "\n".join(
    [
        "@@ -1,5 +1,6 @@",
        " import json",
        "+import logging",
        " from pathlib import Path",
        " ",
        " from django.conf import settings",
        " ",
        "@@ -24,8 +25,7 @@ def load(path: Path) -> dict:",
        "     with path.open() as handle:",
        "         data = json.load(handle)",
        "-    if not data:",
        '-        raise ValueError("empty")',
        "-    return data",
        '+    logging.debug("loaded %s", path)',
        "+    return data or {}",
        " ",
        " ",
        " def save(path: Path, data: dict) -> None:",
        "@@ -40,4 +40,5 @@ def save(path: Path, data: dict) -> None:",
        "     path.write_text(json.dumps(data))",
        "     return None",
        " ",
        "-# end",
        "\\ No newline at end of file",
        "+# end",
        "+VERSION = 2",
        "\\ No newline at end of file",
    ]
)
ADDED = "@@ -0,0 +1,3 @@\n+# Contributing\n+\n+Open an issue first."
REMOVED = "@@ -1,4 +0,0 @@\n-[flake8]\n-max-line-length = 120\n-exclude = .venv\n-"
ONE_LINE = "@@ -1 +1 @@\n-# Hello-World\n+# Hello World"  # GitHub leaves out a count of one
ONE_LINE_ADDED = "@@ -0,0 +1 @@\n+issue comment"
RENAMED_AND_EDITED = (
    "@@ -3,3 +3,3 @@ Intro\n Install it with pip.\n-Run the old wording.\n+Run the new wording.\n Done."
)
# A context line whose leading space was trimmed (an editor stripping trailing whitespace).
TRIMMED_CONTEXT = "@@ -10,3 +10,3 @@\n a = 1\n\n-b = 2\n+b = 3"


@pytest.mark.parametrize(
    ("patch", "left", "right"),
    [
        (THREE_HUNKS, {1, 2, 3, 4, 5, *range(24, 32), 40, 41, 42, 43}, {*range(1, 7), *range(25, 32), *range(40, 45)}),
        (ADDED, set(), {1, 2, 3}),
        (REMOVED, {1, 2, 3, 4}, set()),
        (ONE_LINE, {1}, {1}),
        (ONE_LINE_ADDED, set(), {1}),
        (RENAMED_AND_EDITED, {3, 4, 5}, {3, 4, 5}),
        (TRIMMED_CONTEXT, {10, 11, 12}, {10, 11, 12}),
        (None, set(), set()),  # binary, too large, or renamed without changes: GitHub gives no patch
        ("", set(), set()),
    ],
    ids=[
        "three-hunks",
        "added",
        "removed",
        "one-line",
        "one-line-added",
        "renamed",
        "trimmed-context",
        "no-patch",
        "empty",
    ],
)
def test_commentable_lines_per_side(patch, left, right):
    lines = patch_lines(patch)

    assert set(lines.left) == left
    assert set(lines.right) == right


def test_each_line_knows_its_hunk():
    lines = patch_lines(THREE_HUNKS)

    assert [lines.hunk_of(side=RIGHT, line=line) for line in (2, 27, 44)] == [0, 1, 2]
    assert lines.hunk_of(side=LEFT, line=26) == 1
    assert lines.hunk_of(side=RIGHT, line=7) is None, "between hunks: not shown"
    assert lines.hunk_of(side=LEFT, line=44) is None, "past the old file's last line in the hunk"


FILES = [
    {"filename": "app/load.py", "status": "modified", "patch": THREE_HUNKS},
    {"filename": "docs/new.md", "previous_filename": "docs/old.md", "status": "renamed", "patch": RENAMED_AND_EDITED},
    {"filename": "setup.cfg", "status": "removed", "patch": REMOVED},
    {"filename": "logo.png", "status": "modified"},
]


@pytest.mark.parametrize(
    ("comment", "commentable"),
    [
        ({"path": "app/load.py", "line": 27}, True),
        ({"path": "app/load.py", "line": 10}, False),  # between hunks
        ({"path": "app/load.py", "line": 26, "side": LEFT}, True),  # a removed line
        ({"path": "app/load.py", "line": 44, "side": LEFT}, False),
        ({"path": "app/load.py", "line": 28, "start_line": 25}, True),  # a range within one hunk
        ({"path": "app/load.py", "line": 28, "start_line": 6}, False),  # a range across hunks
        ({"path": "app/load.py", "line": 25, "start_line": 28}, False),  # a range ending before it starts
        ({"path": "app/load.py", "line": 28, "start_line": 26, "start_side": LEFT}, True),  # old to new
        ({"path": "docs/new.md", "line": 4}, True),
        ({"path": "docs/old.md", "line": 4, "side": LEFT}, True),  # named by its previous path
        ({"path": "setup.cfg", "line": 2, "side": LEFT}, True),
        ({"path": "setup.cfg", "line": 2}, False),  # a deleted file has no new side
        ({"path": "logo.png", "line": 1}, False),  # binary: no patch
        ({"path": "README.md", "line": 1}, False),  # not changed by the pull request
    ],
)
def test_a_comment_is_commentable_only_where_github_shows_the_line(comment, commentable):
    lines = diff_lines(FILES)
    side = comment.get("side", RIGHT)

    assert (
        lines.commentable(
            path=comment["path"],
            line=comment["line"],
            side=side,
            start_line=comment.get("start_line"),
            start_side=comment.get("start_side", side),
        )
        is commentable
    )


def test_a_renamed_file_is_commented_on_by_its_new_path():
    assert diff_lines(FILES).resolve("docs/old.md") == "docs/new.md"
    assert diff_lines(FILES).resolve("app/load.py") == "app/load.py"
