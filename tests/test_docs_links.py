"""The README and docs/ are read on GitHub and in a clone, with nothing beside them: every link must
lead to a file of this repository (and its `#anchor` to a heading of that file), none may lead
out of it, and no text may send the reader to design documents the repository does not hold.

Needs no database: the documents are read as text."""

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
WEB_SCHEMES = {"http", "https", "mailto"}

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target "title"), ![alt](target), and [label]: target definitions.
_INLINE_LINK = re.compile(r"\]\(\s*<?([^()\s<>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?")
_HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_HTML_ANCHOR = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
# What a reader cannot follow from a clone: the design documents kept outside the repository.
OUTSIDE_DOCUMENTS = [re.compile(r"DESIGN\.md", re.IGNORECASE), re.compile(r"DESIGN\s*§"), re.compile(r"shared doc")]


def _unfenced_lines(markdown: str) -> list[str]:
    """The document's lines outside fenced code blocks."""
    lines, fence = [], None
    for line in markdown.splitlines():
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)[0] * len(opening.group(1))
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            lines.append(line)
    return lines


def _prose_lines(markdown: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked: a link shown as code
    is an example, not a link."""
    return [_CODE_SPAN.sub("", line) for line in _unfenced_lines(markdown)]


def link_targets(markdown: str) -> list[str]:
    targets = []
    for line in _prose_lines(markdown):
        targets += _INLINE_LINK.findall(line) + _REFERENCE_DEFINITION.findall(line) + _HTML_LINK.findall(line)
    return targets


def _rendered_text(markdown: str) -> str:
    """Inline Markdown as a reader sees it: a link's or image's text, no HTML tag; a code span
    keeps its text as written."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return re.sub(r"<[^>]+>", "", text)


def github_anchor(heading: str) -> str:
    """A heading's anchor as GitHub makes it: the rendered text, lower case, punctuation dropped
    (letters, digits, `_` and `-` stay), each space a `-`."""
    pieces, end = [], 0
    for span in _CODE_SPAN.finditer(heading):
        pieces += [_rendered_text(heading[end : span.start()]), span.group(2)]
        end = span.end()
    text = "".join([*pieces, _rendered_text(heading[end:])])
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def heading_anchors(markdown: str) -> set[str]:
    """Every anchor a link may name in the document; a repeated heading's anchor gets `-1`, `-2`..."""
    anchors, seen = set(), Counter[str]()
    for line in _unfenced_lines(markdown):
        heading = _HEADING.match(line)
        if heading:
            anchor = github_anchor(heading.group(2))
            anchors.add(f"{anchor}-{seen[anchor]}" if seen[anchor] else anchor)
            seen[anchor] += 1
        anchors.update(_HTML_ANCHOR.findall(_CODE_SPAN.sub("", line)))
    return anchors


def link_problem(document: Path, target: str, root: Path) -> str | None:
    """Why `target`, a link in `document`, does not lead inside `root`; None when it does."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        on_the_web = (parts.scheme in WEB_SCHEMES and bool(parts.netloc)) or parts.scheme == "mailto"
        return None if on_the_web else "leaves the repository"
    if parts.path.startswith("/"):
        return "is an absolute path, which no clone has"
    linked = (document.parent / unquote(parts.path)).resolve() if parts.path else document.resolve()
    if not linked.is_relative_to(root.resolve()):
        return "leads out of the repository"
    if not linked.exists():
        return "names no file of the repository"
    if parts.fragment:
        if linked.is_dir() or linked.suffix.lower() != ".md":
            return "has an anchor, but does not lead to a Markdown document"
        if unquote(parts.fragment).lower() not in heading_anchors(linked.read_text(encoding="utf-8")):
            return f"names no heading of {linked.relative_to(root.resolve())}"
    return None


def document_problems(document: Path, root: Path) -> list[str]:
    problems = []
    for target in link_targets(document.read_text(encoding="utf-8")):
        problem = link_problem(document, target, root)
        if problem:
            problems.append(f"{target}: {problem}")
    return problems


def _name(document: Path) -> str:
    return str(document.relative_to(ROOT))


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_every_link_leads_to_a_file_and_heading_of_the_repository(document: Path) -> None:
    assert document_problems(document, ROOT) == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_no_document_sends_the_reader_outside_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    assert [pattern.pattern for pattern in OUTSIDE_DOCUMENTS if pattern.search(text)] == []


def test_the_docs_index_links_every_document() -> None:
    index = ROOT / "docs" / "README.md"
    linked = {(index.parent / target).resolve() for target in link_targets(index.read_text(encoding="utf-8"))}
    assert {document.resolve() for document in DOCUMENTS if document.parent.name == "docs"} - {index} <= linked


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Why did (or didn't) it run?", "why-did-or-didnt-it-run"),
        (
            "Webhook intake: stored before we answer, processed once, never lost",
            "webhook-intake-stored-before-we-answer-processed-once-never-lost",
        ),
        ("`POST /api/v1/auth/token`", "post-apiv1authtoken"),
        (
            "The install flow, and why it does not trust `state=<user_id>`",
            "the-install-flow-and-why-it-does-not-trust-stateuser_id",
        ),
        ("Node reference", "node-reference"),
        ("[Linked](other.md) heading", "linked-heading"),
    ],
)
def test_anchors_follow_githubs_rules(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_a_repeated_heading_gets_a_numbered_anchor() -> None:
    assert heading_anchors("# Details\n\n## Details\n\n### Details\n") == {"details", "details-1", "details-2"}


def test_headings_keep_their_code_and_fenced_lines_are_no_headings() -> None:
    markdown = "## Why `state=<user_id>`\n\n```sh\n# a comment, not a heading\n```\n"
    assert heading_anchors(markdown) == {"why-stateuser_id"}


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    (tmp_path / "repo" / "docs").mkdir(parents=True)
    (tmp_path / "repo" / "docs" / "guide.md").write_text("# Guide\n\n## Getting started\n")
    (tmp_path / "repo" / "README.md").write_text("# Project\n")
    (tmp_path / "outside.md").write_text("# Outside\n")
    return tmp_path / "repo"


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("../outside.md", "leads out of the repository"),
        ("docs/../../outside.md", "leads out of the repository"),
        ("/etc/passwd", "is an absolute path, which no clone has"),
        ("file:///etc/passwd", "leaves the repository"),
        ("//example.com/x.md", "leaves the repository"),
        ("docs/missing.md", "names no file of the repository"),
        ("docs/guide.md#no-such-heading", "names no heading of docs/guide.md"),
        ("#not-here", "names no heading of README.md"),
    ],
)
def test_a_link_out_of_the_repository_or_to_nothing_is_refused(repository: Path, target: str, problem: str) -> None:
    assert link_problem(repository / "README.md", target, repository) == problem


@pytest.mark.parametrize(
    "target", ["docs/guide.md", "docs/guide.md#getting-started", "docs/", "#project", "https://docs.github.com/x"]
)
def test_a_link_inside_the_repository_is_accepted(repository: Path, target: str) -> None:
    assert link_problem(repository / "README.md", target, repository) is None


def test_links_are_found_in_prose_but_not_in_code(repository: Path) -> None:
    markdown = (
        "See [the guide](docs/guide.md), [a section](docs/guide.md#getting-started 'title') and\n"
        '<a href="../outside.md">out</a>.\n\n'
        "[reference]: docs/gone.md\n\n"
        "`[shown](../as-code.md)`\n\n"
        "```md\n[in a fence](../fenced.md)\n```\n"
    )
    assert link_targets(markdown) == [
        "docs/guide.md",
        "docs/guide.md#getting-started",
        "../outside.md",
        "docs/gone.md",
    ]
    (repository / "page.md").write_text(markdown)
    assert document_problems(repository / "page.md", repository) == [
        "../outside.md: leads out of the repository",
        "docs/gone.md: names no file of the repository",
    ]


def test_naming_the_outside_design_documents_is_caught() -> None:
    text = "The contract is in `DESIGN.md` of the shared documents (DESIGN §5)."
    assert [pattern.pattern for pattern in OUTSIDE_DOCUMENTS if pattern.search(text)] == [
        pattern.pattern for pattern in OUTSIDE_DOCUMENTS
    ]
