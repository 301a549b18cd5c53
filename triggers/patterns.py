"""GitHub Actions' filter patterns for branches, tags and paths, exactly as documented
(https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax#filter-pattern-cheat-sheet):

- `*` matches any characters but `/`; `**` matches any characters; `**/` also matches no
  directory at all (`**/README.md` matches `README.md`).
- `?` and `+` make the preceding character optional or repeatable; they are not wildcards.
- `[...]` matches one listed character or one in a range (`a-z`, `A-Z`, `0-9`).
- `\\` escapes the next character; everything else, `.` included, is literal.
- A leading `!` negates; in a list, the last pattern that matches decides.
- A pattern matches the whole value.
"""

import re
from dataclasses import dataclass, field


class PatternInvalid(ValueError):
    pass


@dataclass(frozen=True)
class FilterPattern:
    source: str
    negated: bool
    regex: re.Pattern = field(compare=False)

    def matches(self, value: str) -> bool:
        return self.regex.fullmatch(value) is not None


def _character_class(pattern: str, start: int) -> tuple[str, int]:
    """The regex of the class opening at `start`, and the index after its `]`."""
    end = pattern.find("]", start + 1)
    if end == -1:
        raise PatternInvalid(f"{pattern!r} opens a [ that is never closed.")
    body = pattern[start + 1 : end]
    if not body:
        raise PatternInvalid(f"{pattern!r} has an empty [].")
    parts, index = [], 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            low, high = body[index], body[index + 2]
            same_kind = any(low.isascii() and high.isascii() and kind(low) and kind(high) for kind in (str.isdigit, str.islower, str.isupper))
            if not same_kind or low > high:
                raise PatternInvalid(f"{pattern!r} has the range {low}-{high}; ranges go upwards within a-z, A-Z or 0-9.")
            parts.append(f"{re.escape(low)}-{re.escape(high)}")
            index += 3
        else:
            parts.append(re.escape(body[index]))
            index += 1
    return f"[{''.join(parts)}]", end + 1


def pattern_compile(source: str) -> FilterPattern:
    """Compile one pattern, refusing what GitHub refuses."""
    if not isinstance(source, str) or not source:
        raise PatternInvalid("A pattern may not be empty.")
    negated = source.startswith("!")
    pattern = source[1:] if negated else source
    if not pattern:
        raise PatternInvalid("A lone ! negates nothing.")
    if pattern[0] in "?+":
        raise PatternInvalid(f"{source!r} starts with {pattern[0]}, which repeats the character before it; there is none.")
    regex: list[str] = []
    quantifiable = False  # whether the last piece is one character that ? or + may apply to
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 == len(pattern):
                raise PatternInvalid(f"{source!r} ends with a lone \\.")
            regex.append(re.escape(pattern[index + 1]))
            quantifiable, index = True, index + 2
        elif pattern.startswith("**/", index):
            regex.append("(?:.*/)?")
            quantifiable, index = False, index + 3
        elif pattern.startswith("**", index):
            regex.append(".*")
            quantifiable, index = False, index + 2
        elif char == "*":
            regex.append("[^/]*")
            quantifiable, index = False, index + 1
        elif char in "?+":
            if not quantifiable:
                raise PatternInvalid(f"{source!r} has {char} after something it cannot repeat.")
            regex.append(char)
            quantifiable, index = False, index + 1
        elif char == "[":
            piece, index = _character_class(pattern, index)
            regex.append(piece)
            quantifiable = True
        else:
            regex.append(re.escape(char))
            quantifiable, index = True, index + 1
    return FilterPattern(source=source, negated=negated, regex=re.compile("".join(regex)))


def patterns_compile(sources: list[str]) -> list[FilterPattern]:
    return [pattern_compile(source) for source in sources]


def patterns_decide(patterns: list[FilterPattern], value: str) -> tuple[bool, FilterPattern | None]:
    """Whether the list selects `value`, and the pattern that decided (the last that matched)."""
    selected, decided_by = False, None
    for pattern in patterns:
        if pattern.matches(value):
            selected, decided_by = not pattern.negated, pattern
    return selected, decided_by
