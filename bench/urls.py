from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from aiworkflow.urls import urlpatterns as service_urlpatterns
from github_app.webhooks.signatures import signature_is_valid


@csrf_exempt
def floor(request: HttpRequest) -> JsonResponse:
    """The least a webhook endpoint can do: read the body, check its signature, answer 202."""
    body = request.read(int(request.META.get("CONTENT_LENGTH") or 0))
    if not signature_is_valid(body=body, header=request.headers.get("X-Hub-Signature-256")):
        return JsonResponse({"error": "bad signature"}, status=401)
    return JsonResponse({"status": "queued"}, status=202)


urlpatterns = [*service_urlpatterns, path("bench/floor", floor)]
