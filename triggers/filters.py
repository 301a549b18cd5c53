"""Whether a trigger's filters select an event, with one reason per decision.

The semantics are GitHub Actions' `on:` filters: branches and tags from the ref (push), the base
branch (pull request events) or the head branch (workflow_run, check_suite, check_run); on a
push, branch filters alone exclude tags and tag filters alone exclude branches, and paths are
not looked at for tags; `paths` needs one selected changed file, `paths_ignore` skips only when
every changed file is ignored; unknown changed files pass, as in Actions.

`ignore_bots` and `ignore_drafts` are on unless a config sets them false, and an event this App's
own bot account sent never matches, whatever the config says: as GitHub Actions never lets its own
token start a workflow, no workflow can loop on what it writes.
"""

from dataclasses import dataclass, field

from django.conf import settings

from github_app.webhooks.payloads import payload_value
from triggers.patterns import FilterPattern, patterns_compile, patterns_decide

PULL_REQUEST_EVENTS = {
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
}
PULL_REQUEST_DEFAULT_ACTIONS = ["opened", "synchronize", "reopened"]


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
    slug, bot_user_id = settings.GITHUB_APP_SLUG, settings.GITHUB_APP_BOT_USER_ID
    by_login = bool(slug) and login.lower() == f"{slug}[bot]".lower()
    return by_login or (bool(bot_user_id) and user_id == bot_user_id)


def _senders(evaluation: Evaluation, config: dict, payload: dict) -> None:
    login = _text(payload, "sender", "login") or ""
    if _sender_is_this_app(login, payload_value(payload, "sender", "id")):
        evaluation.decide(False, "sender is this App: its own events never start a run")
    ignore_bots, note = _default_true(config, "ignore_bots")
    if ignore_bots:
        bot = payload_value(payload, "sender", "type") == "Bot" or login.endswith("[bot]")
        evaluation.decide(not bot, f'ignore_bots: sender "{login}" {"is" if bot else "is not"} a bot{note}')


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
