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

    def comment(self, body: str, *, login: str = "octocat") -> dict:
        comment_id = next(self.repository.ids)
        comment = {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "body": body,
            "user": {"login": login, "type": "User"},
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

    @property
    def body(self) -> dict:
        return bodies.repository_body(self.id, self.full_name, self.private)

    @property
    def summary(self) -> dict:
        return bodies.repository_summary(self.id, self.full_name, self.private)

    def pull_request(self, number: int, *, files: Sequence[dict] = (), **changes) -> PullRequest:
        pull_request = PullRequest(self, number, files=list(files), changes=changes)
        self.issues[number] = pull_request
        return pull_request

    def issue(self, number: int, *, labels: Sequence[str] = ()) -> Issue:
        issue = Issue(self, number, labels=list(labels))
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
            "commits": [{"sha": sha} for sha in shas],
            "files": list(files),
        }

    def file(self, path: str, content: bytes | str) -> None:
        self.contents[path] = content.encode() if isinstance(content, str) else content


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
