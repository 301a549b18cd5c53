"""Each event family through every filter, on GitHub's example payloads."""

import copy

import pytest

from tests.conftest import load_fixture
from triggers.filters import payload_changed_files, trigger_evaluate


def config(**filters) -> dict:
    return {"repository": "Codertocat/Hello-World", **filters}


def push(ref: str = "refs/heads/main", files: list[str] | None = None, **changes) -> dict:
    payload = copy.deepcopy(load_fixture("push_5"))
    payload["ref"] = ref
    if files is not None:
        payload["commits"] = [{"id": "1", "added": [], "modified": files, "removed": []}]
    payload.update(changes)
    return payload


def pull_request(action: str = "opened", base: str = "main", **changes) -> dict:
    payload = copy.deepcopy(load_fixture("pull_request__opened"))
    payload["action"] = action
    payload["pull_request"]["base"]["ref"] = base
    payload["pull_request"].update(changes)
    return payload


def evaluate(filters: dict, event: str, payload: dict, changed_files=None):
    return trigger_evaluate(config(**filters), event, payload, changed_files)


class TestEvents:
    def test_an_event_whose_name_merely_contains_the_configured_one_does_not_match(self):
        result = evaluate(
            {"events": ["pull_request"]}, "pull_request_review", load_fixture("pull_request_review__submitted")
        )

        assert not result.matched
        assert result.reasons[0] == 'event: "pull_request_review" is not in "pull_request"'

    def test_pull_request_defaults_to_opened_synchronize_and_reopened(self):
        assert evaluate({"events": ["pull_request"]}, "pull_request", pull_request("synchronize")).matched
        closed = evaluate({"events": ["pull_request"]}, "pull_request", pull_request("closed"))
        assert not closed.matched and "(pull_request's default)" in closed.reasons[1]

    def test_an_action_filter_replaces_the_default(self):
        assert evaluate(
            {"events": ["pull_request"], "action_filter": ["closed"]}, "pull_request", pull_request("closed")
        ).matched


class TestBranchesAndTags:
    @pytest.mark.parametrize(
        "branches, ref, matched",
        [
            (["main"], "refs/heads/main", True),
            (["release/**"], "refs/heads/release/v1", True),
            (["release/*"], "refs/heads/release/v1/hotfix", False),
            (["*", "!main"], "refs/heads/main", False),
        ],
    )
    def test_push_branches(self, branches, ref, matched):
        assert evaluate({"events": ["push"], "branches": branches}, "push", push(ref)).matched is matched

    def test_the_reason_names_the_deciding_pattern(self):
        result = evaluate({"events": ["push"], "branches": ["release/**"]}, "push", push("refs/heads/release/v1"))

        assert 'branches: "release/v1" selected by "release/**"' in result.reasons

    def test_branch_filters_alone_exclude_tag_pushes_and_tag_filters_branch_pushes(self):
        assert not evaluate({"events": ["push"], "branches": ["**"]}, "push", push("refs/tags/v1.0")).matched
        assert not evaluate({"events": ["push"], "tags": ["v*"]}, "push", push("refs/heads/main")).matched
        assert evaluate({"events": ["push"], "tags": ["v*"]}, "push", push("refs/tags/v1.0")).matched
        both = {"events": ["push"], "branches": ["main"], "tags": ["v*"]}
        assert evaluate(both, "push", push("refs/tags/v2")).matched and evaluate(both, "push", push()).matched

    def test_branches_ignore(self):
        filters = {"events": ["push"], "branches_ignore": ["dependabot/**"]}
        assert not evaluate(filters, "push", push("refs/heads/dependabot/npm/x")).matched
        assert evaluate(filters, "push", push("refs/heads/main")).matched

    def test_pull_request_events_use_the_base_branch(self):
        filters = {"events": ["pull_request"], "branches": ["main"]}
        assert evaluate(filters, "pull_request", pull_request(base="main")).matched
        assert not evaluate(filters, "pull_request", pull_request(base="develop")).matched

    @pytest.mark.parametrize(
        "event, fixture, path",
        [
            ("workflow_run", "workflow_run__completed", ("workflow_run", "head_branch")),
            ("check_suite", "check_suite__completed", ("check_suite", "head_branch")),
            ("check_run", "check_run__completed", ("check_run", "check_suite", "head_branch")),
        ],
    )
    def test_run_and_check_events_use_the_head_branch(self, event, fixture, path):
        payload = copy.deepcopy(load_fixture(fixture))
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = "feature/x"

        assert evaluate({"events": [event], "branches": ["feature/**"]}, event, payload).matched
        assert not evaluate({"events": [event], "branches": ["main"]}, event, payload).matched

    def test_an_event_without_a_branch_never_passes_a_branch_filter(self):
        result = evaluate({"events": ["issues"], "branches": ["**"]}, "issues", load_fixture("issues__opened"))

        assert not result.matched and "branch filters: the event has no branch or tag" in result.reasons

    def test_a_branch_deletion_matches_only_when_asked(self):
        deleted = push("refs/heads/old", deleted=True)
        assert not evaluate({"events": ["push"]}, "push", deleted).matched
        assert evaluate({"events": ["push"], "match_deletions": True}, "push", deleted).matched


class TestPaths:
    @pytest.mark.parametrize(
        "filters, files, matched",
        [
            ({"paths": ["docs/**"]}, ["docs/a.md", "src/x.py"], True),
            ({"paths": ["docs/**"]}, ["src/x.py"], False),
            ({"paths": ["**.py", "!tests/**"]}, ["tests/test_x.py"], False),
            ({"paths": ["**.py", "!tests/**"]}, ["tests/test_x.py", "app.py"], True),
            ({"paths_ignore": ["docs/**"]}, ["docs/a.md", "docs/b.md"], False),
            ({"paths_ignore": ["docs/**"]}, ["docs/a.md", "src/x.py"], True),
            ({"paths": ["**"]}, [], False),
        ],
    )
    def test_paths_and_paths_ignore_over_sets_of_changed_files(self, filters, files, matched):
        assert evaluate({"events": ["push"], **filters}, "push", push(files=files), files).matched is matched

    def test_unknown_changed_files_pass_as_in_actions(self):
        result = evaluate({"events": ["push"], "paths": ["docs/**"]}, "push", push(), None)

        assert (
            result.matched
            and "paths: the changed files cannot be known; the filter passes, as in Actions" in result.reasons
        )

    def test_paths_are_not_looked_at_for_tag_pushes(self):
        result = evaluate(
            {"events": ["push"], "tags": ["v*"], "paths": ["docs/**"]}, "push", push("refs/tags/v1"), ["src/x.py"]
        )

        assert result.matched and not any(reason.startswith("paths") for reason in result.reasons)

    def test_branch_and_path_filters_both_apply(self):
        filters = {"events": ["push"], "branches": ["main"], "paths": ["docs/**"]}
        assert evaluate(filters, "push", push(), ["docs/a.md"]).matched
        assert not evaluate(filters, "push", push("refs/heads/dev"), ["docs/a.md"]).matched
        assert not evaluate(filters, "push", push(), ["src/a.py"]).matched

    def test_changed_files_come_from_the_push_commits(self):
        payload = push(files=["a.py"])
        payload["commits"].append({"id": "2", "added": ["b.py"], "modified": ["a.py"], "removed": ["c.py"]})

        assert payload_changed_files("push", payload) == ["a.py", "b.py", "c.py"]
        assert payload_changed_files("push", {**payload, "commits": [{}] * 20}) is None
        assert payload_changed_files("pull_request", pull_request()) is None


class TestPeopleLabelsBotsDrafts:
    def test_authors_are_compared_without_case(self):
        payload = pull_request()  # opened by Codertocat
        assert evaluate({"events": ["pull_request"], "author_filter": ["codertocat"]}, "pull_request", payload).matched
        assert not evaluate(
            {"events": ["pull_request"], "author_ignore": ["CODERTOCAT"]}, "pull_request", payload
        ).matched

    def test_the_author_of_a_comment_is_the_commenter(self):
        payload = copy.deepcopy(load_fixture("issue_comment__created"))
        payload["comment"]["user"]["login"] = "reviewer"

        assert evaluate({"events": ["issue_comment"], "author_filter": ["reviewer"]}, "issue_comment", payload).matched

    def test_the_author_of_a_push_is_the_pusher(self):
        payload = push()
        payload["pusher"] = {"name": "pusher-login"}
        assert evaluate({"events": ["push"], "author_filter": ["pusher-login"]}, "push", payload).matched

    def test_labels(self):
        labelled = pull_request(labels=[{"name": "AI-Review"}, {"name": "bug"}])
        assert evaluate({"events": ["pull_request"], "label_filter": ["ai-review"]}, "pull_request", labelled).matched
        assert not evaluate({"events": ["pull_request"], "label_filter": ["docs"]}, "pull_request", labelled).matched

    @pytest.mark.parametrize(
        "sender", [{"login": "dependabot[bot]", "type": "Bot"}, {"login": "renovate[bot]", "type": "User"}]
    )
    def test_bots_are_ignored_unless_the_config_says_false(self, sender):
        payload, login = {**pull_request(), "sender": sender}, sender["login"]

        by_default = evaluate({"events": ["pull_request"]}, "pull_request", payload)
        asked = evaluate({"events": ["pull_request"], "ignore_bots": True}, "pull_request", payload)
        allowed = evaluate({"events": ["pull_request"], "ignore_bots": False}, "pull_request", payload)

        assert not by_default.matched and f'ignore_bots: sender "{login}" is a bot (default true)' in by_default.reasons
        assert not asked.matched and f'ignore_bots: sender "{login}" is a bot' in asked.reasons
        assert allowed.matched and not any(reason.startswith("ignore_bots") for reason in allowed.reasons)

    def test_drafts_are_ignored_unless_the_config_says_false(self):
        draft = pull_request(draft=True)

        by_default = evaluate({"events": ["pull_request"]}, "pull_request", draft)

        assert (
            not by_default.matched and "ignore_drafts: the pull request is a draft (default true)" in by_default.reasons
        )
        assert not evaluate({"events": ["pull_request"], "ignore_drafts": True}, "pull_request", draft).matched
        assert evaluate({"events": ["pull_request"], "ignore_drafts": False}, "pull_request", draft).matched
        assert evaluate({"events": ["pull_request"]}, "pull_request", pull_request(draft=False)).matched


class TestTheAppsOwnEvents:
    """settings_test names the App `ai-workflow-teams-test`: its bot account is `ai-workflow-teams-test[bot]`."""

    @pytest.mark.parametrize(
        "sender",
        [
            {"login": "ai-workflow-teams-test[bot]", "type": "Bot"},
            {"login": "AI-Workflow-Teams-Test[BOT]", "type": "Bot"},
            {"login": "renamed-app[bot]", "id": 4242, "type": "Bot"},
        ],
        ids=["login", "login in another case", "user id, after the App was renamed"],
    )
    def test_never_match_whatever_the_config_says(self, settings, sender):
        settings.GITHUB_APP_BOT_USER_ID = 4242
        payload = {**load_fixture("issue_comment__created"), "sender": sender}
        anything_goes = {"events": ["issue_comment"], "ignore_bots": False, "author_filter": [sender["login"]]}

        result = evaluate(anything_goes, "issue_comment", {**payload, "comment": {"user": sender}})

        assert not result.matched
        assert "sender is this App: its own events never start a run" in result.reasons

    def test_without_a_bot_user_id_no_sender_id_is_taken_for_the_app(self, settings):
        settings.GITHUB_APP_BOT_USER_ID = 0
        payload = {**load_fixture("issue_comment__created"), "sender": {"login": "ghost", "id": 0, "type": "User"}}

        assert evaluate({"events": ["issue_comment"]}, "issue_comment", payload).matched

    @pytest.mark.django_db  # with no slug in the environment, a registered App's is looked for
    def test_without_a_slug_no_login_is_taken_for_the_app(self, settings):
        settings.GITHUB_APP_SLUG = ""
        payload = {**load_fixture("issue_comment__created"), "sender": {"login": "[bot]", "type": "User"}}

        result = evaluate({"events": ["issue_comment"], "ignore_bots": False}, "issue_comment", payload)

        assert result.matched
