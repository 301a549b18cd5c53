"""GitHub Actions' filter patterns for branches, tags and paths, exactly as documented
(https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax#filter-pattern-cheat-sheet):

- `*` matches any characters but `/`; `**` matches any characters; `**/` also matches no
  directory at all (`**/README.md` matches `README.md`).
- `?` and `+` make the preceding character optional or repeatable; they are not wildcards.
- `[...]` matches one listed character or one in a range (`a-z`, `A-Z`, `0-9`).
- `\\` escapes the next character; everything else, `.` included, is literal.
- A leading `!` negates; in a list, the last pattern that matches decides.
- A pattern matches the whole value.

Patterns come from users, so they are matched by RE2, whose time is linear in the value whatever
the pattern (Python's `re` backtracks: `**a**a**a**a**a**a**a**b` against 300 characters would
not answer), and whose memory per compiled pattern is capped by RE2_MAX_MEMORY.
"""

import re
from dataclasses import dataclass, field

import re2

# A pattern's program takes a few kilobytes (services cap patterns at 255 characters); the rest
# is the DFA's state cache, past which RE2 falls back to its NFA, slower but still linear.
RE2_MAX_MEMORY = 1 << 20


class PatternInvalid(ValueError):
    pass


def _utf8(text: str) -> bytes:
    """`surrogatepass` keeps a lone surrogate (valid in a JSON string) one character, as it was
    for `re`, where strict UTF-8 would raise."""
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class FilterPattern:
    source: str
    negated: bool
    regex: re2._Regexp = field(compare=False)  # the package names its compiled type only privately

    def matches(self, value: str) -> bool:
        return self.regex.fullmatch(_utf8(value)) is not None


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
            same_kind = any(
                low.isascii() and high.isascii() and kind(low) and kind(high)
                for kind in (str.isdigit, str.islower, str.isupper)
            )
            if not same_kind or low > high:
                raise PatternInvalid(
                    f"{pattern!r} has the range {low}-{high}; ranges go upwards within a-z, A-Z or 0-9."
                )
            parts.append(f"{re.escape(low)}-{re.escape(high)}")
            index += 3
        else:
            parts.append(re.escape(body[index]))
            index += 1
    return f"[{''.join(parts)}]", end + 1


def _re2_compile(source: str, regex_text: str) -> re2._Regexp:
    options = re2.Options()
    options.max_mem = RE2_MAX_MEMORY
    options.log_errors = False  # a refusal is a PatternInvalid for the caller, not a log line
    try:
        return re2.compile(_utf8(regex_text), options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace")  # RE2 reports a bytes pattern's error in bytes
        raise PatternInvalid(f"{source!r} is more than the pattern matcher can compile ({reason}).") from exc


def pattern_compile(source: str) -> FilterPattern:
    """Compile one pattern, refusing what GitHub refuses and what RE2 cannot compile."""
    if not isinstance(source, str) or not source:
        raise PatternInvalid("A pattern may not be empty.")
    negated = source.startswith("!")
    pattern = source[1:] if negated else source
    if not pattern:
        raise PatternInvalid("A lone ! negates nothing.")
    if pattern[0] in "?+":
        raise PatternInvalid(
            f"{source!r} starts with {pattern[0]}, which repeats the character before it; there is none."
        )
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
    return FilterPattern(source=source, negated=negated, regex=_re2_compile(source, "".join(regex)))


def patterns_compile(sources: list[str]) -> list[FilterPattern]:
    return [pattern_compile(source) for source in sources]


def patterns_decide(patterns: list[FilterPattern], value: str) -> tuple[bool, FilterPattern | None]:
    """Whether the list selects `value`, and the pattern that decided (the last that matched)."""
    selected, decided_by = False, None
    for pattern in patterns:
        if pattern.matches(value):
            selected, decided_by = not pattern.negated, pattern
    return selected, decided_by
