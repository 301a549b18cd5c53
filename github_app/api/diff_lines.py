"""Which lines of a pull request a review comment may be placed on.

GitHub accepts an inline comment only on a line its diff shows: on the RIGHT side an added or
context line of the new file, on the LEFT side a removed or context line of the old file; a
multi-line comment must start and end within one hunk. Anything else is refused with a 422 that
fails the whole review, so comments are checked against the files' patches before posting.
"""

import re
from dataclasses import dataclass, field

LEFT, RIGHT = "LEFT", "RIGHT"
# `@@ -12,7 +12,8 @@ def f():`; a count of one is left out (`@@ -1 +1 @@`).
_HUNK_HEADER = re.compile(r"^@@ -(?P<old>\d+)(?:,(?P<old_count>\d+))? \+(?P<new>\d+)(?:,(?P<new_count>\d+))? @@")


@dataclass(frozen=True)
class FileLines:
    """The lines of one file that a comment may be placed on: per side, line number -> hunk index."""

    left: dict[int, int] = field(default_factory=dict)
    right: dict[int, int] = field(default_factory=dict)

    def hunk_of(self, *, side: str, line: int) -> int | None:
        return (self.left if side == LEFT else self.right).get(line)


def patch_lines(patch: str | None) -> FileLines:
    """The commentable lines of one file's patch (as the pull request's files list gives it);
    none for a binary or too large file, which has no patch."""
    lines = FileLines()
    old = new = old_left = new_left = 0
    hunk = -1
    for text in (patch or "").split("\n"):
        header = _HUNK_HEADER.match(text)
        if header:
            hunk += 1
            old, new = int(header["old"]), int(header["new"])
            old_left, new_left = int(header["old_count"] or 1), int(header["new_count"] or 1)
            continue
        if text.startswith("\\") or (old_left <= 0 and new_left <= 0):
            continue  # "\ No newline at end of file", or whatever follows the last hunk's lines
        marker = text[:1]
        if marker == "+":
            lines.right[new], new, new_left = hunk, new + 1, new_left - 1
        elif marker == "-":
            lines.left[old], old, old_left = hunk, old + 1, old_left - 1
        else:  # a context line (its leading space may have been trimmed away)
            lines.left[old], lines.right[new] = hunk, hunk
            old, new, old_left, new_left = old + 1, new + 1, old_left - 1, new_left - 1
    return lines


@dataclass(frozen=True)
class DiffLines:
    """A pull request's commentable lines, by the path a comment must name (a renamed file's
    new path; its previous path is accepted and resolved to the new one)."""

    files: dict[str, FileLines]
    renamed: dict[str, str]  # previous path -> new path

    def resolve(self, path: str) -> str:
        return path if path in self.files else self.renamed.get(path, path)

    def commentable(self, *, path: str, line: int, side: str, start_line: int | None, start_side: str) -> bool:
        """Whether GitHub accepts an inline comment there: the line is shown, and a range starts
        before its end within the same hunk."""
        lines = self.files.get(self.resolve(path))
        if lines is None:
            return False
        hunk = lines.hunk_of(side=side, line=line)
        if hunk is None:
            return False
        if start_line is None:
            return True
        precedes = start_line < line if start_side == side else start_side == LEFT
        return precedes and lines.hunk_of(side=start_side, line=start_line) == hunk


def diff_lines(files: list[dict]) -> DiffLines:
    """The commentable lines of a pull request's changed files."""
    return DiffLines(
        files={item["filename"]: patch_lines(item.get("patch")) for item in files},
        renamed={item["previous_filename"]: item["filename"] for item in files if item.get("previous_filename")},
    )
