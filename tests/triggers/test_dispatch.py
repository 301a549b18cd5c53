"""Webhook deliveries posted end to end start exactly the expected runs."""

import pytest

from github_app.models import Installation, InstallationRepository
from github_app.webhooks.deliveries import delivery_replay
from tests.conftest import github_connection
from tests.github_double import changed_file
from tests.workflows.test_engine import INSTALLATION, REVIEW, pull_request_to_review
from triggers.dispatch import trigger_candidates
from triggers.models import Trigger, TriggerIndex
from triggers.services import workflow_save
from workflows.models import Conclusion, Workflow, WorkflowRun
from workflows.services import workflow_delete

REPO = "Codertocat/Hello-World"
CONDITION = {
    "nodes": [{"id": "ok", "type": "logic.condition", "params": {"condition": "{{ trigger.action }}"}}],
    "edges": [],
}


@pytest.fixture
def workflow(user, installation):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    trigger = {"repository": REPO, "events": ["pull_request"], "ignore_bots": True, "ignore_drafts": True}
    return workflow_save(owner=user, name="On PRs", definition=CONDITION, triggers=[trigger])


def test_a_pull_request_delivery_ends_in_a_completed_run(workflow, deliver):
    delivery = deliver()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.runs_started) == ("processed", 1)
    run = WorkflowRun.objects.get()
    assert (run.workflow, run.delivery, run.conclusion) == (workflow, delivery, Conclusion.SUCCESS)
    assert run.trigger["delivery_id"] == delivery.delivery_id and run.trigger["repository"] == REPO


def test_the_ai_review_workflow_end_to_end(user, installation, deliver, github, llm, settings):
    settings.AI_MODEL = "gpt-test"  # AI_BASE_URL: the `llm` fixture's
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    workflow_save(
        owner=user, name="AI review", definition=REVIEW, triggers=[{"repository": REPO, "events": ["pull_request"]}]
    )
    pull_request = pull_request_to_review(github)
    llm.answers((200, "Ship it."))

    deliver()

    assert WorkflowRun.objects.get().conclusion == Conclusion.SUCCESS
    assert [comment["body"].split("\n")[0] for comment in pull_request.comments] == ["Ship it."]


@pytest.mark.parametrize(
    "changes, event, name",
    [
        ({"sender": {"login": "dependabot[bot]", "type": "Bot"}}, "pull_request", "pull_request__opened"),
        ({"pull_request__draft": True}, "pull_request", "pull_request__opened"),
        ({}, "pull_request_review", "pull_request_review__submitted"),
        ({"action": "closed"}, "pull_request", "pull_request__opened"),
    ],
    ids=["bot sender", "draft", "event whose name contains the configured one", "action outside the default"],
)
def test_no_run_when_a_filter_says_no(workflow, deliver, changes, event, name):
    delivery = deliver(name, event, **changes)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.runs_started) == ("processed", 0)
    assert not WorkflowRun.objects.exists()


def test_no_run_for_a_repository_the_owner_has_not_connected(workflow, other_user, deliver):
    stranger = workflow_save(owner=other_user, name="Eavesdropper", definition=CONDITION)
    trigger = Trigger.objects.create(workflow=stranger, config={"repository": REPO, "events": ["pull_request"]})
    TriggerIndex.objects.create(trigger=trigger, repository=REPO.lower(), event="pull_request", owner_id=other_user.pk)

    deliver()

    assert list(WorkflowRun.objects.values_list("workflow__owner", flat=True)) == [workflow.owner_id]


def test_no_run_for_a_collaborator_of_the_installation_who_cannot_see_the_repository(workflow, other_user, deliver):
    """Bob is connected to the same installation but his own token sees another repository only:
    a trigger on Hello-World, saved while he could see it, no longer starts his workflow."""
    github_connection(other_user, INSTALLATION, repositories={42: "Codertocat/other"})
    collaborator = workflow_save(owner=other_user, name="Former collaborator", definition=CONDITION)
    trigger = Trigger.objects.create(workflow=collaborator, config={"repository": REPO, "events": ["pull_request"]})
    TriggerIndex.objects.create(trigger=trigger, repository=REPO.lower(), event="pull_request", owner_id=other_user.pk)

    deliver()

    assert list(WorkflowRun.objects.values_list("workflow__owner", flat=True)) == [workflow.owner_id]


def test_no_run_when_the_installation_is_suspended_or_the_repository_not_covered(workflow, installation, deliver):
    installation.suspended_at = installation.updated_at
    installation.save()
    deliver()
    Installation.objects.update(suspended_at=None)
    InstallationRepository.objects.all().delete()
    deliver()

    assert not WorkflowRun.objects.exists()


def test_no_run_for_an_uninstalled_installation_whose_connection_is_still_active(workflow, installation, deliver):
    """Uninstalling also revokes the connections to the installation, so that no owner is found
    for it; the installation's own deleted_at must hold alone should a connection outlive that."""
    installation.deleted_at = installation.updated_at
    installation.save()

    deliver()

    assert not WorkflowRun.objects.exists()


def test_a_replayed_delivery_does_not_run_a_workflow_twice(workflow, deliver, django_capture_on_commit_callbacks):
    delivery = deliver()

    with django_capture_on_commit_callbacks(execute=True):
        delivery_replay(delivery=delivery)

    assert WorkflowRun.objects.count() == 1


def test_an_inactive_workflow_starts_no_run(workflow, deliver):
    workflow.is_active = False
    workflow.save()

    deliver()

    assert not WorkflowRun.objects.exists()


def test_a_deleted_workflow_starts_no_run_even_when_switched_on_again(workflow, deliver):
    """workflow_delete also switches the workflow off, which makes the dispatcher's deleted_at
    guard look redundant. It is not: is_active is a switch that can be set back on (the admin's
    workflow form edits it on any workflow, deleted or not), while deleting keeps the triggers and
    their index rows along with the run history. Here only deleted_at tells the deleted workflow
    apart, and it must stay silent."""
    workflow_delete(workflow=workflow)
    Workflow.objects.filter(pk=workflow.pk).update(is_active=True)
    assert TriggerIndex.objects.filter(trigger__workflow=workflow, trigger__is_active=True).exists()

    delivery = deliver()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.runs_started) == ("processed", 0)
    assert not WorkflowRun.objects.exists()


def test_a_switched_off_trigger_starts_no_run(workflow, deliver):
    Trigger.objects.filter(workflow=workflow).update(is_active=False)

    deliver()

    assert not WorkflowRun.objects.exists()


def test_path_filters_on_a_pull_request_read_its_files(user, installation, deliver, github):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    trigger = {"repository": REPO, "events": ["pull_request"], "paths": ["docs/**"]}
    workflow_save(owner=user, name="Docs only", definition=CONDITION, triggers=[trigger])
    pull_request_to_review(github)  # the pull request changes README.md only

    deliver()

    assert not WorkflowRun.objects.exists()
    assert (
        github.count("GET", f"/repos/{REPO}/pulls/2/files") == 1
        and github.count("GET", f"/repos/{REPO}/pulls/2/comments") == 0
    )


def test_candidates_come_from_the_index(workflow):
    assert [
        trigger.workflow
        for trigger in trigger_candidates(
            installation_id=INSTALLATION, repository_id=None, repository=REPO.upper(), event="pull_request"
        )
    ] == [workflow]
    assert trigger_candidates(installation_id=INSTALLATION, repository_id=None, repository=REPO, event="push") == []
    assert trigger_candidates(installation_id=999, repository_id=None, repository=REPO, event="pull_request") == []


def test_a_push_too_long_for_its_payload_reads_its_files_from_compare(user, installation, deliver, github):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    trigger = {"repository": REPO, "events": ["push"], "branches": ["main"], "paths": ["docs/**"]}
    workflow_save(owner=user, name="Docs pushes", definition=CONDITION, triggers=[trigger])
    repository = github.repository(REPO, id=186853002)
    github.installation(INSTALLATION, repositories=[repository])
    repository.compare("aaa", "bbb", files=[changed_file("docs/guide.md")], commits=21)

    deliver(
        "push_5", "push", ref="refs/heads/main", before="aaa", after="bbb", commits=[{"id": str(n)} for n in range(20)]
    )

    assert WorkflowRun.objects.get().conclusion == Conclusion.SUCCESS


DEPENDABOT = {"login": "dependabot[bot]", "id": 49699333, "type": "Bot"}
APP_BOT = {"login": "ai-workflow-teams-test[bot]", "id": 4242, "type": "Bot"}  # settings_test's GITHUB_APP_SLUG
REPLY = {
    "nodes": [{"id": "reply", "type": "github.create_comment", "params": {"body": "Noted, {{ trigger.sender }}."}}],
    "edges": [],
}


def on_pull_requests(user, **flags):
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    trigger = {"repository": REPO, "events": ["pull_request"], **flags}
    return workflow_save(owner=user, name="On PRs", definition=CONDITION, triggers=[trigger])


@pytest.mark.parametrize(
    "changes", [{"sender": DEPENDABOT}, {"pull_request__draft": True}], ids=["bot sender", "draft"]
)
def test_bots_and_drafts_start_no_run_when_the_config_says_nothing(user, installation, deliver, changes):
    on_pull_requests(user)

    delivery = deliver(**changes)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.runs_started) == ("processed", 0)


def test_bots_and_drafts_start_runs_when_the_config_says_false(user, installation, deliver):
    on_pull_requests(user, ignore_bots=False, ignore_drafts=False)

    delivery = deliver(sender=DEPENDABOT, pull_request__draft=True)

    delivery.refresh_from_db()
    assert delivery.runs_started == 1


@pytest.mark.parametrize(
    "sender",
    [APP_BOT, {**APP_BOT, "login": "AI-WORKFLOW-TEAMS-TEST[bot]"}, {**APP_BOT, "login": "renamed-app[bot]"}],
    ids=["login", "login in another case", "user id, after the App was renamed"],
)
def test_the_apps_own_events_start_no_run_even_with_ignore_bots_false(user, installation, deliver, settings, sender):
    settings.GITHUB_APP_BOT_USER_ID = APP_BOT["id"]
    on_pull_requests(user, ignore_bots=False, ignore_drafts=False)

    delivery = deliver(sender=sender)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.runs_started) == ("processed", 0)
    assert not WorkflowRun.objects.exists()


def issue_comments(github) -> list[dict]:
    """Issue 1's comments at GitHub, growing with every comment posted."""
    repository = github.repository(REPO, id=186853002)
    github.installation(INSTALLATION, repositories=[repository])
    return repository.issue(1).comments


def test_a_workflow_that_answers_comments_does_not_answer_its_own(user, installation, deliver, github):
    """The reply is a comment too: GitHub delivers it as issue_comment, sent by the App's bot."""
    github_connection(user, INSTALLATION, repositories={186853002: REPO})
    trigger = {"repository": REPO, "events": ["issue_comment"], "ignore_bots": False}
    workflow_save(owner=user, name="Answer comments", definition=REPLY, triggers=[trigger])
    comments = issue_comments(github)

    deliver("issue_comment__created", "issue_comment")
    reply = deliver(
        "issue_comment__created",
        "issue_comment",
        sender=APP_BOT,
        comment__user=APP_BOT,
        comment__body=comments[0]["body"],
    )

    assert WorkflowRun.objects.get().conclusion == Conclusion.SUCCESS
    assert [comment["body"].split("\n")[0] for comment in comments] == ["Noted, Codertocat."]
    reply.refresh_from_db()
    assert (reply.status, reply.runs_started) == ("processed", 0)
