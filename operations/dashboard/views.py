from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from operations.backlogs import backlogs_read
from operations.dashboard import charts
from operations.dashboard.selectors import (
    delivery_failure_list,
    delivery_summary_get,
    installation_headroom_list,
    installation_summary_get,
    llm_usage_per_day_list,
    run_failure_list,
    run_summary_get,
)


@staff_member_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    installations = installation_summary_get(now=now)
    deliveries = delivery_summary_get(now=now)
    tokens = llm_usage_per_day_list(now=now)
    context = {
        "now": now,
        "installations": installations,
        "headrooms": installation_headroom_list(limit=50),
        "deliveries": deliveries,
        "backlogs": backlogs_read(now=now),
        "failed_deliveries": delivery_failure_list(limit=20),
        "runs": run_summary_get(now=now),
        "failed_runs": run_failure_list(limit=20),
        "tokens": tokens,
        "charts": {
            "deliveries_per_hour": charts.deliveries_by_status_chart(deliveries.per_hour, label_format="%H:00"),
            "deliveries_per_day": charts.deliveries_by_status_chart(deliveries.per_day, label_format="%a %d %b"),
            "installation_changes": charts.installation_changes_chart(installations),
            "tokens_per_day": charts.token_usage_chart(tokens),
        },
    }
    return render(request, "operations/dashboard.html", context)
