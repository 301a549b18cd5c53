"""`/`: where someone who opens the service's address should land."""

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.views.decorators.http import require_safe


@require_safe
def home(request: HttpRequest) -> HttpResponseRedirect:
    """Staff to the dashboard; anyone else to the API's interactive docs."""
    return redirect("dashboard" if request.user.is_staff else "docs")
