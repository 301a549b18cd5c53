"""`/setup/github-app/`: a staff member registers the deployment's GitHub App in one click."""

import ipaddress
import json
import re
from urllib.parse import urlsplit

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_safe

from aiworkflow.api import SignedInRequest
from aiworkflow.errors import ApplicationError
from github_app.credentials import app_credentials, registered_app_credentials
from github_app.errors import AppRegistrationStateInvalid
from github_app.install.flow import install_url_build
from operations.app_setup.services import app_registration_complete, app_registration_start

SESSION_NONCE = "app_setup_nonce"
# GitHub's own limits: an App name of 34 characters, and an organisation login's shape.
APP_NAME_MAX_LENGTH = 34
ORGANIZATION_LOGIN = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\Z")
MANIFEST_CODE = re.compile(r"\A[A-Za-z0-9_.-]{1,256}\Z")


class RegistrationForm(forms.Form):
    base_url = forms.URLField(
        max_length=200,
        assume_scheme="https",
        help_text="The address GitHub reaches this service at (a tunnel's, in development).",
    )
    name = forms.CharField(max_length=APP_NAME_MAX_LENGTH, help_text="Unique on GitHub.")
    organization = forms.CharField(
        max_length=39, required=False, help_text="An organisation's login; empty for your personal account."
    )

    def clean_base_url(self) -> str:
        parts = urlsplit(self.cleaned_data["base_url"])
        extras = parts.username or parts.password or parts.path.strip("/") or parts.query or parts.fragment
        if parts.scheme not in ("http", "https") or extras:
            raise forms.ValidationError("Give the scheme and host only (https://example.com): no path, login or query.")
        return f"{parts.scheme}://{parts.netloc}"

    def clean_organization(self) -> str:
        organization = self.cleaned_data["organization"].strip()
        if organization and not ORGANIZATION_LOGIN.match(organization):
            raise forms.ValidationError("Not a GitHub organisation login.")
        return organization


def _unreachable_from_github(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


@staff_member_required
@require_http_methods(["GET", "HEAD", "POST"])
def app_setup(request: SignedInRequest) -> HttpResponse:
    """GET: the form, and the App this deployment uses now. POST: the manifest to review, and
    the button that posts it to GitHub."""
    if request.method != "POST":
        initial = {"base_url": request.build_absolute_uri("/").rstrip("/"), "name": "AI Workflow Teams"}
        return _form_page(request, RegistrationForm(initial=initial))
    form = RegistrationForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    start = app_registration_start(user=request.user, **form.cleaned_data)
    request.session[SESSION_NONCE] = start.nonce
    context = {
        "start": start,
        "manifest_json": json.dumps(start.manifest),
        "unreachable": _unreachable_from_github(form.cleaned_data["base_url"]),
        "organization": form.cleaned_data["organization"],
    }
    return render(request, "operations/app_setup_review.html", context)


def _form_page(request: SignedInRequest, form: RegistrationForm, status: int = 200) -> HttpResponse:
    context = {"form": form, "current": app_credentials(), "registered": registered_app_credentials()}
    return render(request, "operations/app_setup.html", context, status=status)


@staff_member_required
@require_safe
def app_setup_done(request: SignedInRequest) -> HttpResponse:
    """Where GitHub sends the browser back with the registration's code."""
    code, state = request.GET.get("code", ""), request.GET.get("state", "")
    try:
        if not MANIFEST_CODE.match(code) or not state or len(state) > 1024:
            raise AppRegistrationStateInvalid("GitHub's answer carries no usable code and state.")
        result = app_registration_complete(
            user=request.user, code=code, state=state, session_nonce=request.session.get(SESSION_NONCE)
        )
    except ApplicationError as error:
        return render(request, "operations/app_setup_failed.html", {"error": error}, status=error.status_code)
    request.session.pop(SESSION_NONCE, None)
    context = {"result": result, "install_url": _install_url(request)}
    return render(request, "operations/app_setup_done.html", context)


def _install_url(request: SignedInRequest) -> str | None:
    """Installing it right away is only possible once this process uses the new App's slug."""
    try:
        return install_url_build(user=request.user)
    except ApplicationError:
        return None
