"""The connect page (`/connect/`): where the install callback sends a browser that no frontend
receives (FRONTEND_URL unset), so that the service alone is enough to finish an install.

It signs in with Django's session login, the admin's sessions, and keeps the completion API's
rule: only the user the install's state named sees the pending install and binds it; anyone
else gets a refusal that names nothing of it.
"""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from aiworkflow.api import SignedInRequest
from aiworkflow.errors import ApplicationError
from github_app.errors import GitHubAppNotConfigured, InstallCompletionWrongUser
from github_app.install.flow import install_complete, install_url_build, pending_completion_get
from github_app.install.selectors import GitHubIntegration, github_integration_list
from github_app.models import PendingInstallCompletion


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def connect(request: SignedInRequest) -> HttpResponse:
    if request.method == "POST":
        return _connect_complete(request)
    return _connect_show(request)


def _connect_show(request: SignedInRequest) -> HttpResponse:
    completion = request.GET.get("completion")
    pending = None
    if completion:
        try:
            pending = pending_completion_get(completion=completion, user=request.user)
        except ApplicationError as exc:
            return _error_page(request, exc)
    connections = github_integration_list(user=request.user)
    context = {
        "completion": completion,
        "pending": _pending_summary(pending) if pending else None,
        "requested": request.GET.get("status") == "requested",
        "connected": _connection_of(connections, request.GET.get("connected")),
        "connections": connections,
        **_install_link(request.user),
    }
    return render(request, "github_app/connect.html", context)


def _connect_complete(request: SignedInRequest) -> HttpResponse:
    completion = request.POST.get("completion", "")
    try:
        result = install_complete(completion=completion, user=request.user)
    except ApplicationError as exc:
        # A failure at GitHub binds nothing and leaves the completion usable: offer another try.
        return _error_page(request, exc, retry_completion=completion if exc.status_code >= 500 else None)
    # Redirected, so that reloading the page does not post a spent completion again.
    query = urlencode({"connected": result.installation.installation_id})
    return HttpResponseRedirect(f"{reverse('connect')}?{query}")


def _error_page(
    request: SignedInRequest, exc: ApplicationError, *, retry_completion: str | None = None
) -> HttpResponse:
    """The API's status for the same failure (4xx, or 502/503 when GitHub failed), as a page."""
    response = connect_failure_page(
        request,
        message=exc.message,
        status=exc.status_code,
        wrong_user=isinstance(exc, InstallCompletionWrongUser),
        retry_completion=retry_completion,
    )
    for name, value in exc.headers.items():
        response[name] = value
    return response


def connect_failure_page(
    request: HttpRequest,
    *,
    message: str,
    status: int,
    wrong_user: bool = False,
    retry_completion: str | None = None,
) -> HttpResponse:
    """A failure to connect, as a page: the completion's, or the install callback's for a
    browser that no frontend receives."""
    context = {"message": message, "status": status, "wrong_user": wrong_user, "retry_completion": retry_completion}
    return render(request, "github_app/connect_error.html", context, status=status)


def _pending_summary(pending: PendingInstallCompletion) -> dict:
    """What the install's owner is shown before binding it: the account as the App saw it at the
    callback (an enterprise account has no login: its name or slug stands in)."""
    data = pending.installation_data
    account = data.get("account") or {}
    return {
        "installation_id": pending.installation_id,
        "account_login": account.get("login") or account.get("name") or account.get("slug") or "",
        "account_type": account.get("type") or data.get("target_type") or "",
        "repository_selection": data.get("repository_selection") or "",
        "html_url": data.get("html_url") or "",
        "github_login": pending.github_login,
        "setup_action": pending.setup_action,
        "expires_at": pending.expires_at,
    }


def _connection_of(connections: list[GitHubIntegration], installation_id: str | None) -> GitHubIntegration | None:
    """The user's own connection to the installation just connected; only the user's
    connections are looked in, so the parameter reveals nothing of anyone else's."""
    return next((entry for entry in connections if entry.token.external_id == installation_id), None)


def _install_link(user: User) -> dict:
    try:
        return {"install_url": install_url_build(user=user), "install_missing_setting": None}
    except GitHubAppNotConfigured as exc:
        return {"install_url": None, "install_missing_setting": exc.detail.get("missing")}
