"""Domain errors as HTTP answers, so that a refusal by a service or selector is a clear 4xx, never a 500.

``NotFoundError`` -> 404, ``PermissionDeniedError`` -> 403, any other ``DomainError`` (and an illegal
lot transition) -> 400, a Django ``ValidationError`` (a model's ``full_clean`` or a field's parser) -> 400,
a dead partner API key -> 401.
Each body has a ``detail`` message; field errors add ``errors`` (a serializer's, DRF's, stay keyed by
field at the top level, beside ``detail``). The rest is DRF's default.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from assays.api.partner_auth import ApiKeyRefused, PartnerApiKeyAuthentication
from assays.errors import DomainError, NotFoundError, PermissionDeniedError

__all__ = ["DomainRefusedError", "exception_handler", "not_found"]


class DomainRefusedError(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request was refused."
    default_code = "refused"


def _validation_error_response(exc: DjangoValidationError) -> Response:
    body: dict[str, Any] = {"detail": "; ".join(str(message) for message in exc.messages)}
    if hasattr(exc, "error_dict"):
        body["errors"] = {field: [str(message) for message in messages] for field, messages in exc.message_dict.items()}
    set_rollback()
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


_DETAIL_MESSAGES = 5


def _field_messages(errors: Any, field: str = "") -> list[str]:
    """DRF's nested field errors as "field: message" lines, in order."""
    if isinstance(errors, dict):
        return [line for key, inner in errors.items() for line in _field_messages(inner, f"{field}.{key}" if field else str(key))]
    if isinstance(errors, list):
        return [line for inner in errors for line in _field_messages(inner, field)]
    return [f"{field}: {errors}" if field and field != "non_field_errors" else str(errors)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        return _validation_error_response(exc)
    translated: Exception = exc
    # Order matters: the two specific errors are DomainErrors too.
    if isinstance(exc, NotFoundError):
        translated = exceptions.NotFound(str(exc))
    elif isinstance(exc, PermissionDeniedError):
        translated = exceptions.PermissionDenied(str(exc))
    elif isinstance(exc, DomainError):
        translated = DomainRefusedError(str(exc))
    response = drf_exception_handler(translated, context)
    if response is not None and isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        # A serializer's field errors ({"reason": ["This field is required."]}) keep their keys and
        # gain the ``detail`` every error body has (and the schema's Error promises).
        response.data.setdefault("detail", "; ".join(_field_messages(response.data)[:_DETAIL_MESSAGES]) or "invalid request")
    if response is not None and isinstance(exc, ApiKeyRefused):
        # DRF answers 403 when the view's first authenticator (sessions) sends no challenge; a dead
        # key is an authentication failure wherever it is sent: 401, with the scheme to use.
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response["WWW-Authenticate"] = PartnerApiKeyAuthentication().authenticate_header(context["request"])
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: a URL that no pattern takes (``/api/v1/certificates/-1/``, a typo) answers an
    API client in the API's own JSON error, as its documented 404s do; a browser gets the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return page_not_found(request, exception)
