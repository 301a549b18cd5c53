"""GitHub Actions' filter pattern semantics, table-driven from GitHub's cheat sheet and from
every operator's definition."""

import re

import pytest

from triggers.patterns import PatternInvalid, pattern_compile, patterns_compile, patterns_decide

# (pattern, values it matches, values it does not match)
CHEAT_SHEET_BRANCHES_AND_TAGS = [
    ("feature/*", ["feature/my-branch", "feature/your-branch"], ["feature/beta-a/my-branch", "feature", "features/x"]),
    ("feature/**", ["feature/beta-a/my-branch", "feature/your-branch", "feature/mona/the/octocat"], ["feature", "my/feature/x"]),
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
    ("docs/**/*.md", ["docs/README.md", "docs/mona/hello-world.md", "docs/a/markdown/file.md"], ["docs/a.txt", "README.md"]),
    ("**/docs/**", ["docs/hello.md", "dir/docs/my-file.txt", "space/docs/plan/space.doc"], ["doc/x", "mydocs/x"]),
    ("**/README.md", ["README.md", "js/README.md"], ["README.mdx", "js/README.md.bak"]),
    ("**/*src/**", ["a/src/app.js", "my-src/code/js/app.js"], ["src", "a/source/x"]),
    ("**/*-post.md", ["my-post.md", "path/their-post.md"], ["post.md", "my-post.mdx"]),
    ("**/migrate-*.sql", ["migrate-10909.sql", "db/migrate-v1.0.sql", "db/sept/migrate-v1.sql"], ["migrate.sql", "db/migrate-1.sql.bak"]),
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


@pytest.mark.parametrize("pattern, value, expected", [*cases(CHEAT_SHEET_BRANCHES_AND_TAGS), *cases(CHEAT_SHEET_PATHS), *cases(OPERATORS)])
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
