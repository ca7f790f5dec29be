"""Domain errors as HTTP answers, so that a refusal by a service or selector is a clear 4xx, never a 500.

``NotFoundError`` -> 404, ``PermissionDeniedError`` -> 403, any other ``DomainError`` (and an illegal
lot transition) -> 400, a Django ``ValidationError`` (a model's ``full_clean`` or a field's parser) -> 400,
a dead partner API key -> 401.
Each body has a ``detail`` message; field errors add ``errors``. The rest is DRF's default.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from assays.api.partner_auth import ApiKeyRefused, PartnerApiKeyAuthentication
from assays.errors import DomainError, NotFoundError, PermissionDeniedError

__all__ = ["DomainRefusedError", "exception_handler"]


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
    if response is not None and isinstance(exc, ApiKeyRefused):
        # DRF answers 403 when the view's first authenticator (sessions) sends no challenge; a dead
        # key is an authentication failure wherever it is sent: 401, with the scheme to use.
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response["WWW-Authenticate"] = PartnerApiKeyAuthentication().authenticate_header(context["request"])
    return response
