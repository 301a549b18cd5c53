"""Pull request reviews with inline comments, posted so that GitHub accepts them all.

A comment GitHub would refuse (a line outside the diff, a file the pull request does not change, a
binary file) would fail the whole review with a 422, so each one is checked against the changed
files' patches first and, if it cannot be placed, moved into the review's body with its location.

GitHub documents no limit on a review's comments, but a large review is slow to create and counts
heavily against the secondary rate limits (content creation), so inline comments go 50 to a
request: the first review carries the verdict and the body, further reviews "(continued)" carry
the rest as plain comments. At most 500 inline comments are posted per step; the body says how many
were left out.

Each review's body ends with a hidden marker naming the run, the step and the review's index, so a
retried step finds the reviews it already posted and posts only the missing ones.
"""

from dataclasses import dataclass

from github import Github

from github_app.api.diff_lines import LEFT, RIGHT, DiffLines, diff_lines
from github_app.api.installation_client import installation_call
from github_app.api.reads import MAX_PULL_REQUEST_FILES, _pages, _read
from github_app.api.writes import _write, comment_marker

REVIEW_EVENTS = ("COMMENT", "REQUEST_CHANGES", "APPROVE")
COMMENTS_PER_REVIEW = 50
MAX_INLINE_COMMENTS = 500
MAX_REVIEWS_LISTED = 1000
REVIEW_BODY_MAX_CHARS = 65536  # GitHub refuses a longer body
_ROOM_FOR_NOTES = 1000  # what the notes and the marker may take after the body and moved comments


@dataclass(frozen=True)
class ReviewComment:
    path: str
    line: int
    body: str
    side: str = RIGHT
    start_line: int | None = None
    start_side: str | None = None

    @property
    def location(self) -> str:
        lines = f"{self.start_line}-{self.line}" if self.start_line is not None else str(self.line)
        return f"{self.path}:{lines}" + (" (old file)" if self.side == LEFT else "")

    def as_github(self, *, path: str) -> dict:
        """The comment as the review request takes it, on the path the diff knows it by."""
        comment = {"path": path, "line": self.line, "side": self.side, "body": self.body}
        if self.start_line is not None:
            comment.update(start_line=self.start_line, start_side=self.start_side or self.side)
        return comment


@dataclass(frozen=True)
class ReviewPlacement:
    inline: list[dict]  # as the review request takes them
    moved: list[ReviewComment]  # not on a line of the diff: listed in the body
    omitted: int  # past MAX_INLINE_COMMENTS


@dataclass(frozen=True)
class ReviewResult:
    review_ids: list[int]
    html_url: str
    inline_comments: int
    moved_comments: int
    omitted_comments: int
    reviews_created: int


def review_comments_place(*, lines: DiffLines, comments: list[ReviewComment]) -> ReviewPlacement:
    """Split comments into those GitHub accepts inline and those to move into the body."""
    inline, moved = [], []
    for comment in comments:
        start_side = comment.start_side or comment.side
        if lines.commentable(
            path=comment.path,
            line=comment.line,
            side=comment.side,
            start_line=comment.start_line,
            start_side=start_side,
        ):
            inline.append(comment.as_github(path=lines.resolve(comment.path)))
        else:
            moved.append(comment)
    return ReviewPlacement(
        inline=inline[:MAX_INLINE_COMMENTS], moved=moved, omitted=max(0, len(inline) - MAX_INLINE_COMMENTS)
    )


def _moved_section(moved: list[ReviewComment], room: int) -> str:
    """The moved comments, each under its location, as many as fit in `room` characters."""
    if not moved:
        return ""
    section = f"**Comments on lines outside the diff ({len(moved)}):**"
    for shown, comment in enumerate(moved):
        entry = f"\n\n**`{comment.location}`**\n\n{comment.body}"
        if len(section) + len(entry) > room:
            return section + (
                f"\n\n…and {len(moved) - shown} more, left out: a review's body holds at most "
                f"{REVIEW_BODY_MAX_CHARS} characters."
            )
        section += entry
    return section


def review_body(*, body: str, placement: ReviewPlacement, marker: str) -> str:
    """The first review's body: the given body, the moved comments, a note of any left out, and
    the marker, within GitHub's limit."""
    limit = REVIEW_BODY_MAX_CHARS - _ROOM_FOR_NOTES
    clipped = body if len(body) <= limit else body[:limit] + "… [clipped]"
    parts = [clipped, _moved_section(placement.moved, limit - len(clipped))]
    if placement.omitted:
        parts.append(
            f"{placement.omitted} more inline comments were not posted: a review step posts at most "
            f"{MAX_INLINE_COMMENTS}."
        )
    return "\n\n".join(part for part in (*parts, marker) if part)


@dataclass(frozen=True)
class ReviewRequest:
    marker: str
    payload: dict


def review_requests(*, event: str, body: str, placement: ReviewPlacement, marker_key: str) -> list[ReviewRequest]:
    """The review requests to make, in order: the verdict with the body and the first comments,
    then "(continued)" reviews of further comments. Each body ends with its own marker."""
    batches = [
        placement.inline[start : start + COMMENTS_PER_REVIEW]
        for start in range(0, len(placement.inline), COMMENTS_PER_REVIEW)
    ] or [[]]
    requests = []
    for index, batch in enumerate(batches):
        marker = comment_marker(f"{marker_key}:{index}")
        if index == 0:
            payload = {"event": event, "body": review_body(body=body, placement=placement, marker=marker)}
        else:
            payload = {"event": "COMMENT", "body": f"(continued {index + 1}/{len(batches)})\n\n{marker}"}
        requests.append(ReviewRequest(marker=marker, payload={**payload, "comments": batch}))
    return requests


def review_post(
    *,
    installation_id: int,
    repo: str,
    number: int,
    event: str,
    body: str,
    comments: list[ReviewComment],
    marker_key: str,
) -> ReviewResult:
    """Post a review of the pull request's head commit, its comments placed on the diff or
    moved into the body; reviews a previous attempt posted (found by marker) are not posted again."""

    def write(github: Github) -> ReviewResult:
        head_sha = _read(github, f"/repos/{repo}/pulls/{number}")["head"]["sha"]
        files = _pages(github, f"/repos/{repo}/pulls/{number}/files", limit=MAX_PULL_REQUEST_FILES)
        placement = review_comments_place(lines=diff_lines(files), comments=comments)
        posted = _pages(github, f"/repos/{repo}/pulls/{number}/reviews", limit=MAX_REVIEWS_LISTED)
        reviews, created = [], 0
        for request in review_requests(event=event, body=body, placement=placement, marker_key=marker_key):
            review = next((review for review in posted if request.marker in (review.get("body") or "")), None)
            if review is None:
                review = _write(
                    github,
                    installation_id,
                    "POST",
                    f"/repos/{repo}/pulls/{number}/reviews",
                    {**request.payload, "commit_id": head_sha},
                )
                created += 1
            reviews.append(review)
        return ReviewResult(
            review_ids=[review["id"] for review in reviews],
            html_url=reviews[0]["html_url"],
            inline_comments=len(placement.inline),
            moved_comments=len(placement.moved),
            omitted_comments=placement.omitted,
            reviews_created=created,
        )

    return installation_call(installation_id, write)
