"""Whether a trigger's filters select an event, with one reason per decision.

The semantics are GitHub Actions' `on:` filters: branches and tags from the ref (push), the base
branch (pull request events) or the head branch (workflow_run, check_suite, check_run); on a
push, branch filters alone exclude tags and tag filters alone exclude branches, and paths are
not looked at for tags; `paths` needs one selected changed file, `paths_ignore` skips only when
every changed file is ignored; unknown changed files pass, as in Actions.

`ignore_bots` and `ignore_drafts` are on unless a config sets them false, and an event this App's
own bot account sent never matches, whatever the config says: as GitHub Actions never lets its own
token start a workflow, no workflow can loop on what it writes.

A `command` (`/review`) matches a comment just created whose first line starts with it as a whole
word; the rest of that line is the command's arguments. Bots never give a command, whatever
`ignore_bots` says. Whether the commenter may give it (`command_permission`) needs GitHub, so the
dispatcher checks it, not this module.
"""

from dataclasses import dataclass, field

from github_app.credentials import app_credential
from github_app.webhooks.payloads import payload_value
from triggers.patterns import FilterPattern, patterns_compile, patterns_decide

PULL_REQUEST_EVENTS = {
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
}
PULL_REQUEST_DEFAULT_ACTIONS = ["opened", "synchronize", "reopened"]
COMMAND_EVENTS = {"issue_comment", "pull_request_review_comment"}
# Repository roles from the least to the most able, as GitHub orders them.
REPOSITORY_ROLES = ("read", "triage", "write", "maintain", "admin")
DEFAULT_COMMAND_PERMISSION = "write"
MAX_COMMAND_ARGS = 1000  # characters of arguments a run's templates see


@dataclass
class Evaluation:
    matched: bool = True
    reasons: list[str] = field(default_factory=list)

    def decide(self, passed: bool, reason: str) -> None:
        self.matched = self.matched and passed
        self.reasons.append(reason)


def _quoted(values: list[str]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def _text(payload: dict, *path: str) -> str | None:
    value = payload_value(payload, *path)
    return value if isinstance(value, str) else None


def _ref(event: str, payload: dict) -> tuple[str | None, str | None]:
    """The (kind, name) the branch and tag filters look at: ("branch", ...), ("tag", ...) or (None, None)."""
    if event == "push":
        ref = _text(payload, "ref") or ""
        for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
            if ref.startswith(prefix):
                return kind, ref[len(prefix) :]
        return None, None
    if event in PULL_REQUEST_EVENTS:
        return "branch", _text(payload, "pull_request", "base", "ref")
    if event in ("workflow_run", "check_suite"):
        return "branch", _text(payload, event, "head_branch")
    if event == "check_run":
        return "branch", _text(payload, "check_run", "check_suite", "head_branch")
    return None, None


def _author(event: str, payload: dict) -> str:
    """Who the event is about: the comment's, review's, pull request's or issue's author, the
    pusher of a push, else the sender."""
    for key in ("comment", "review", "pull_request", "issue"):
        login = _text(payload, key, "user", "login")
        if login:
            return login
    pusher = _text(payload, "pusher", "name")
    if event == "push" and pusher:
        return pusher
    return _text(payload, "sender", "login") or ""


def _labels(payload: dict) -> list[str]:
    labels = payload_value(payload, "pull_request", "labels") or payload_value(payload, "issue", "labels")
    names = [_text(label, "name") for label in labels] if isinstance(labels, list) else []
    return [name for name in names if name]


def _filter_list(evaluation: Evaluation, name: str, patterns: list[FilterPattern], value: str, *, ignore: bool) -> None:
    selected, by = patterns_decide(patterns, value)
    if ignore:
        verdict = f'ignored by "{by.source}"' if selected and by else "not ignored by any pattern"
        evaluation.decide(not selected, f'{name}: "{value}" {verdict}')
    else:
        verdict = (
            f'selected by "{by.source}"'
            if selected and by
            else (f'excluded by "{by.source}"' if by else "not selected by any pattern")
        )
        evaluation.decide(selected, f'{name}: "{value}" {verdict}')


def _refs(evaluation: Evaluation, config: dict, kind: str | None, name: str | None) -> bool:
    """Branch and tag filters; returns whether path filters apply (not to tags)."""
    groups = {"branch": ("branches", "branches_ignore"), "tag": ("tags", "tags_ignore")}
    defined = {group for group, keys in groups.items() if any(key in config for key in keys)}
    if not defined:
        return kind != "tag"
    if kind not in defined or not name:
        what = f'a {kind} "{name}"' if kind and name else "no branch or tag"
        evaluation.decide(False, f"{' and '.join(sorted(defined))} filters: the event has {what}")
        return False
    for key in groups[kind]:
        if key in config:
            _filter_list(evaluation, key, patterns_compile(config[key]), name, ignore=key.endswith("_ignore"))
    return kind != "tag"


def _paths(evaluation: Evaluation, config: dict, changed_files: list[str] | None) -> None:
    for key in ("paths", "paths_ignore"):
        if key not in config:
            continue
        if changed_files is None:
            evaluation.decide(True, f"{key}: the changed files cannot be known; the filter passes, as in Actions")
            continue
        if not changed_files:
            evaluation.decide(False, f"{key}: no file changed")
            continue
        patterns = patterns_compile(config[key])
        decisions = [(path, *patterns_decide(patterns, path)) for path in changed_files]
        chosen = [(path, by) for path, selected, by in decisions if selected and by]
        if key == "paths":
            reason = (
                f'"{chosen[0][0]}" selected by "{chosen[0][1].source}"'
                if chosen
                else f"none of {len(changed_files)} changed files selected"
            )
            evaluation.decide(bool(chosen), f"{key}: {reason}")
        else:
            kept = [path for path, selected, _ in decisions if not selected]
            reason = f'"{kept[0]}" is not ignored' if kept else f"all {len(changed_files)} changed files ignored"
            evaluation.decide(bool(kept), f"{key}: {reason}")


def _default_true(config: dict, key: str) -> tuple[bool, str]:
    """A flag that is on unless the config sets it false, and the note its reason carries when
    it is on by default."""
    return (config[key], "") if key in config else (True, " (default true)")


def _sender_is_this_app(login: str, user_id) -> bool:
    """Whether the App's bot account sent the event: its login `<slug>[bot]`, or its user id,
    which still holds after the App is renamed."""
    slug, bot_user_id = app_credential("slug"), app_credential("bot_user_id")
    by_login = bool(slug) and login.lower() == f"{slug}[bot]".lower()
    return by_login or (bool(bot_user_id) and user_id == bot_user_id)


def _sender_is_bot(payload: dict) -> bool:
    login = _text(payload, "sender", "login") or ""
    return payload_value(payload, "sender", "type") == "Bot" or login.endswith("[bot]")


def _senders(evaluation: Evaluation, config: dict, payload: dict) -> None:
    login = _text(payload, "sender", "login") or ""
    if _sender_is_this_app(login, payload_value(payload, "sender", "id")):
        evaluation.decide(False, "sender is this App: its own events never start a run")
    ignore_bots, note = _default_true(config, "ignore_bots")
    if ignore_bots:
        bot = _sender_is_bot(payload)
        evaluation.decide(not bot, f'ignore_bots: sender "{login}" {"is" if bot else "is not"} a bot{note}')


def command_arguments(command: str, body) -> str | None:
    """The arguments of `command` when a comment's first line starts with it as a whole word
    (`/review` in "/review focus=security", not in "/reviewer"), cut to MAX_COMMAND_ARGS; None
    when it does not."""
    if not isinstance(body, str):
        return None
    lines = body.strip().splitlines()
    first_line = lines[0].strip() if lines else ""
    if not first_line.startswith(command):
        return None
    rest = first_line[len(command) :]
    if rest and not rest[0].isspace():
        return None
    return rest.strip()[:MAX_COMMAND_ARGS]


def command_invocation(config: dict, payload: dict) -> dict | None:
    """What a run's templates see as `trigger.command` ({"name", "args"}) when the config has a
    command that the payload's comment gives; None otherwise."""
    command = config.get("command")
    if not command:
        return None
    args = command_arguments(command, payload_value(payload, "comment", "body"))
    return None if args is None else {"name": command, "args": args}


def command_permission(config: dict) -> str:
    return config.get("command_permission", DEFAULT_COMMAND_PERMISSION)


def role_suffices(role: str | None, needed: str) -> bool:
    """Whether a repository role (None: no access) is at least `needed` in GitHub's order."""
    return role in REPOSITORY_ROLES and REPOSITORY_ROLES.index(role) >= REPOSITORY_ROLES.index(needed)


def _command(evaluation: Evaluation, config: dict, event: str, payload: dict) -> None:
    command = config["command"]
    action = payload.get("action")
    created = event in COMMAND_EVENTS and action == "created"
    verdict = "is" if created else "is not"
    evaluation.decide(created, f'command: "{event}" with action "{action}" {verdict} a new comment')
    args = command_arguments(command, payload_value(payload, "comment", "body"))
    evaluation.decide(
        args is not None,
        f'command: "{command}" matched, args "{args}"'
        if args is not None
        else f'command: the comment\'s first line does not start with "{command}"',
    )
    login = _text(payload, "sender", "login") or ""
    bot = _sender_is_bot(payload)
    verdict = "is a bot: bots never give commands" if bot else "is not a bot"
    evaluation.decide(not bot, f'command: sender "{login}" {verdict}')
    # The commenter's role is GitHub's to tell, with the installation's token: not known here.
    evaluation.reasons.append(f"command_permission: checked at dispatch time (needs {command_permission(config)})")


def _drafts(evaluation: Evaluation, config: dict, event: str, payload: dict) -> None:
    ignore_drafts, note = _default_true(config, "ignore_drafts")
    if ignore_drafts and event in PULL_REQUEST_EVENTS:
        draft = bool(payload_value(payload, "pull_request", "draft"))
        evaluation.decide(not draft, f"ignore_drafts: the pull request {'is' if draft else 'is not'} a draft{note}")


def trigger_evaluate(config: dict, event: str, payload: dict, changed_files: list[str] | None = None) -> Evaluation:
    """Every filter of a (valid) config applied to one event."""
    evaluation = Evaluation()
    events = config["events"]
    evaluation.decide(event in events, f'event: "{event}" {"is" if event in events else "is not"} in {_quoted(events)}')
    action = payload.get("action")
    actions = config.get("action_filter") or (PULL_REQUEST_DEFAULT_ACTIONS if event == "pull_request" else None)
    if actions:
        default = "" if config.get("action_filter") else " (pull_request's default)"
        evaluation.decide(
            action in actions,
            f'action: "{action}" {"is" if action in actions else "is not"} in {_quoted(actions)}{default}',
        )
    if event == "push" and payload.get("deleted"):
        opted_in = bool(config.get("match_deletions"))
        evaluation.decide(
            opted_in,
            "push: deletes the ref"
            + ("; match_deletions is set" if opted_in else ", which matches only with match_deletions"),
        )
    kind, name = _ref(event, payload)
    if _refs(evaluation, config, kind, name):
        _paths(evaluation, config, changed_files)
    author = _author(event, payload)
    if "author_filter" in config:
        chosen = author.lower() in {login.lower() for login in config["author_filter"]}
        evaluation.decide(chosen, f'author_filter: "{author}" {"is" if chosen else "is not"} listed')
    if "author_ignore" in config:
        ignored = author.lower() in {login.lower() for login in config["author_ignore"]}
        evaluation.decide(not ignored, f'author_ignore: "{author}" {"is" if ignored else "is not"} listed')
    if "label_filter" in config:
        present = {label.lower(): label for label in _labels(payload)}
        found = [label for label in config["label_filter"] if label.lower() in present]
        evaluation.decide(
            bool(found), f"label_filter: {f'has {_quoted(found)}' if found else 'none of the labels is on it'}"
        )
    if "command" in config:
        _command(evaluation, config, event, payload)
    _senders(evaluation, config, payload)
    _drafts(evaluation, config, event, payload)
    return evaluation


def payload_changed_files(event: str, payload: dict) -> list[str] | None:
    """The files a push changed, from its commits; None when the payload cannot tell (not a
    push, or a push of more than the 20 commits GitHub lists, whose files need the compare API)."""
    commits = payload.get("commits")
    if event != "push" or not isinstance(commits, list) or len(commits) >= 20:
        return None
    changes = [payload_value(commit, key) for commit in commits for key in ("added", "modified", "removed")]
    paths = [path for change in changes if isinstance(change, list) for path in change if isinstance(path, str)]
    return list(dict.fromkeys(paths))
