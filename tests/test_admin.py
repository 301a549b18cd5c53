import pytest
from django.contrib.auth import get_user_model

from github_app.models import Installation, InstallationRepository, WebhookDelivery
from integrations.models import OAuthToken
from tests.conftest import github_connection

SECRET = "ghu_" + "x" * 36


@pytest.fixture
def staff(client, db):
    admin = get_user_model().objects.create_superuser(username="ops", password="pw-for-ops-only")
    client.force_login(admin)
    return client


@pytest.fixture
def token(user) -> OAuthToken:
    return github_connection(user, 42, access_token=SECRET, refresh_token="ghr_" + "y" * 76)


def test_connection_pages_never_show_credentials(staff, token):
    pages = [
        staff.get("/admin/integrations/oauthtoken/"),
        staff.get(f"/admin/integrations/oauthtoken/{token.pk}/change/"),
    ]

    for page in pages:
        assert page.status_code == 200
        assert SECRET not in page.content.decode()
        assert "ghr_" not in page.content.decode()


def test_revoke_action_soft_deletes(staff, token):
    response = staff.post("/admin/integrations/oauthtoken/", {"action": "revoke", "_selected_action": [str(token.pk)]})

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.is_active is False and token.revoked_at is not None


def test_installation_page_lists_its_repositories(staff):
    installation = Installation.objects.create(
        installation_id=7,
        account_id=1,
        account_login="octo-org",
        account_type="Organization",
        repository_selection="selected",
    )
    InstallationRepository.objects.create(installation=installation, repository_id=99, full_name="octo-org/widgets")

    page = staff.get(f"/admin/github_app/installation/{installation.pk}/change/")

    assert page.status_code == 200
    assert "octo-org/widgets" in page.content.decode()


def test_integration_list_shows_the_github_app_row(staff):
    page = staff.get("/admin/integrations/integration/")

    assert page.status_code == 200
    assert "github_app" in page.content.decode()


def test_delivery_page_hides_secret_like_values(staff):
    delivery = WebhookDelivery.objects.create(
        delivery_id="d-1",
        event="push",
        payload=b'{"ref": "refs/heads/main", "hook": {"config": {"secret": "s3cr3t-value"}}}',
    )

    page = staff.get(f"/admin/github_app/webhookdelivery/{delivery.pk}/change/").content.decode()

    assert "refs/heads/main" in page
    assert "s3cr3t-value" not in page
    assert "[redacted]" in page


def test_replay_action_queues_the_delivery_again(staff, django_capture_on_commit_callbacks):
    delivery = WebhookDelivery.objects.create(
        delivery_id="d-2", event="push", payload=b"{}", status="failed", attempts=8
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            "/admin/github_app/webhookdelivery/", {"action": "replay", "_selected_action": [str(delivery.pk)]}
        )

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("processed", 1)


def test_a_very_large_payload_is_not_rendered(staff):
    delivery = WebhookDelivery.objects.create(
        delivery_id="d-3", event="push", payload=b'{"p": "' + b"x" * 3_000_000 + b'"}'
    )

    page = staff.get(f"/admin/github_app/webhookdelivery/{delivery.pk}/change/").content.decode()

    assert "too large to show" in page
    assert "x" * 1000 not in page


def test_run_history_shows_step_outputs(staff, user):
    from workflows.models import StepRun, WorkflowRun
    from workflows.services import workflow_create

    workflow = workflow_create(
        owner=user,
        name="Admin view",
        definition={"nodes": [{"id": "c", "type": "logic.condition", "params": {"condition": "1"}}], "edges": []},
    )
    run = WorkflowRun.objects.create(
        workflow=workflow, version=workflow.current_version, owner=workflow.owner, trigger={"event": "push"}
    )
    StepRun.objects.create(
        run=run, node_id="c", node_type="logic.condition", position=0, output={"result": "visible-output"}
    )

    assert "visible-output" in staff.get(f"/admin/workflows/workflowrun/{run.pk}/change/").content.decode()
    assert staff.get(f"/admin/workflows/workflow/{workflow.pk}/change/").status_code == 200
    assert staff.get("/admin/workflows/workflowrun/").status_code == 200


def test_a_deleted_workflow_cannot_be_switched_on_again(staff, user):
    from workflows.services import workflow_create, workflow_delete

    workflow = workflow_create(
        owner=user,
        name="Gone",
        definition={"nodes": [{"id": "c", "type": "logic.condition", "params": {"condition": "1"}}]},
    )
    workflow_delete(workflow=workflow)
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"

    staff.post(url, {"name": "Gone", "is_active": "on", "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"})

    workflow.refresh_from_db()
    assert not workflow.is_active
    assert 'name="is_active"' not in staff.get(url).content.decode()


ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser(username="ops", password="pw-for-ops-only")


def admin_login(client, password: str, **extra):
    return client.post(ADMIN_LOGIN, {"username": "ops", "password": password, "next": "/admin/"}, **extra)


def test_admin_password_guessing_locks_the_login_out(client, operator, settings):
    guesses = [admin_login(client, f"guess-{n}").status_code for n in range(settings.AXES_FAILURE_LIMIT - 1)]

    locking_guess = admin_login(client, "one-more-guess")
    right_password = admin_login(client, "pw-for-ops-only")

    assert guesses == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert locking_guess.status_code == 429
    assert right_password.status_code == 429
    assert "_auth_user_id" not in client.session


def test_an_admin_lockout_holds_only_for_the_address_that_guessed(client, operator, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        admin_login(client, f"guess-{n}", REMOTE_ADDR="203.0.113.66")

    assert admin_login(client, "pw-for-ops-only", REMOTE_ADDR="198.51.100.7").status_code == 302


def test_run_pages_hide_secret_like_values_of_outputs_and_triggers(staff, user):
    from workflows.models import StepRun, WorkflowRun
    from workflows.services import workflow_create

    workflow = workflow_create(
        owner=user,
        name="Leaky",
        definition={"nodes": [{"id": "c", "type": "logic.condition", "params": {"condition": "1"}}], "edges": []},
    )
    run = WorkflowRun.objects.create(
        workflow=workflow,
        version=workflow.current_version,
        owner=workflow.owner,
        trigger={
            "event": "push",
            "payload": {"ref": "refs/heads/main", "hook": {"config": {"secret": "hook-secret-value"}}},
        },
    )
    StepRun.objects.create(
        run=run,
        node_id="c",
        node_type="logic.condition",
        position=0,
        output={"result": "visible-output", "token": "ghs_secret", "nested": {"api_key": "api-key-value"}},
    )

    page = staff.get(f"/admin/workflows/workflowrun/{run.pk}/change/").content.decode()

    assert "visible-output" in page and "refs/heads/main" in page
    assert "ghs_secret" not in page
    assert "api-key-value" not in page
    assert "hook-secret-value" not in page


def test_pending_install_completions_are_read_only_and_hide_tokens(staff, user):
    from datetime import timedelta

    from django.utils import timezone

    from github_app.models import PendingInstallCompletion

    digest = "d" * 64
    pending = PendingInstallCompletion.objects.create(
        key_digest=digest,
        user=user,
        installation_id=957387,
        setup_action="install",
        installation_data={"id": 957387},
        github_user_id=21031067,
        github_login="Codertocat",
        access_token=SECRET,
        refresh_token="ghr_" + "y" * 76,
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    pages = [
        staff.get("/admin/github_app/pendinginstallcompletion/"),
        staff.get(f"/admin/github_app/pendinginstallcompletion/{pending.pk}/change/"),
    ]

    for page in pages:
        content = page.content.decode()
        assert page.status_code == 200
        assert "Codertocat" in content and "957387" in content
        assert SECRET not in content and "ghr_" not in content and digest not in content
    assert 'name="_save"' not in pages[1].content.decode()
    assert staff.get("/admin/github_app/pendinginstallcompletion/add/").status_code == 403


def test_runs_are_found_by_their_concurrency_group(staff, user):
    from workflows.models import WorkflowRun
    from workflows.services import workflow_create

    workflow = workflow_create(
        owner=user,
        name="Grouped",
        definition={"nodes": [{"id": "c", "type": "logic.condition", "params": {"condition": "1"}}], "edges": []},
    )
    runs = {
        group: WorkflowRun.objects.create(
            workflow=workflow, version=workflow.current_version, owner=user, trigger={}, concurrency_group=group
        )
        for group in ("pr-7", "pr-8")
    }

    listed = staff.get("/admin/workflows/workflowrun/", {"q": "pr-7"}).context["cl"].result_list

    assert [run.pk for run in listed] == [runs["pr-7"].pk]


def test_registered_apps_are_read_only_and_hide_their_secrets(staff, user):
    from github_app.models import AppRegistration

    registration = AppRegistration.objects.create(
        app_id=4242,
        slug="ai-review-dev",
        name="AI review (dev)",
        html_url="https://github.com/apps/ai-review-dev",
        owner_login="octo-org",
        owner_type="Organization",
        client_id="Iv23.registeredclient",
        client_secret="registered-client-secret-0123456789",
        webhook_secret="registered-webhook-secret-0123456789",
        private_key="-----BEGIN RSA PRIVATE KEY-----\nMIIEkey\n-----END RSA PRIVATE KEY-----\n",
        registered_by=user,
    )
    pages = [
        staff.get("/admin/github_app/appregistration/"),
        staff.get(f"/admin/github_app/appregistration/{registration.pk}/change/"),
    ]

    for page in pages:
        content = page.content.decode()
        assert page.status_code == 200 and "ai-review-dev" in content
        assert "registered-client-secret" not in content and "registered-webhook-secret" not in content
        assert "PRIVATE KEY" not in content
    assert 'name="_save"' not in pages[1].content.decode()
    assert staff.get("/admin/github_app/appregistration/add/").status_code == 403
