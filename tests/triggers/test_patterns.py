"""GitHub Actions' filter pattern semantics, table-driven from GitHub's cheat sheet and from
every operator's definition."""

import random
import re

import pytest

from tests.triggers.pattern_timing import first_match_seconds
from triggers.patterns import PatternInvalid, pattern_compile, patterns_compile, patterns_decide
from triggers.services import MAX_ENTRY_LENGTH

# (pattern, values it matches, values it does not match)
CHEAT_SHEET_BRANCHES_AND_TAGS = [
    ("feature/*", ["feature/my-branch", "feature/your-branch"], ["feature/beta-a/my-branch", "feature", "features/x"]),
    (
        "feature/**",
        ["feature/beta-a/my-branch", "feature/your-branch", "feature/mona/the/octocat"],
        ["feature", "my/feature/x"],
    ),
    ("main", ["main"], ["main2", "a/main", "Main"]),
    ("releases/mona-the-octocat", ["releases/mona-the-octocat"], ["releases/mona-the-octocat2"]),
    ("*", ["main", "releases"], ["releases/v1", "feature/x"]),
    ("**", ["all/the/branches", "every/tag", "main"], []),
    ("*feature", ["mona-feature", "feature", "ver-10-feature"], ["feature-x", "a/feature"]),
    ("v2*", ["v2", "v2.0", "v2.9"], ["v1", "v2/x", "release-v2"]),
    ("v[12].[0-9]+.[0-9]+", ["v1.10.1", "v2.0.0"], ["v3.0.0", "v1.a.1", "v1x0.0", "v1..0"]),
]
CHEAT_SHEET_PATHS = [
    ("*", ["README.md", "server.rb"], ["docs/README.md"]),
    ("*.jsx?", ["page.js", "page.jsx"], ["page.jsxx", "src/page.js"]),
    ("**", ["all/the/files.md"], []),
    ("*.js", ["app.js", "index.js"], ["src/app.js", "app.jsx"]),
    ("**.js", ["index.js", "js/index.js", "src/js/app.js"], ["index.jsx"]),
    ("docs/*", ["docs/README.md", "docs/file.txt"], ["docs/a/file.txt", "README.md"]),
    ("docs/**", ["docs/README.md", "docs/mona/octocat.txt"], ["src/docs/x", "docs"]),
    (
        "docs/**/*.md",
        ["docs/README.md", "docs/mona/hello-world.md", "docs/a/markdown/file.md"],
        ["docs/a.txt", "README.md"],
    ),
    ("**/docs/**", ["docs/hello.md", "dir/docs/my-file.txt", "space/docs/plan/space.doc"], ["doc/x", "mydocs/x"]),
    ("**/README.md", ["README.md", "js/README.md"], ["README.mdx", "js/README.md.bak"]),
    ("**/*src/**", ["a/src/app.js", "my-src/code/js/app.js"], ["src", "a/source/x"]),
    ("**/*-post.md", ["my-post.md", "path/their-post.md"], ["post.md", "my-post.mdx"]),
    (
        "**/migrate-*.sql",
        ["migrate-10909.sql", "db/migrate-v1.0.sql", "db/sept/migrate-v1.sql"],
        ["migrate.sql", "db/migrate-1.sql.bak"],
    ),
]
OPERATORS = [
    ("a?b", ["ab", "b"], ["aab", "acb"]),
    ("ab?c", ["ac", "abc"], ["abbc", "adc"]),
    ("ab+c", ["abc", "abbbc"], ["ac", "abdc"]),
    ("[CB]at", ["Cat", "Bat"], ["cat", "Hat", "CBat"]),
    ("[1-2]00", ["100", "200"], ["300", "1000"]),
    ("[0-9a-z]x", ["7x", "qx"], ["Qx", "-x"]),
    ("file.txt", ["file.txt"], ["fileAtxt"]),
    ("\\*.md", ["*.md"], ["a.md"]),
    ("a\\+b", ["a+b"], ["ab", "aab"]),
    ("\\!important", ["!important"], ["important"]),
    ("x[a-]", ["xa", "x-"], ["xb"]),
]


def cases(table):
    for pattern, matching, not_matching in table:
        for value in matching:
            yield pytest.param(pattern, value, True, id=f"{pattern} ~ {value}")
        for value in not_matching:
            yield pytest.param(pattern, value, False, id=f"{pattern} !~ {value}")


@pytest.mark.parametrize(
    "pattern, value, expected", [*cases(CHEAT_SHEET_BRANCHES_AND_TAGS), *cases(CHEAT_SHEET_PATHS), *cases(OPERATORS)]
)
def test_pattern(pattern, value, expected):
    assert pattern_compile(pattern).matches(value) is expected


@pytest.mark.parametrize(
    "pattern, reason",
    [
        ("", "empty"),
        ("!", "lone !"),
        ("+abc", "starts with +"),
        ("?abc", "starts with ?"),
        ("!?abc", "starts with ?"),
        ("a[]b", "empty []"),
        ("a[bc", "never closed"),
        ("[z-a]", "range z-a"),
        ("[9-0]", "range 9-0"),
        ("[a-Z]", "range a-Z"),
        ("*+", "cannot repeat"),
        ("a??", "cannot repeat"),
        ("abc\\", "lone \\"),
    ],
)
def test_invalid_patterns_are_refused_with_a_reason(pattern, reason):
    with pytest.raises(PatternInvalid, match=re.escape(reason)):
        pattern_compile(pattern)


@pytest.mark.parametrize(
    "patterns, value, selected, decided_by",
    [
        (["*.md", "!README.md"], "hello.md", True, "*.md"),
        (["*.md", "!README.md"], "README.md", False, "!README.md"),
        (["*.md", "!README.md"], "docs/hello.md", False, None),
        (["*.md", "!README.md", "README*"], "README.md", True, "README*"),
        (["*.md", "!README.md", "README*"], "README.doc", True, "README*"),
        (["releases/**", "!releases/**-alpha"], "releases/beta/3-alpha", False, "!releases/**-alpha"),
        (["releases/**", "!releases/**-alpha"], "releases/10", True, "releases/**"),
        (["main"], "develop", False, None),
    ],
)
def test_in_a_list_the_last_matching_pattern_decides(patterns, value, selected, decided_by):
    decision, pattern = patterns_decide(patterns_compile(patterns), value)

    assert decision is selected
    assert (pattern.source if pattern else None) == decided_by


@pytest.mark.parametrize(
    "pattern, value, expected",
    [("*", "a\ud800b", True), ("a?", "\ud800", False), ("\ud800*", "\ud800/", False), ("**", "\ud800/\udfff", True)],
)
def test_a_lone_surrogate_from_json_is_one_character(pattern, value, expected):
    assert pattern_compile(pattern).matches(value) is expected


def test_re2_answers_as_python_re_did_on_the_same_regex():
    """Random patterns from every construct, against values from the characters they name:
    the linear-time engine agrees with the backtracking one it replaced (short values keep
    backtracking quick)."""
    rng = random.Random(20251105)
    pieces = ["a", "b", "/", ".", "*", "**", "**/", "?", "+", "[ab]", "[a-c]", "[.-]", "\\*", "\\?", "é", "\n"]
    characters = ["a", "b", "c", "/", ".", "-", "*", "?", "é", "\n", "\U0001f600"]
    compared = 0
    while compared < 20_000:
        try:
            pattern = pattern_compile("".join(rng.choices(pieces, k=rng.randint(1, 7))))
        except PatternInvalid:
            continue
        backtracking = re.compile(pattern.regex.pattern.decode("utf-8", "surrogatepass"))
        for value in ("".join(rng.choices(characters, k=rng.randint(0, 6))) for _ in range(20)):
            assert pattern.matches(value) is (backtracking.fullmatch(value) is not None), (pattern.source, value)
            compared += 1


def test_a_pattern_beyond_the_matcher_memory_is_refused_naming_it(monkeypatch):
    monkeypatch.setattr("triggers.patterns.RE2_MAX_MEMORY", 4096)
    source = "*a" * 100

    with pytest.raises(
        PatternInvalid, match=re.escape(f"{source!r} is more than the pattern matcher can compile (pattern too large")
    ):
        pattern_compile(source)


# The worst patterns we could build within the length cap, against 1,000-character values they
# do not match and some they do. On the values they miss, Python's backtracking `re` does not
# answer within seconds, but for the last two patterns, which are here for RE2: a DFA for `**a`
# then 63 `[ab]` has 2^63 states (bench/patterns.py measures both engines).
WORST_CASES = [
    ("**a**a**a**a**a**a**a**b", "a" * 1000, False, "the reported **a**a...**b"),
    ("**a**a**a**a**a**a**a**b", "a" * 999 + "b", True, "the reported **a**a...**b"),
    ("**a" * 85, "a" * 999 + "b", False, "85 **a"),
    ("**a" * 85, "a" * 1000, True, "85 **a"),
    ("*a" * 63 + "*b", "a" * 1000, False, "63 *a then *b"),
    ("*a" * 63 + "*b", "a" * 999 + "b", True, "63 *a then *b"),
    ("a?" * 120 + "a" * 15, "a" * 1000, False, "120 a? then 15 a"),
    ("a+" * 127 + "b", "a" * 1000, False, "127 a+ then b"),
    ("a+" * 127 + "b", "a" * 999 + "b", True, "127 a+ then b"),
    ("[ab]+" * 50 + "c", "ab" * 500, False, "50 [ab]+ then c"),
    ("[ab]+" * 50 + "c", "ab" * 499 + "ac", True, "50 [ab]+ then c"),
    ("a?b?" * 63 + "c", "ab" * 500, False, "63 a?b? then c"),
    ("\\*?" * 85, "*" * 1000, False, "85 escaped *?"),
    ("**/" * 85, "a/" * 499 + "ab", False, "85 **/"),
    ("**/" * 85, "a/" * 500, True, "85 **/"),
    ("**a" + "[ab]" * 63, "b" * 1000, False, "**a then 63 [ab]"),
    ("**a" + "[ab]" * 63, "a" * 1000, True, "**a then 63 [ab]"),
    ("*/" * 127 + "*", "a/" * 500, False, "127 */ then *"),
    ("*/" * 127 + "*", "a/" * 127 + "a" * 746, True, "127 */ then *"),
]


@pytest.mark.parametrize(
    "pattern, value, expected",
    [
        pytest.param(pattern, value, expected, id=f"{name}, {'matching' if expected else 'not matching'}")
        for pattern, value, expected, name in WORST_CASES
    ],
)
def test_the_worst_patterns_answer_in_under_10_ms_on_1000_characters(pattern, value, expected):
    assert len(pattern) <= MAX_ENTRY_LENGTH and len(value) == 1000
    assert pattern_compile(pattern).matches(value) is expected
    # The fastest of a few leaves out a busy machine's pauses.
    assert first_match_seconds(pattern, value, samples=5)[0] < 0.010
