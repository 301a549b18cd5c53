from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from aiworkflow import views
from aiworkflow.auth import TokenObtainApi, TokenRefreshApi
from github_app.install.apis import (
    GitHubInstallCallbackApi,
    GitHubInstallCompleteApi,
    GitHubInstallUrlApi,
    GitHubIntegrationListApi,
)
from github_app.install.connect import connect
from github_app.webhooks.apis import DeliveryListApi, DeliveryReplayApi
from github_app.webhooks.views import github_webhook
from integrations.apis import IntegrationDeleteApi, IntegrationListApi
from operations import health
from operations.app_setup.views import app_setup, app_setup_done
from operations.dashboard.views import dashboard
from operations.home import home
from operations.metrics import metrics_view
from triggers.apis import TriggerTestApi, WorkflowDetailApi, WorkflowListCreateApi
from workflows.apis import RunDetailApi, RunRerunApi, WorkflowRunListApi, WorkflowTemplateListApi, WorkflowTestApi

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("connect/", connect, name="connect"),
    path("health", health.health_ready, name="health"),
    path("health/live", health.health_live, name="health-live"),
    path("health/ready", health.health_ready, name="health-ready"),
    path("metrics", metrics_view, name="metrics"),
    path("dashboard/", dashboard, name="dashboard"),
    path("setup/github-app/", app_setup, name="app-setup"),
    path("setup/github-app/done/", app_setup_done, name="app-setup-done"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/auth/token", TokenObtainApi.as_view(), name="auth-token"),
    path("api/v1/auth/token/refresh", TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("api/v1/app/integrations", IntegrationListApi.as_view(), name="integrations"),
    path("api/v1/app/integrations/github", GitHubIntegrationListApi.as_view(), name="integrations-github"),
    path("api/v1/app/integrations/github/install", GitHubInstallUrlApi.as_view(), name="integrations-github-install"),
    path(
        "api/v1/app/integrations/github/complete",
        GitHubInstallCompleteApi.as_view(),
        name="integrations-github-complete",
    ),
    path("api/v1/app/integrations/<uuid:token_id>", IntegrationDeleteApi.as_view(), name="integration"),
    path("api/v1/app/deliveries", DeliveryListApi.as_view(), name="deliveries"),
    path("api/v1/app/deliveries/<int:delivery_pk>/replay", DeliveryReplayApi.as_view(), name="delivery-replay"),
    path("api/v1/app/workflow-templates", WorkflowTemplateListApi.as_view(), name="workflow-templates"),
    path("api/v1/app/workflows", WorkflowListCreateApi.as_view(), name="workflows"),
    path("api/v1/app/workflows/<uuid:workflow_id>", WorkflowDetailApi.as_view(), name="workflow"),
    path("api/v1/app/workflows/<uuid:workflow_id>/runs", WorkflowRunListApi.as_view(), name="workflow-runs"),
    path("api/v1/app/workflows/<uuid:workflow_id>/test", WorkflowTestApi.as_view(), name="workflow-test"),
    path("api/v1/app/triggers/test", TriggerTestApi.as_view(), name="trigger-test"),
    path("api/v1/app/runs/<uuid:run_id>", RunDetailApi.as_view(), name="run"),
    path("api/v1/app/runs/<uuid:run_id>/rerun", RunRerunApi.as_view(), name="run-rerun"),
    path("api/v1/public/webhooks/github/auth", GitHubInstallCallbackApi.as_view(), name="github-install-callback"),
    path("api/v1/public/webhooks/github", github_webhook, name="github-webhook-api"),
    path("webhooks/github", github_webhook, name="github-webhook"),
]

handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error
