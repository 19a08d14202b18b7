"""What every API view shares: the base view, input validation, paging, the error
responses the schema declares, and the one exception handler. ``cases``, ``audit`` and
``access`` build on it without importing one another."""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from access.crypto.errors import TAMPERING, DecryptionFailed
from audit.models import Outcome
from audit.services import event_record
from haven.errors import HavenError
from haven.references import normalise

ERROR = inline_serializer(
    "Error",
    fields={
        "code": serializers.CharField(help_text=_("stable, machine-readable")),
        "detail": serializers.CharField(help_text=_("for people; never echoes the input")),
        "errors": serializers.DictField(
            required=False, help_text=_("per field: lists of {code, message}")
        ),
    },
)
CONFLICT = inline_serializer(
    "Conflict",
    fields={
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "current_version": serializers.IntegerField(
            required=False, help_text=_("for stale_version: the version now stored")
        ),
    },
)
ERRORS = {
    400: OpenApiResponse(ERROR, description="Invalid input; nothing was changed."),
    401: OpenApiResponse(ERROR, description="Not authenticated."),
    403: OpenApiResponse(ERROR, description="Known but forbidden."),
    404: OpenApiResponse(ERROR, description="No such case, or not yours to see."),
    410: OpenApiResponse(ERROR, description="The record was erased."),
}
STALE = {409: OpenApiResponse(CONFLICT, description="Conflict: stale version or state.")}


@functools.cache
def paginated(serializer_class: type[serializers.Serializer[Any]]) -> Any:
    """The page object every list answers with: ``{count, next, previous, results}``."""
    name = serializer_class.__name__.removesuffix("Output").removesuffix("List")
    return inline_serializer(
        f"Paginated{name}List",
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


# Answers any operation can give, whatever its own: added to every operation of the
# schema by ``declare_common_responses`` so that the schema describes what is sent.
COMMON = {
    "405": "method_not_allowed: the path exists, the method does not",
    "413": "payload_too_large: the body is over the limit",
    "415": "unsupported_media_type: the body is not JSON",
    "429": "throttled: too many requests",
    "500": "server_error: logged, and nothing about the data said",
}


MIN_PROPERTIES: dict[str, int] = {}
REQUIRED_IN_PATCH: dict[str, list[str]] = {}


def min_properties(count: int) -> Any:
    """Declare, on an input serializer, that its body must name at least ``count``
    fields (JSON Schema ``minProperties``; the serializer enforces it itself)."""

    def mark(cls: type[Any]) -> type[Any]:
        MIN_PROPERTIES[f"{cls.__name__}Request"] = count
        MIN_PROPERTIES[f"Patched{cls.__name__}Request"] = count
        return cls

    return mark


def required_in_patch(*fields: str) -> Any:
    """Declare fields a PATCH body must carry (the version read, say). drf-spectacular
    makes every field of a PATCH body optional; the serializer requires these, and the
    schema says so."""

    def mark(cls: type[Any]) -> type[Any]:
        REQUIRED_IN_PATCH[f"Patched{cls.__name__}Request"] = list(fields)
        return cls

    return mark


def declare_common_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing: every operation declares the common error
    answers, and every request body refuses properties it does not name (the server
    refuses unknown keys; the schema says so)."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    needs_body = {f"#/components/schemas/{name}" for name in [*MIN_PROPERTIES, *REQUIRED_IN_PATCH]}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            body = operation.get("requestBody", {}).get("content", {}).values()
            if any(media.get("schema", {}).get("$ref") in needs_body for media in body):
                operation["requestBody"]["required"] = True
            responses = operation.setdefault("responses", {})
            for code, description in COMMON.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": error_ref}},
                    },
                )
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
            if name in MIN_PROPERTIES:
                schema["minProperties"] = MIN_PROPERTIES[name]
            if name in REQUIRED_IN_PATCH:
                schema["required"] = sorted({*schema.get("required", []), *REQUIRED_IN_PATCH[name]})
    return result


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


class ApiView(APIView):
    # The largest body this view reads; None: DATA_UPLOAD_MAX_MEMORY_SIZE.
    max_body_bytes: int | None = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        view = super().as_view(**initkwargs)
        # DRF authenticates (Bearer token or session) and its IsAuthenticated default
        # refuses anonymous calls with 401; Django's login redirect must not run first.
        view.login_required = False  # type: ignore[attr-defined]
        return view

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        limit = self.max_body_bytes or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if not length.isdigit() or int(length) > limit:
            raise PayloadTooLarge()
        super().initial(request, *args, **kwargs)

    def paginate(
        self, request: Request, queryset: Any, *, count: int | None = None
    ) -> tuple[PageNumberPagination, list[Any]]:
        """A page of ``queryset``; ``count``, when the caller knows it more cheaply than
        ``COUNT(*)`` (the audit events, from their daily rollup), is used instead."""
        paginator = PageNumberPagination()
        if count is not None:
            paginator.django_paginator_class = functools.partial(  # type: ignore[assignment]
                _KnownCountPaginator, known_count=count
            )
        page: list[Any] | None = paginator.paginate_queryset(queryset, request, view=self)
        return paginator, list(page or [])


class _KnownCountPaginator(Paginator):  # type: ignore[type-arg]
    def __init__(self, object_list: Any, per_page: int, *, known_count: int) -> None:
        super().__init__(object_list, per_page)
        self.known_count = known_count

    @cached_property
    def count(self) -> int:
        return self.known_count


class _BytesRenderer(BaseRenderer):
    """Lets content negotiation accept a download's own media type; the view returns the
    bytes itself, and a refusal is always JSON (``DownloadView.finalize_response``)."""

    format = "bytes"
    charset = None

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return data


class DownloadView(ApiView):
    """A view that answers bytes (a package, a file) on success and JSON on refusal,
    whatever the client's ``Accept`` asked for among ``download_media_types``."""

    download_media_types: tuple[str, ...] = ("application/octet-stream",)

    def get_renderers(self) -> list[BaseRenderer]:
        return [
            JSONRenderer(),
            *(
                type(f"Bytes_{media}", (_BytesRenderer,), {"media_type": media})()
                for media in self.download_media_types
            ),
        ]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(response, Response):  # a refusal: JSON, whatever was asked for
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def created(data: Any) -> Response:
    """201 with the new record."""
    return Response(data, status=status.HTTP_201_CREATED)


def download_response(content: bytes, *, media: str, filename: str, sha256: str) -> HttpResponse:
    """A package as an attachment, with its SHA-256 for the receiver to check."""
    response = HttpResponse(content, content_type=media)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-SHA256"] = sha256
    return response


def wants_bytes(request: Request, media: str) -> bool:
    """Whether the Accept header asks for octet-stream and not for the download's own
    type (``*/*`` or no header: its own type)."""
    accept = request.META.get("HTTP_ACCEPT", "")
    wanted = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return "application/octet-stream" in wanted and media not in wanted


def validated(serializer_class: type[serializers.Serializer[Any]], data: Any) -> Any:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- errors: one handler for every API view ------------------------------------------

logger = logging.getLogger("haven.api")
API_PREFIX = "/api/"


def _field_codes(detail: Any) -> Any:
    """Per-field error messages and codes, without the offending input."""
    if isinstance(detail, dict):
        return {key: _field_codes(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_field_codes(item) for item in detail]
    return {"code": getattr(detail, "code", "invalid"), "message": str(detail)}


def _drf_validation(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A model's or service's ``ValidationError``, with its codes kept per field."""

    def details(errors: list[DjangoValidationError]) -> list[ErrorDetail]:
        return [
            ErrorDetail(str(message), code=error.code or "invalid")
            for error in errors
            for message in error.messages
        ]

    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(
            {field: details(errors) for field, errors in exc.error_dict.items()}
        )
    return exceptions.ValidationError({"non_field_errors": details(exc.error_list)})


security_logger = logging.getLogger("haven.security")


def record_tampering(request: Any, exc: Exception) -> None:
    """A ciphertext that does not open (swapped between rows or fields, or corrupted)
    is a security event: logged, written to the audit log as ``crypto.decrypt_failed``
    with where it happened (model and field, never a value) and the case, and raised as
    an anomaly for the DPO by the next scan. The read itself has failed closed."""
    if not isinstance(exc, TAMPERING):
        return
    place = getattr(exc, "place", "") or "unknown"
    match = getattr(request, "resolver_match", None)
    raw = match.kwargs.get("reference", "") if match is not None else ""
    reference = normalise(raw) if isinstance(raw, str) and raw else None
    security_logger.error("ciphertext refused at %s (%s)", place, type(exc).__name__)
    user = getattr(request, "user", None)
    try:
        event_record(
            actor=user if getattr(user, "is_authenticated", False) else None,
            action="crypto.decrypt_failed",
            outcome=Outcome.DENIED,
            case_reference=reference or "",
            reason="tampered" if isinstance(exc, DecryptionFailed) else "unknown_key",
            detail={"place": place.lower()[:64]},
        )
    except Exception:  # the answer is already an error; the log line above stands
        security_logger.exception("could not record the decryption failure")


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error is JSON ``{"code": <stable>, "detail": <human>}`` (validation
    errors add ``errors`` per field); nothing in it echoes the submitted values."""
    if isinstance(exc, HavenError):
        record_tampering(context.get("request"), exc)
        if exc.status >= 500:
            logger.error("refused (%s): %s", exc.code, type(exc).__name__)
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = _drf_validation(exc)
    elif isinstance(exc, Http404):
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


def json_error(status_code: int, code: str, detail: str) -> JsonResponse:
    """An error answer for paths under /api/ that never reached a DRF view (unknown
    paths, bad path parameters, errors in middleware): the same shape as the API's own."""
    return JsonResponse({"code": code, "detail": detail}, status=status_code)


@csrf_exempt
@login_not_required
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Every path under /api/ that names no endpoint, including paths whose parameters
    do not fit (a malformed UUID or id): 404 in JSON, never an HTML page or a redirect."""
    return json_error(404, "not_found", "Not found.")
