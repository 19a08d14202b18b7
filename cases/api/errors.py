"""Every API error is JSON ``{"code": <stable>, "detail": <human>}``; validation errors
add ``errors`` per field. Nothing in an error echoes the submitted values."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from access.crypto.errors import CryptoError, DataKeyDestroyed
from access.policy import AlreadyHasAccess, RecordErased
from access.services import GrantError
from cases.errors import DomainError

logger = logging.getLogger("haven.api")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _field_codes(detail: Any) -> Any:
    """Per-field error messages and codes, without the offending input."""
    if isinstance(detail, dict):
        return {key: _field_codes(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_field_codes(item) for item in detail]
    return {"code": getattr(detail, "code", "invalid"), "message": str(detail)}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response({"code": exc.code, "detail": exc.detail, **exc.extra}, status=exc.status)
    if isinstance(exc, GrantError):
        status_code = 404 if exc.code == "not_found" else 400
        return Response({"code": exc.code, "detail": exc.detail}, status=status_code)
    if isinstance(exc, AlreadyHasAccess):
        return Response(
            {"code": "already_has_access", "detail": "You can already open this case."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataKeyDestroyed | RecordErased):
        return Response(
            {"code": "gone", "detail": "This record was erased."}, status=status.HTTP_410_GONE
        )
    if isinstance(exc, CryptoError):
        # Fail closed, and say nothing about the data.
        logger.error("decryption refused: %s", type(exc).__name__)
        return Response(
            {"code": "decryption_failed", "detail": "The record could not be decrypted."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "detail": "Some fields are invalid.",
            "errors": _field_codes(exc.detail),
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else "error",
            "detail": str(exc.detail) if isinstance(exc.detail, str) else exc.default_detail,
        }
    return response
