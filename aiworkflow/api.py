"""API plumbing shared by every app: the one error shape and the exception handler behind it."""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from aiworkflow.errors import ApplicationError


class AuthenticatedRequest(Request):
    """The request of a view behind the default IsAuthenticated permission: its user is a User,
    never anonymous. For the type checker only; DRF builds the request as usual."""

    user: User


class SignedInRequest(HttpRequest):
    """The request of a page behind login_required or staff_member_required: its user is a
    User, never anonymous. For the type checker only."""

    user: User


def error_body(message: str, detail: dict | None = None) -> dict:
    return {"error": message, "detail": detail or {}}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.message, exc.detail), status=exc.status_code, headers=exc.headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = error_body("The request is invalid.", detail)
    elif isinstance(response.data, dict) and "detail" in response.data:
        # simplejwt's token errors carry their reasons beside "detail"; keep them as detail.
        message = str(response.data.pop("detail"))
        response.data = error_body(message, response.data)
    else:
        response.data = error_body(str(exc), {"reasons": response.data})
    return response


def newest_first_pagination(field: str) -> type[CursorPagination]:
    """Cursor pages, newest first by `field`: stable while new rows keep arriving."""
    return type(
        f"NewestFirstBy{field.title().replace('_', '')}",
        (CursorPagination,),
        {"ordering": f"-{field}", "page_size": 50, "page_size_query_param": "page_size", "max_page_size": 200},
    )
