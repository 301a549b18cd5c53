"""A stateful model of the part of GitHub's REST API that the project uses, answering as GitHub
does: installation tokens minted, expiring and checked; repositories reached only through an
installation that covers them; per-installation rate limits; ETags and 304s; pages with Link
headers; comments and labels that stay written; users whose own tokens see some installations
and repositories; the OAuth code exchange and token refresh; the App's webhook delivery log.

Paths are relative to the API root (the OAuth exchange: to the web root), still percent-encoded.
"""

import base64
import hashlib
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlencode

from tests.github_double import bodies
from tests.github_double.exchange import Answer, Request, Service, json_answer, message_answer

DEFAULT_INSTALLATION_ID = 957387  # the recorded webhook examples' installation
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
MAX_DIFF_FILES = 300
DIFF = "application/vnd.github.diff"
USER_TOKEN_SECONDS = 8 * 3600
REVIEW_STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
CHECK_RUN_STATUSES = ("queued", "in_progress", "completed")
CHECK_RUN_CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out")
ANNOTATIONS_PER_REQUEST = 50


class Refusal(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RateLimit:
    """An installation's primary rate limit: a 304 spends nothing; the quota comes back at `reset`."""

    limit: int = 5000
    remaining: int | None = None  # None: the whole limit
    reset: int | None = None  # epoch seconds; None: an hour after the next request

    def check(self) -> None:
        moment = int(now().timestamp())
        if self.reset is not None and moment >= self.reset:
            self.remaining = self.reset = None
        if self.reset is None:
            self.reset = moment + 3600
        if self._remaining() <= 0:
            raise Refusal(message_answer(403, "API rate limit exceeded for installation.", self.headers()))

    def spend(self, answer: Answer) -> None:
        if answer.status != 304:
            self.remaining = self._remaining() - 1
        answer.headers.update(self.headers())

    def headers(self) -> dict:
        remaining = self._remaining()
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Used": str(self.limit - remaining),
        }

    def _remaining(self) -> int:
        return self.limit if self.remaining is None else self.remaining


@dataclass(eq=False)
class InstallationToken:
    value: str
    installation: "Installation"
    expires_at: datetime
    permissions: dict
    repositories: list[str] | None

    @property
    def usable(self) -> bool:
        return self in self.installation.tokens and self.expires_at > now()


@dataclass(eq=False)
class Issue:
    repository: "Repository"
    number: int
    comments: list[dict] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    # The issue as the issues API shows it (a pull request's title and state are its own).
    title: str = "Spelling error in the README file"
    text: str | None = None
    state: str = "open"
    state_reason: str | None = None
    assignees: list[str] = field(default_factory=list)
    author: str = "Codertocat"
    created_at: datetime = field(default_factory=now)

    @property
    def issue_body(self) -> dict:
        return bodies.issue_body(
            self.repository.full_name,
            self.number,
            title=self.title,
            body=self.text,
            state=self.state,
            state_reason=self.state_reason,
            labels=self.labels,
            assignees=self.assignees,
            author=self.author,
            comments=len(self.comments),
            created_at=self.created_at,
            pull_request=isinstance(self, PullRequest),
        )

    def comment(self, body: str, *, login: str = "octocat") -> dict:
        comment_id = next(self.repository.ids)
        comment = {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "body": body,
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "html_url": f"https://github.com/{self.repository.full_name}/issues/{self.number}#issuecomment-{comment_id}",
            "created_at": bodies.timestamp(now()),
            "updated_at": bodies.timestamp(now()),
        }
        self.comments.append(comment)
        return comment


@dataclass(eq=False)
class PullRequest(Issue):
    files: list[dict] = field(default_factory=list)
    review_comments: list[dict] = field(default_factory=list)
    changes: dict = field(default_factory=dict)
    reviews: list[dict] = field(default_factory=list)

    @property
    def body(self) -> dict:
        return bodies.pull_request_body(self.number, len(self.files), **self.changes)

    def review_comment(self, body: str, *, path: str) -> dict:
        comment = {
            "id": next(self.repository.ids),
            "body": body,
            "path": path,
            "user": {"login": "octocat", "type": "User"},
        }
        self.review_comments.append(comment)
        return comment

    def review_submit(self, data: dict, *, login: str) -> dict:
        """A review as `POST .../pulls/{n}/reviews` creates it, refused as GitHub refuses one:
        a comment on a path or line outside the diff fails the whole review, and nothing is stored."""
        event = data.get("event")
        if event not in REVIEW_STATES:
            raise Refusal(message_answer(422, f"Unprocessable Entity: event {event!r} is not valid"))
        if event != "APPROVE" and not data.get("body"):
            raise Refusal(json_answer(422, {"message": "Unprocessable Entity", "errors": ["Body can't be blank"]}))
        shown = {item["filename"]: patch_positions(item.get("patch")) for item in self.files}
        for comment in data.get("comments") or []:
            refusal = review_comment_refusal(comment, shown)
            if refusal:
                raise Refusal(json_answer(422, {"message": "Unprocessable Entity", "errors": [refusal]}))
        review_id = next(self.repository.ids)
        review = {
            "id": review_id,
            "node_id": f"PRR_{review_id}",
            "user": {"login": login, "type": "Bot"},
            "body": data.get("body") or "",
            "state": REVIEW_STATES[event],
            "html_url": f"https://github.com/{self.repository.full_name}/pull/{self.number}#pullrequestreview-{review_id}",
            "commit_id": data.get("commit_id") or self.body["head"]["sha"],
            "submitted_at": bodies.timestamp(now()),
        }
        self.reviews.append(review)
        for comment in data.get("comments") or []:
            self.review_comments.append(
                {
                    "id": next(self.repository.ids),
                    "pull_request_review_id": review_id,
                    "user": {"login": login, "type": "Bot"},
                    "commit_id": review["commit_id"],
                    **comment,
                }
            )
        return review


@dataclass(eq=False)
class Repository:
    id: int
    full_name: str
    private: bool
    ids: itertools.count  # the model's, shared by every comment
    issues: dict[int, Issue] = field(default_factory=dict)
    commits: dict[str, dict] = field(default_factory=dict)
    comparisons: dict[tuple[str, str], dict] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)  # one tree, whatever ref is asked
    check_runs: list[dict] = field(default_factory=list)
    check_run_annotations: dict[int, list[dict]] = field(default_factory=dict)  # check run id -> annotations
    # Its git objects (the Git Data API): branches -> commit sha; commits; flat trees (path ->
    # blob sha); blobs. Contents above stay apart: they serve the contents API alone.
    default_branch: str = "master"
    refs: dict[str, str] = field(default_factory=dict)
    git_commits: dict[str, dict] = field(default_factory=dict)
    trees: dict[str, dict[str, str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    tree_listing_limit: int = 100_000  # entries of a recursive tree listing past which GitHub truncates it
    collaborators: dict[str, str] = field(default_factory=dict)  # lowercased login -> role name

    @property
    def body(self) -> dict:
        return {**bodies.repository_body(self.id, self.full_name, self.private), "default_branch": self.default_branch}

    @property
    def summary(self) -> dict:
        return bodies.repository_summary(self.id, self.full_name, self.private)

    def pull_request(self, number: int, *, files: Sequence[dict] = (), **changes) -> PullRequest:
        pull_request = PullRequest(self, number, files=list(files), changes=changes)
        self.issues[number] = pull_request
        return pull_request

    def issue(self, number: int, *, labels: Sequence[str] = (), assignees: Sequence[str] = (), **fields) -> Issue:
        """An issue; `fields`: its title, text (the body), state, state_reason, author."""
        issue = Issue(self, number, labels=list(labels), assignees=list(assignees), **fields)
        self.issues[number] = issue
        return issue

    def commit(self, sha: str, *, files: Sequence[dict] = (), message: str = "Update") -> dict:
        commit = {"sha": sha, "commit": {"message": message, "author": {"name": "Codertocat"}}, "files": list(files)}
        self.commits[sha] = commit
        return commit

    def compare(self, base: str, head: str, *, files: Sequence[dict] = (), commits: int = 1) -> None:
        shas = [hashlib.sha1(f"{base}{head}{number}".encode()).hexdigest() for number in range(commits)]
        self.comparisons[(base, head)] = {
            "status": "ahead",
            "ahead_by": commits,
            "commits": [
                bodies.compared_commit(self.full_name, sha, f"Commit {number}") for number, sha in enumerate(shas)
            ],
            "files": list(files),
        }

    def file(self, path: str, content: bytes | str) -> None:
        self.contents[path] = content.encode() if isinstance(content, str) else content

    def collaborator(self, login: str, role: str) -> None:
        """`login` has the repository role `role` (read, triage, write, maintain, admin or a
        custom role's name); anyone else is not a collaborator."""
        self.collaborators[login.lower()] = role

    def blob(self, content: bytes) -> str:
        sha = git_object_sha("blob", content)
        self.blobs[sha] = content
        return sha

    def tree(self, entries: dict[str, str]) -> str:
        """A tree of `entries` (path -> blob sha), stored under the sha of what it holds."""
        sha = git_object_sha("tree", repr(sorted(entries.items())).encode())
        self.trees[sha] = dict(entries)
        return sha

    def git_commit(self, *, tree: str, parents: Sequence[str], message: str) -> str:
        # Two commits of one tree, parents and message still differ, as their timestamps would.
        content = f"{tree} {' '.join(parents)} {next(self.ids)}\n{message}".encode()
        sha = git_object_sha("commit", content)
        self.git_commits[sha] = {"tree": tree, "parents": list(parents), "message": message}
        return sha

    def push(self, branch: str, files: dict[str, bytes | str | None], *, message: str = "Update") -> str:
        """Someone's commit of `files` (None: deleted) on top of `branch` (its first commit when
        it has none yet), and the branch moved to it; returns the commit's sha."""
        head = self.refs.get(branch)
        entries = dict(self.trees[self.git_commits[head]["tree"]]) if head else {}
        for path, content in files.items():
            if content is None:
                entries.pop(path, None)
            else:
                entries[path] = self.blob(content.encode() if isinstance(content, str) else content)
        sha = self.git_commit(tree=self.tree(entries), parents=[head] if head else [], message=message)
        self.refs[branch] = sha
        return sha

    def files_at(self, branch: str) -> dict[str, bytes]:
        """The files of the branch's head commit, by path."""
        tree = self.trees[self.git_commits[self.refs[branch]]["tree"]]
        return {path: self.blobs[sha] for path, sha in tree.items()}

    def descends(self, sha: str, ancestor: str) -> bool:
        """Whether `ancestor` is `sha` or one of its ancestors (a move from it is a fast forward)."""
        seen, pending = set(), [sha]
        while pending:
            current = pending.pop()
            if current == ancestor:
                return True
            if current not in seen:
                seen.add(current)
                pending.extend(self.git_commits.get(current, {}).get("parents", []))
        return False


@dataclass(eq=False)
class Installation:
    id: int
    body: dict
    repositories: list[Repository]
    token: str | None = None  # the value every mint hands out; None: a new one each time
    token_lifetime: float = 3600  # seconds, GitHub's hour
    tokens: list[InstallationToken] = field(default_factory=list)  # minted, oldest first; revoked ones leave
    rate_limit: RateLimit = field(default_factory=RateLimit)

    def revoke_tokens(self) -> None:
        self.tokens.clear()


@dataclass(eq=False)
class User:
    """A GitHub account with the App authorized: its token sees the installations it was shown."""

    login: str
    id: int
    token: str | None
    refresh_token: str | None
    code: str  # the authorization code GitHub hands its browser at the install callback
    installations: dict[int, list[Repository] | None] = field(default_factory=dict)

    def sees(self, installation: Installation, repositories: list[Repository] | None = None) -> None:
        """The installation is among the user's, with `repositories` of it (None: all of them)."""
        self.installations[installation.id] = repositories

    def revoke(self) -> None:
        self.token = self.refresh_token = None


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    auth: str | None  # "app", "installation", "user" or None
    handler: Callable


ROUTES: list[Route] = []
OWNER_NAME = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"


def route(method: str, pattern: str, auth: str | None = None):
    def register(handler: Callable) -> Callable:
        ROUTES.append(Route(method, re.compile(pattern), auth, handler))
        return handler

    return register


class GitHub(Service):
    def __init__(self, *, app_slug: str = "aiworkflow") -> None:
        super().__init__()
        self.app_slug = app_slug
        self.ids = itertools.count(1)
        self.installations: dict[int, Installation] = {}
        self.repositories: dict[str, Repository] = {}
        self.users: list[User] = []
        self.hook_log: list[dict] = []  # newest first
        self.hook_log_page_size: int | None = None  # None: as many as `per_page` asks
        self.interleaved: list[tuple[str, str, Callable[[], object]]] = []

    # What a test sets up.

    def repository(self, full_name: str, *, id: int | None = None, private: bool = False) -> Repository:
        """The repository of that name, created on first mention."""
        key = full_name.lower()
        if key not in self.repositories:
            self.repositories[key] = Repository(id or next(self.ids), full_name, private, self.ids)
        return self.repositories[key]

    def installation(
        self,
        installation_id: int = DEFAULT_INSTALLATION_ID,
        *,
        repositories: Sequence[Repository | str] = (),
        **changes,
    ) -> Installation:
        """The App installed on an account, covering `repositories`; `changes` to its body."""
        covered = [self.repository(item) if isinstance(item, str) else item for item in repositories]
        installation = Installation(installation_id, bodies.installation_body(installation_id, **changes), covered)
        self.installations[installation_id] = installation
        return installation

    def user(
        self,
        *,
        login: str = "Codertocat",
        id: int = 21031067,
        token: str | None = None,
        refresh_token: str | None = None,
        code: str = "abc123",
    ) -> User:
        user = User(login, id, token or self._new_token("ghu_", 36), refresh_token or self._new_token("ghr_", 76), code)
        self.users.append(user)
        return user

    def hook_delivery(
        self,
        entry_id: int,
        guid: str,
        *,
        status_code: int = 202,
        minutes_ago: float = 5,
        event: str = "pull_request",
        action: str | None = "opened",
        redelivery: bool = False,
        installation_id: int = DEFAULT_INSTALLATION_ID,
        repository_id: int = 186853002,
    ) -> dict:
        """One attempt in the App's delivery log (we answered `status_code`; 0: nothing)."""
        entry = bodies.hook_delivery_body(
            entry_id,
            guid,
            status_code=status_code,
            minutes_ago=minutes_ago,
            event=event,
            action=action,
            redelivery=redelivery,
            installation_id=installation_id,
            repository_id=repository_id,
        )
        with self.lock:
            self.hook_log = sorted([*self.hook_log, entry], key=lambda item: item["id"], reverse=True)
        return entry

    def meanwhile(self, method: str, path: str, action: Callable[[], object]) -> None:
        """Run `action` when the next `method path` request arrives, before it is answered:
        someone else acting on GitHub between two of our requests (a push between our read of
        a branch and our update of it)."""
        with self.lock:
            self.interleaved.append((method, path, action))

    # What a test reads.

    @staticmethod
    def hook_log_cursor(entry: dict) -> str:
        """The cursor of the delivery log's page that follows `entry`."""
        return f"v1_{entry['id']}"

    def redeliveries_asked(self) -> list[int]:
        """The log entries GitHub was asked to redeliver, in order, whatever it answered."""
        asked = (
            re.fullmatch(r"/app/hook/deliveries/(\d+)/attempts", request.path) for request in self.requests("POST")
        )
        return [int(match.group(1)) for match in asked if match]

    # How it answers.

    def handle(self, request: Request) -> Answer:
        due = next((item for item in self.interleaved if item[:2] == (request.method, request.path)), None)
        if due is not None:
            self.interleaved.remove(due)
            due[2]()
        for candidate in ROUTES:
            match = candidate.pattern.fullmatch(request.path)
            if candidate.method == request.method and match:
                return self._answer(
                    candidate, request, {name: unquote(value) for name, value in match.groupdict().items()}
                )
        return message_answer(404)

    def _answer(self, candidate: Route, request: Request, arguments: dict) -> Answer:
        try:
            caller = self._caller(candidate.auth, request)
            if isinstance(caller, InstallationToken):
                caller.installation.rate_limit.check()
            answer = self._conditional(request, candidate.handler(self, request, caller, **arguments))
        except Refusal as refusal:
            return refusal.answer
        if isinstance(caller, InstallationToken):
            caller.installation.rate_limit.spend(answer)
        return answer

    def _caller(self, auth: str | None, request: Request):
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if auth == "app":
            if scheme != "Bearer" or credential.count(".") != 2:
                raise Refusal(message_answer(401, "A JSON web token could not be decoded"))
            return None
        if auth == "installation":
            token = next(
                (
                    token
                    for installation in self.installations.values()
                    for token in installation.tokens
                    if token.value == credential
                ),
                None,
            )
            if token is None or not token.usable:
                raise Refusal(message_answer(401, "Bad credentials"))
            return token
        if auth == "user":
            user = next((user for user in self.users if user.token and user.token == credential), None)
            if user is None:
                raise Refusal(message_answer(401, "Bad credentials"))
            return user
        return None

    @staticmethod
    def _conditional(request: Request, answer: Answer) -> Answer:
        """GitHub's ETags: a GET that names the current one is answered 304, without a body."""
        if request.method != "GET" or answer.status != 200:
            return answer
        etag = 'W/"' + hashlib.sha1(answer.body + request.headers.get("Accept", "").encode()).hexdigest() + '"'
        if request.headers.get("If-None-Match") == etag:
            return Answer(304, b"", {"ETag": etag})
        return Answer(answer.status, answer.body, {**answer.headers, "ETag": etag})

    def _new_token(self, prefix: str, length: int) -> str:
        return f"{prefix}{next(self.ids):0{length}d}"

    def _covered(self, token: InstallationToken, owner: str, name: str) -> Repository:
        """The repository, if the token's installation covers it; GitHub's 404 otherwise."""
        repository = self.repositories.get(f"{owner}/{name}".lower())
        scope = token.repositories
        if repository not in token.installation.repositories or (
            scope and repository.full_name.split("/")[1] not in scope
        ):
            raise Refusal(message_answer(404))
        return repository

    @staticmethod
    def _issue(repository: Repository, number: str) -> Issue:
        issue = repository.issues.get(int(number))
        if issue is None:
            raise Refusal(message_answer(404))
        return issue

    @classmethod
    def _pull_request(cls, repository: Repository, number: str) -> PullRequest:
        pull_request = cls._issue(repository, number)
        if not isinstance(pull_request, PullRequest):
            raise Refusal(message_answer(404))
        return pull_request

    # The App, with its JWT.

    @route("GET", r"/app", auth="app")
    def _app_get(self, request: Request, caller) -> Answer:
        return json_answer(200, {"slug": self.app_slug, "name": self.app_slug})

    @route("GET", r"/app/installations/(?P<installation_id>\d+)", auth="app")
    def _installation_get(self, request: Request, caller, installation_id: str) -> Answer:
        installation = self.installations.get(int(installation_id))
        return json_answer(200, installation.body) if installation else message_answer(404)

    @route("POST", r"/app/installations/(?P<installation_id>\d+)/access_tokens", auth="app")
    def _token_mint(self, request: Request, caller, installation_id: str) -> Answer:
        installation = self.installations.get(int(installation_id))
        if installation is None:
            return message_answer(404)
        scope = request.json() if request.body else {}
        token = InstallationToken(
            installation.token or self._new_token("ghs_", 36),
            installation,
            now() + timedelta(seconds=installation.token_lifetime),
            scope.get("permissions") or {},
            scope.get("repositories"),
        )
        installation.tokens.append(token)
        body = {
            "token": token.value,
            "expires_at": bodies.timestamp(token.expires_at),
            "permissions": token.permissions,
            "repository_selection": "selected",
        }
        return json_answer(201, body)

    @route("GET", r"/app/hook/deliveries", auth="app")
    def _hook_log_page(self, request: Request, caller) -> Answer:
        size = self.hook_log_page_size or int(request.query.get("per_page", DEFAULT_PER_PAGE))
        cursor = request.query.get("cursor")
        entries = [entry for entry in self.hook_log if cursor is None or entry["id"] < int(cursor.removeprefix("v1_"))]
        page = entries[:size]
        headers = {}
        if len(entries) > size:
            query = urlencode(
                {"per_page": request.query.get("per_page", DEFAULT_PER_PAGE), "cursor": self.hook_log_cursor(page[-1])}
            )
            headers["Link"] = f'<{request.base}{request.path}?{query}>; rel="next"'
        return json_answer(200, page, headers)

    @route("POST", r"/app/hook/deliveries/(?P<entry_id>\d+)/attempts", auth="app")
    def _redeliver(self, request: Request, caller, entry_id: str) -> Answer:
        known = any(entry["id"] == int(entry_id) for entry in self.hook_log)
        return json_answer(202, {}) if known else message_answer(404)

    # An installation, with its token.

    @route("GET", r"/installation/repositories", auth="installation")
    def _installation_repositories(self, request: Request, token: InstallationToken) -> Answer:
        selection = token.installation.body.get("repository_selection")
        repositories = [repository.body for repository in token.installation.repositories]
        return paged(request, repositories, "repositories", {"repository_selection": selection})

    @route("GET", OWNER_NAME, auth="installation")
    def _repository_get(self, request: Request, token: InstallationToken, owner: str, name: str) -> Answer:
        return json_answer(200, self._covered(token, owner, name).body)

    @route("GET", OWNER_NAME + r"/pulls/(?P<number>\d+)", auth="installation")
    def _pull_request_get(
        self, request: Request, token: InstallationToken, owner: str, name: str, number: str
    ) -> Answer:
        pull_request = self._pull_request(self._covered(token, owner, name), number)
        if request.headers.get("Accept") != DIFF:
            return json_answer(200, pull_request.body)
        if len(pull_request.files) > MAX_DIFF_FILES:
            errors = [{"resource": "PullRequest", "field": "diff", "code": "too_large"}]
            return json_answer(
                406,
                {
                    "message": f"Sorry, the diff exceeded the maximum number of files ({MAX_DIFF_FILES}).",
                    "errors": errors,
                },
            )
        return Answer(
            200, bodies.unified_diff(pull_request.files).encode(), {"Content-Type": "text/plain; charset=utf-8"}
        )

    @route("GET", OWNER_NAME + r"/pulls/(?P<number>\d+)/files", auth="installation")
    def _pull_request_files(
        self, request: Request, token: InstallationToken, owner: str, name: str, number: str
    ) -> Answer:
        return paged(request, self._pull_request(self._covered(token, owner, name), number).files)

    @route("GET", OWNER_NAME + r"/pulls/(?P<number>\d+)/comments", auth="installation")
    def _review_comments(
        self, request: Request, token: InstallationToken, owner: str, name: str, number: str
    ) -> Answer:
        return paged(request, self._pull_request(self._covered(token, owner, name), number).review_comments)

    @route("GET", OWNER_NAME + r"/issues/(?P<number>\d+)/comments", auth="installation")
    def _issue_comments(self, request: Request, token: InstallationToken, owner: str, name: str, number: str) -> Answer:
        return paged(request, self._issue(self._covered(token, owner, name), number).comments)

    @route("POST", OWNER_NAME + r"/issues/(?P<number>\d+)/comments", auth="installation")
    def _comment_create(self, request: Request, token: InstallationToken, owner: str, name: str, number: str) -> Answer:
        issue = self._issue(self._covered(token, owner, name), number)
        return json_answer(201, issue.comment(request.json()["body"], login=f"{self.app_slug}[bot]"))

    @route("PATCH", OWNER_NAME + r"/issues/comments/(?P<comment_id>\d+)", auth="installation")
    def _comment_edit(
        self, request: Request, token: InstallationToken, owner: str, name: str, comment_id: str
    ) -> Answer:
        repository = self._covered(token, owner, name)
        comment = next(
            (
                comment
                for issue in repository.issues.values()
                for comment in issue.comments
                if comment["id"] == int(comment_id)
            ),
            None,
        )
        if comment is None:
            return message_answer(404)
        comment.update(body=request.json()["body"], updated_at=bodies.timestamp(now()))
        return json_answer(200, comment)

    @route("POST", OWNER_NAME + r"/issues/(?P<number>\d+)/labels", auth="installation")
    def _labels_add(self, request: Request, token: InstallationToken, owner: str, name: str, number: str) -> Answer:
        issue = self._issue(self._covered(token, owner, name), number)
        issue.labels.extend(label for label in request.json()["labels"] if label not in issue.labels)
        return json_answer(200, [{"id": index + 1, "name": label} for index, label in enumerate(issue.labels)])

    # Issues: read, listed, opened, edited; labels taken off.

    @route("GET", OWNER_NAME + r"/issues", auth="installation")
    def _issues_list(self, request: Request, token: InstallationToken, owner: str, name: str) -> Answer:
        repository = self._covered(token, owner, name)
        state, creator = request.query.get("state", "open"), request.query.get("creator")
        wanted = [label for label in request.query.get("labels", "").split(",") if label]
        listed = [
            issue
            for issue in repository.issues.values()
            if state in ("all", issue.state)
            and creator in (None, issue.author)
            and all(label in issue.labels for label in wanted)
        ]
        newest_first = request.query.get("direction", "desc") == "desc"
        listed.sort(key=lambda issue: (issue.created_at, issue.number), reverse=newest_first)
        return paged(request, [issue.issue_body for issue in listed])

    @route("GET", OWNER_NAME + r"/issues/(?P<number>\d+)", auth="installation")
    def _issue_get(self, request: Request, token: InstallationToken, owner: str, name: str, number: str) -> Answer:
        return json_answer(200, self._issue(self._covered(token, owner, name), number).issue_body)

    @route("POST", OWNER_NAME + r"/issues", auth="installation")
    def _issue_create(self, request: Request, token: InstallationToken, owner: str, name: str) -> Answer:
        repository = self._covered(token, owner, name)
        data = request.json()
        if not data.get("title"):
            errors = [{"resource": "Issue", "field": "title", "code": "missing_field"}]
            return json_answer(422, {"message": "Validation Failed", "errors": errors})
        issue = repository.issue(
            max(repository.issues, default=0) + 1,
            labels=data.get("labels") or [],
            assignees=data.get("assignees") or [],
            title=data["title"],
            text=data.get("body"),
            author=f"{self.app_slug}[bot]",
        )
        return json_answer(201, issue.issue_body)

    @route("PATCH", OWNER_NAME + r"/issues/(?P<number>\d+)", auth="installation")
    def _issue_edit(self, request: Request, token: InstallationToken, owner: str, name: str, number: str) -> Answer:
        issue = self._issue(self._covered(token, owner, name), number)
        edits = request.json()
        if "state" in edits and edits["state"] != issue.state:
            # GitHub's own reason when none is given: closed as completed, or reopened.
            issue.state_reason = "completed" if edits["state"] == "closed" else "reopened"
        fields = {"title": "title", "body": "text", "state": "state", "state_reason": "state_reason"}
        for key, attribute in {**fields, "assignees": "assignees", "labels": "labels"}.items():
            if key in edits:
                setattr(issue, attribute, edits[key])
        return json_answer(200, issue.issue_body)

    @route("GET", OWNER_NAME + r"/issues/(?P<number>\d+)/labels", auth="installation")
    def _issue_labels(self, request: Request, token: InstallationToken, owner: str, name: str, number: str) -> Answer:
        repository = self._covered(token, owner, name)
        issue = self._issue(repository, number)
        return paged(request, [bodies.issue_label(repository.full_name, label) for label in issue.labels])

    @route("DELETE", OWNER_NAME + r"/issues/(?P<number>\d+)/labels/(?P<label>[^/]+)", auth="installation")
    def _label_remove(
        self, request: Request, token: InstallationToken, owner: str, name: str, number: str, label: str
    ) -> Answer:
        repository = self._covered(token, owner, name)
        issue = self._issue(repository, number)
        if label not in issue.labels:
            return message_answer(404, "Label does not exist")
        issue.labels.remove(label)
        return json_answer(200, [bodies.issue_label(repository.full_name, kept) for kept in issue.labels])

    @route("GET", OWNER_NAME + r"/commits/(?P<sha>[^/]+)", auth="installation")
    def _commit_get(self, request: Request, token: InstallationToken, owner: str, name: str, sha: str) -> Answer:
        commit = self._covered(token, owner, name).commits.get(sha)
        return json_answer(200, commit) if commit else json_answer(422, {"message": f"No commit found for SHA: {sha}"})

    @route("GET", OWNER_NAME + r"/compare/(?P<base>.+?)\.\.\.(?P<head>.+)", auth="installation")
    def _compare(
        self, request: Request, token: InstallationToken, owner: str, name: str, base: str, head: str
    ) -> Answer:
        comparison = self._covered(token, owner, name).comparisons.get((base, head))
        if comparison is None:
            return message_answer(404)
        per_page, page = page_of(request)
        commits = comparison["commits"][(page - 1) * per_page : page * per_page]
        return json_answer(
            200,
            {
                **comparison,
                "total_commits": len(comparison["commits"]),
                "commits": commits,
                "files": comparison["files"] if page == 1 else [],
            },
        )

    @route("GET", OWNER_NAME + r"/contents/(?P<path>.+)", auth="installation")
    def _contents(self, request: Request, token: InstallationToken, owner: str, name: str, path: str) -> Answer:
        repository = self._covered(token, owner, name)
        if path in repository.contents:
            return json_answer(200, content_entry(path, repository.contents[path], with_content=True))
        listing = [
            content_entry(item, raw, with_content=False)
            for item, raw in repository.contents.items()
            if item.startswith(f"{path}/")
        ]
        return json_answer(200, listing) if listing else message_answer(404)

    # Git data: refs, commits, trees and blobs; and pull requests opened through the API.

    @route("GET", OWNER_NAME + r"/git/ref/heads/(?P<branch>.+)", auth="installation")
    def _git_ref_get(self, request: Request, token: InstallationToken, owner: str, name: str, branch: str) -> Answer:
        repository = self._covered(token, owner, name)
        if branch not in repository.refs:
            return message_answer(404)
        return json_answer(200, git_ref_body(repository, branch))

    @route("POST", OWNER_NAME + r"/git/refs", auth="installation")
    def _git_ref_create(self, request: Request, token: InstallationToken, owner: str, name: str) -> Answer:
        repository = self._covered(token, owner, name)
        data = request.json()
        ref, sha = data.get("ref") or "", data.get("sha")
        if not ref.startswith("refs/heads/") or ref.count("/") < 2:
            return message_answer(422, "Reference name must start with 'refs/' and have at least two slashes.")
        branch = ref.removeprefix("refs/heads/")
        if branch in repository.refs:
            return message_answer(422, "Reference already exists")
        if sha not in repository.git_commits:
            return message_answer(422, "Object does not exist")
        repository.refs[branch] = sha
        return json_answer(201, git_ref_body(repository, branch))

    @route("PATCH", OWNER_NAME + r"/git/refs/heads/(?P<branch>.+)", auth="installation")
    def _git_ref_update(self, request: Request, token: InstallationToken, owner: str, name: str, branch: str) -> Answer:
        repository = self._covered(token, owner, name)
        data = request.json()
        sha = data.get("sha")
        if branch not in repository.refs:
            return message_answer(422, "Reference does not exist")
        if sha not in repository.git_commits:
            return message_answer(422, "Object does not exist")
        if not data.get("force") and not repository.descends(sha, repository.refs[branch]):
            return message_answer(422, "Update is not a fast forward")
        repository.refs[branch] = sha
        return json_answer(200, git_ref_body(repository, branch))

    @route("GET", OWNER_NAME + r"/git/commits/(?P<sha>[^/]+)", auth="installation")
    def _git_commit_get(self, request: Request, token: InstallationToken, owner: str, name: str, sha: str) -> Answer:
        repository = self._covered(token, owner, name)
        if sha not in repository.git_commits:
            return message_answer(404)
        return json_answer(200, git_commit_body(repository, sha))

    @route("POST", OWNER_NAME + r"/git/commits", auth="installation")
    def _git_commit_create(self, request: Request, token: InstallationToken, owner: str, name: str) -> Answer:
        repository = self._covered(token, owner, name)
        data = request.json()
        if data.get("tree") not in repository.trees:
            return message_answer(422, "Tree SHA does not exist")
        if any(parent not in repository.git_commits for parent in data.get("parents", [])):
            return message_answer(422, "Parent SHA does not exist or is not a commit object")
        sha = repository.git_commit(tree=data["tree"], parents=data.get("parents", []), message=data["message"])
        return json_answer(201, git_commit_body(repository, sha))

    @route("POST", OWNER_NAME + r"/git/trees", auth="installation")
    def _git_tree_create(self, request: Request, token: InstallationToken, owner: str, name: str) -> Answer:
        repository = self._covered(token, owner, name)
        data = request.json()
        base = data.get("base_tree")
        if base is not None and base not in repository.trees:
            return message_answer(422, "base_tree is not a valid tree oid")
        entries = dict(repository.trees[base]) if base else {}
        for entry in data["tree"]:
            path = entry["path"]
            if "content" in entry and entry.get("sha") is not None:
                return message_answer(422, "Must supply either tree.sha or tree.content. Request will be rejected.")
            if "content" in entry:
                entries[path] = repository.blob(entry["content"].encode())
            elif "sha" not in entry:
                return message_answer(422, "Must supply either tree.sha or tree.content.")
            elif entry["sha"] is None:
                if path not in entries:  # GitHub: "Returns an error if you try to delete a file that does not exist."
                    return message_answer(422, f"GitRPC::BadObjectState: {path} does not exist")
                del entries[path]
            elif entry["sha"] in repository.blobs:
                entries[path] = entry["sha"]
            else:
                return message_answer(422, "tree.sha is not a valid blob")
        sha = repository.tree(entries)
        tree = [
            {"path": path, "mode": "100644", "type": "blob", "sha": blob, "size": len(repository.blobs[blob])}
            for path, blob in sorted(entries.items())
        ]
        return json_answer(
            201, {"sha": sha, "url": git_url(repository, f"trees/{sha}"), "tree": tree, "truncated": False}
        )

    @route("GET", OWNER_NAME + r"/git/trees/(?P<tree_sha>[^/]+)", auth="installation")
    def _git_tree_get(self, request: Request, token: InstallationToken, owner: str, name: str, tree_sha: str) -> Answer:
        """A tree by its sha, a commit's sha or a branch name; `recursive` (any value) lists
        every subtree and blob under it, cut at the repository's listing limit."""
        repository = self._covered(token, owner, name)
        commit = repository.refs.get(tree_sha, tree_sha)
        sha = repository.git_commits.get(commit, {}).get("tree", tree_sha)
        if sha not in repository.trees:
            return message_answer(404)
        listing = tree_listing(repository, repository.trees[sha], recursive="recursive" in request.query)
        limit = repository.tree_listing_limit
        body = {"sha": sha, "url": git_url(repository, f"trees/{sha}"), "tree": listing[:limit]}
        return json_answer(200, {**body, "truncated": len(listing) > limit})

    @route("POST", OWNER_NAME + r"/git/blobs", auth="installation")
    def _git_blob_create(self, request: Request, token: InstallationToken, owner: str, name: str) -> Answer:
        repository = self._covered(token, owner, name)
        data = request.json()
        encoded = data["content"]
        content = base64.b64decode(encoded) if data.get("encoding") == "base64" else encoded.encode()
        sha = repository.blob(content)
        return json_answer(201, {"sha": sha, "url": git_url(repository, f"blobs/{sha}")})

    @route("GET", OWNER_NAME + r"/pulls", auth="installation")
    def _pull_requests_list(self, request: Request, token: InstallationToken, owner: str, name: str) -> Answer:
        repository = self._covered(token, owner, name)
        state, head, base = (request.query.get(key) for key in ("state", "head", "base"))
        listed = [
            pull_request.body
            for pull_request in repository.issues.values()
            if isinstance(pull_request, PullRequest)
            and pull_request.body["state"] in ({"open", "closed"} if state == "all" else {state or "open"})
            and head in (None, pull_request.body["head"]["label"])
            and base in (None, pull_request.body["base"]["ref"])
        ]
        return paged(request, listed)

    @route("POST", OWNER_NAME + r"/pulls", auth="installation")
    def _pull_request_create(self, request: Request, token: InstallationToken, owner: str, name: str) -> Answer:
        repository = self._covered(token, owner, name)
        data = request.json()
        head, base = data.get("head", ""), data.get("base", "")
        branch = head.split(":", 1)[-1]
        if branch not in repository.refs or base not in repository.refs:
            field_name = "head" if branch not in repository.refs else "base"
            return json_answer(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "PullRequest", "field": field_name, "code": "invalid"}],
                },
            )
        label = f"{repository.full_name.split('/')[0]}:{branch}"
        if any(
            isinstance(other, PullRequest)
            and other.body["state"] == "open"
            and (other.body["head"]["label"], other.body["base"]["ref"]) == (label, base)
            for other in repository.issues.values()
        ):
            return message_answer(422, f"A pull request already exists for {label}.")
        if repository.descends(repository.refs[base], repository.refs[branch]):
            return message_answer(422, f"No commits between {base} and {branch}")
        number = max(repository.issues, default=0) + 1
        pull_request = repository.pull_request(
            number,
            **pull_request_fields(repository, number, branch=branch, base=base),
            title=data.get("title", ""),
            body=data.get("body"),
            draft=bool(data.get("draft")),
        )
        return json_answer(201, pull_request.body)

    @route("PATCH", OWNER_NAME + r"/pulls/(?P<number>\d+)", auth="installation")
    def _pull_request_edit(
        self, request: Request, token: InstallationToken, owner: str, name: str, number: str
    ) -> Answer:
        pull_request = self._pull_request(self._covered(token, owner, name), number)
        edits = request.json()
        pull_request.changes.update({key: edits[key] for key in ("title", "body", "state") if key in edits})
        return json_answer(200, pull_request.body)

    # Pull request reviews and check runs.

    @route("GET", OWNER_NAME + r"/pulls/(?P<number>\d+)/reviews", auth="installation")
    def _reviews(self, request: Request, token: InstallationToken, owner: str, name: str, number: str) -> Answer:
        return paged(request, self._pull_request(self._covered(token, owner, name), number).reviews)

    @route("POST", OWNER_NAME + r"/pulls/(?P<number>\d+)/reviews", auth="installation")
    def _review_create(self, request: Request, token: InstallationToken, owner: str, name: str, number: str) -> Answer:
        pull_request = self._pull_request(self._covered(token, owner, name), number)
        return json_answer(200, pull_request.review_submit(request.json(), login=f"{self.app_slug}[bot]"))

    @route("POST", OWNER_NAME + r"/check-runs", auth="installation")
    def _check_run_create(self, request: Request, token: InstallationToken, owner: str, name: str) -> Answer:
        repository = self._covered(token, owner, name)
        data = request.json()
        if not data.get("name") or not data.get("head_sha"):
            return message_answer(422, "Invalid request: name and head_sha are required.")
        check_run_id = next(self.ids)
        check_run = {
            "id": check_run_id,
            "name": data["name"],
            "head_sha": data["head_sha"],
            "external_id": data.get("external_id") or "",
            "status": "queued",
            "conclusion": None,
            "html_url": f"https://github.com/{repository.full_name}/runs/{check_run_id}",
            "started_at": bodies.timestamp(now()),
            "completed_at": None,
            "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
            "app": {"slug": self.app_slug},
        }
        check_run_apply(repository, check_run, data)
        repository.check_runs.append(check_run)
        return json_answer(201, check_run)

    @route("PATCH", OWNER_NAME + r"/check-runs/(?P<check_run_id>\d+)", auth="installation")
    def _check_run_update(
        self, request: Request, token: InstallationToken, owner: str, name: str, check_run_id: str
    ) -> Answer:
        repository = self._covered(token, owner, name)
        check_run = check_run_of(repository, check_run_id)
        check_run_apply(repository, check_run, request.json())
        return json_answer(200, check_run)

    @route("GET", OWNER_NAME + r"/check-runs/(?P<check_run_id>\d+)", auth="installation")
    def _check_run_get(
        self, request: Request, token: InstallationToken, owner: str, name: str, check_run_id: str
    ) -> Answer:
        return json_answer(200, check_run_of(self._covered(token, owner, name), check_run_id))

    @route("GET", OWNER_NAME + r"/check-runs/(?P<check_run_id>\d+)/annotations", auth="installation")
    def _check_run_annotations(
        self, request: Request, token: InstallationToken, owner: str, name: str, check_run_id: str
    ) -> Answer:
        repository = self._covered(token, owner, name)
        check_run = check_run_of(repository, check_run_id)
        return paged(request, repository.check_run_annotations.get(check_run["id"], []))

    @route("GET", OWNER_NAME + r"/commits/(?P<ref>[^/]+)/check-runs", auth="installation")
    def _check_runs_for_ref(
        self, request: Request, token: InstallationToken, owner: str, name: str, ref: str
    ) -> Answer:
        wanted = request.query.get("check_name")
        listed = [
            check_run
            for check_run in self._covered(token, owner, name).check_runs
            if check_run["head_sha"] == ref and wanted in (None, check_run["name"])
        ]
        return paged(request, listed, "check_runs")

    @route("GET", OWNER_NAME + r"/collaborators/(?P<username>[^/]+)/permission", auth="installation")
    def _collaborator_permission(
        self, request: Request, token: InstallationToken, owner: str, name: str, username: str
    ) -> Answer:
        role = self._covered(token, owner, name).collaborators.get(username.lower())
        if role is None:
            return message_answer(404, f"{username} is not a user")
        # `permission` is the base one of the role: maintain counts as write, triage as read; a
        # custom role here grants read.
        permission = {"admin": "admin", "maintain": "write", "write": "write"}.get(role, "read")
        user = {"login": username, "id": next(self.ids), "type": "User"}
        return json_answer(200, {"permission": permission, "role_name": role, "user": user})

    # A user, with their own token.

    @route("GET", r"/user", auth="user")
    def _user_get(self, request: Request, user: User) -> Answer:
        return json_answer(200, {"login": user.login, "id": user.id, "type": "User"})

    @route("GET", r"/user/installations", auth="user")
    def _user_installations(self, request: Request, user: User) -> Answer:
        visible = [
            self.installations[installation_id].body
            for installation_id in user.installations
            if installation_id in self.installations
        ]
        return paged(request, visible, "installations")

    @route("GET", r"/user/installations/(?P<installation_id>\d+)/repositories", auth="user")
    def _user_repositories(self, request: Request, user: User, installation_id: str) -> Answer:
        installation = self.installations.get(int(installation_id))
        if installation is None or installation.id not in user.installations:
            return message_answer(404)
        repositories = user.installations[installation.id]
        visible = installation.repositories if repositories is None else repositories
        return paged(request, [repository.body for repository in visible], "repositories")

    # The web flow: GitHub answers 200 with an `error` for a code or refresh token it refuses.

    @route("POST", r"/login/oauth/access_token")
    def _oauth_token(self, request: Request, caller) -> Answer:
        grant = request.form()
        if grant.get("grant_type") == "refresh_token":
            user = next(
                (
                    user
                    for user in self.users
                    if user.refresh_token and user.refresh_token == grant.get("refresh_token")
                ),
                None,
            )
            if user is None:
                return json_answer(
                    200,
                    {
                        "error": "bad_refresh_token",
                        "error_description": "The refresh token passed is incorrect or expired.",
                    },
                )
            user.token, user.refresh_token = self._new_token("ghu_", 36), self._new_token("ghr_", 76)
        else:
            user = next((user for user in self.users if user.token and user.code == grant.get("code")), None)
            if user is None:
                return json_answer(
                    200,
                    {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."},
                )
        return json_answer(
            200,
            {
                "access_token": user.token,
                "expires_in": USER_TOKEN_SECONDS,
                "refresh_token": user.refresh_token,
                "refresh_token_expires_in": 15811200,
                "scope": "",
                "token_type": "bearer",
            },
        )


def page_of(request: Request) -> tuple[int, int]:
    per_page = min(int(request.query.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
    return per_page, int(request.query.get("page", 1))


def paged(request: Request, items: list, item_key: str | None = None, extra: dict | None = None) -> Answer:
    """One page of `items`, with GitHub's Link header to the next and last pages."""
    per_page, page = page_of(request)
    last = max(1, -(-len(items) // per_page))
    chosen = items[(page - 1) * per_page : page * per_page]
    body = chosen if item_key is None else {"total_count": len(items), **(extra or {}), item_key: chosen}
    links = [(page + 1, "next"), (last, "last")] if page < last else []
    link = ", ".join(
        f'<{request.base}{request.path}?{urlencode({**request.query, "page": number})}>; rel="{rel}"'
        for number, rel in links
    )
    return json_answer(200, body, {"Link": link} if link else {})


def content_entry(path: str, raw: bytes, *, with_content: bool) -> dict:
    entry = {
        "type": "file",
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "size": len(raw),
        "sha": hashlib.sha1(raw).hexdigest(),
    }
    return {**entry, "encoding": "base64", "content": base64.encodebytes(raw).decode()} if with_content else entry


def git_object_sha(kind: str, content: bytes) -> str:
    """The object's id as git computes it: the sha1 of its kind, size and content."""
    return hashlib.sha1(f"{kind} {len(content)}\0".encode() + content).hexdigest()


def git_url(repository: Repository, tail: str) -> str:
    return f"https://api.github.com/repos/{repository.full_name}/git/{tail}"


def git_ref_body(repository: Repository, branch: str) -> dict:
    sha = repository.refs[branch]
    return {
        "ref": f"refs/heads/{branch}",
        "node_id": f"REF_{hashlib.sha1(branch.encode()).hexdigest()[:12]}",
        "url": git_url(repository, f"refs/heads/{branch}"),
        "object": {"sha": sha, "type": "commit", "url": git_url(repository, f"commits/{sha}")},
    }


def git_commit_body(repository: Repository, sha: str) -> dict:
    commit = repository.git_commits[sha]
    person = {"name": "Codertocat", "email": "octocat@github.com", "date": "2011-04-14T16:00:49Z"}
    return {
        "sha": sha,
        "node_id": f"C_{sha[:12]}",
        "url": git_url(repository, f"commits/{sha}"),
        "html_url": f"https://github.com/{repository.full_name}/commit/{sha}",
        "author": person,
        "committer": person,
        "message": commit["message"],
        "tree": {"sha": commit["tree"], "url": git_url(repository, f"trees/{commit['tree']}")},
        "parents": [
            {
                "sha": parent,
                "url": git_url(repository, f"commits/{parent}"),
                "html_url": f"https://github.com/{repository.full_name}/commit/{parent}",
            }
            for parent in commit["parents"]
        ],
        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
    }


def pull_request_fields(repository: Repository, number: int, *, branch: str, base: str) -> dict:
    """What a pull request opened through the API has of its own, over the recorded example's."""
    example = bodies.example("pull_request__opened")["pull_request"]
    owner = repository.full_name.split("/")[0]

    def side(name: str, ref: str) -> dict:
        return {**example[name], "label": f"{owner}:{ref}", "ref": ref, "sha": repository.refs[ref]}

    return {
        "url": f"https://api.github.com/repos/{repository.full_name}/pulls/{number}",
        "html_url": f"https://github.com/{repository.full_name}/pull/{number}",
        "state": "open",
        "head": side("head", branch),
        "base": side("base", base),
    }


def tree_listing(repository: Repository, entries: dict[str, str], *, recursive: bool) -> list[dict]:
    """A flat tree (path -> blob sha) as GitHub lists it: its directories as subtrees, and with
    `recursive` everything under them too, by path."""
    listed: dict[str, dict] = {}
    for path, blob in entries.items():
        parts = path.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            tree_sha = git_object_sha("tree", directory.encode())
            listed[directory] = {"path": directory, "mode": "040000", "type": "tree", "sha": tree_sha}
        blob_entry = {"path": path, "mode": "100644", "type": "blob", "sha": blob, "size": len(repository.blobs[blob])}
        listed[path] = blob_entry
    chosen = [entry for path, entry in sorted(listed.items()) if recursive or "/" not in path]
    return [{**entry, "url": git_url(repository, f"{entry['type']}s/{entry['sha']}")} for entry in chosen]


def patch_positions(patch: str | None) -> dict[tuple[str, int], int]:
    """(side, line) -> hunk index for every line a file's patch shows: what GitHub lets a review
    comment sit on (no patch, as for a binary file: nothing)."""
    shown: dict[tuple[str, int], int] = {}
    hunk, old, new = -1, 0, 0
    for text in (patch or "").splitlines():
        header = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", text)
        if header:
            hunk, old, new = hunk + 1, int(header.group(1)), int(header.group(2))
        elif hunk >= 0 and text.startswith("+"):
            shown[("RIGHT", new)], new = hunk, new + 1
        elif hunk >= 0 and text.startswith("-"):
            shown[("LEFT", old)], old = hunk, old + 1
        elif hunk >= 0 and not text.startswith("\\"):
            shown[("LEFT", old)] = shown[("RIGHT", new)] = hunk
            old, new = old + 1, new + 1
    return shown


def review_comment_refusal(comment: dict, shown: dict[str, dict]) -> str | None:
    """GitHub's error for a review comment it cannot place, or None."""
    positions = shown.get(comment.get("path", ""))
    if positions is None:
        return "Path could not be resolved"
    side = comment.get("side", "RIGHT")
    hunk = positions.get((side, comment.get("line")))
    if hunk is None:
        return "pull_request_review_thread.line must be part of the diff"
    if "start_line" in comment:
        start = positions.get((comment.get("start_side", side), comment["start_line"]))
        if start != hunk:
            return "pull_request_review_thread.start_line must be part of the same hunk as the line."
    return None


def check_run_of(repository: Repository, check_run_id: str) -> dict:
    check_run = next((item for item in repository.check_runs if item["id"] == int(check_run_id)), None)
    if check_run is None:
        raise Refusal(message_answer(404))
    return check_run


def check_run_apply(repository: Repository, check_run: dict, data: dict) -> None:
    """A create's or update's fields on the check run, checked first as GitHub checks them:
    nothing changes when one is refused. Annotations add to those the check run holds."""
    status, conclusion, output = data.get("status"), data.get("conclusion"), data.get("output")
    annotations = (output or {}).get("annotations") or []
    if status is not None and status not in CHECK_RUN_STATUSES:
        raise Refusal(message_answer(422, f"Invalid request: status {status!r} is not a member of the enum."))
    if conclusion is not None and conclusion not in CHECK_RUN_CONCLUSIONS:
        raise Refusal(message_answer(422, f"Invalid request: conclusion {conclusion!r} is not a member of the enum."))
    if status == "completed" and conclusion is None and check_run["conclusion"] is None:
        raise Refusal(message_answer(422, "Invalid request: conclusion is required when status is completed."))
    if output is not None and not (output.get("title") and output.get("summary")):
        raise Refusal(message_answer(422, "Invalid request: output requires title and summary."))
    if len(annotations) > ANNOTATIONS_PER_REQUEST:
        raise Refusal(
            message_answer(422, f"Invalid request: only {ANNOTATIONS_PER_REQUEST} annotations are allowed per request.")
        )
    required = ("path", "start_line", "end_line", "annotation_level", "message")
    if any(not all(annotation.get(key) for key in required) for annotation in annotations):
        raise Refusal(message_answer(422, f"Invalid request: an annotation needs {', '.join(required)}."))
    if conclusion is not None:
        status = "completed"
    if status is not None:
        check_run["status"] = status
    if conclusion is not None:
        check_run["conclusion"] = conclusion
    if status == "completed":
        check_run["completed_at"] = bodies.timestamp(now())
    if output is not None:
        held = repository.check_run_annotations.setdefault(check_run["id"], [])
        blob = f"https://github.com/{repository.full_name}/blob/{check_run['head_sha']}"
        held.extend({**annotation, "blob_href": f"{blob}/{annotation['path']}"} for annotation in annotations)
        check_run["output"] = {
            "title": output["title"],
            "summary": output["summary"],
            "text": output.get("text"),
            "annotations_count": len(held),
        }
