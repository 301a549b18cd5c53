"""Glob patterns over repository paths, as github.list_files filters a tree with them.

A pattern is matched against a path segment by segment (both split on `/`), case-sensitively:
a segment that is exactly `**` matches any number of the path's segments, none included
(`**/*.py`: every Python file; `docs/**`: everything under docs/); any other segment matches
exactly one of the path's segments as `fnmatch.fnmatchcase` does (`*` any characters, `?` one,
`[...]` a class), so `*` never crosses a `/` (`*.py`: Python files at the top only).

Matching is linear in the pattern's segments times the path's (no backtracking across `**`),
and fnmatch's own translation keeps each segment's `*` from backtracking either.
"""

from fnmatch import fnmatchcase

ANY_DEPTH = "**"


def path_glob_match(*, pattern: str, path: str) -> bool:
    parts = path.split("/")
    # The numbers of the path's leading segments that the pattern, so far, matches exactly.
    reached = {0}
    for segment in pattern.split("/"):
        if segment == ANY_DEPTH:
            reached = set(range(min(reached), len(parts) + 1))
        else:
            reached = {done + 1 for done in reached if done < len(parts) and fnmatchcase(parts[done], segment)}
        if not reached:
            return False
    return len(parts) in reached
