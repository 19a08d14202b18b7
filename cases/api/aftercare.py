"""API for after care: the legal hold and data-subject requests (AS9-END-1 to END-3).
Each handler declares its access, parses, calls one service and serialises."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from access.endpoints import case_endpoint, governance_endpoint, staff_endpoint
from access.models import User
from access.roles import Capability
from cases import services
from cases.api import serializers as s
from cases.models import Case, RequestStatus, SubjectRequest, TransferStatus
from haven.api import (
    ERROR,
    ERRORS,
    ApiView,
    DownloadView,
    created,
    download_response,
    paginated,
    validated,
    wants_bytes,
)


def _release(request: Request, actor: User, case: Case) -> Response:
    """The release, by ``DELETE .../legal-hold/`` or its POST twin."""
    data = validated(s.LegalHoldInput, request.data)
    released = services.legal_hold_release(actor=actor, case=case, reason=data["reason"])
    return Response(s.LegalHoldOutput(released).data)


class LegalHoldApi(ApiView):
    @extend_schema(
        operation_id="legal_hold_place",
        request=s.LegalHoldInput,
        responses={
            200: s.LegalHoldOutput,
            409: OpenApiResponse(ERROR, description="legal_hold: the case is held already"),
            **ERRORS,
        },
        summary="Place a legal hold (team supervisor or DPO): the case is never purged or erased",
    )
    @governance_endpoint(action="legal_hold.place", need=Capability.LEGAL_HOLD)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = validated(s.LegalHoldInput, request.data)
        held = services.legal_hold_place(actor=actor, case=case, reason=data["reason"])
        return Response(s.LegalHoldOutput(held).data)

    @extend_schema(
        operation_id="legal_hold_release",
        description=(
            'The body is `{"reason"}` as for placing; OpenAPI 3.0 cannot describe a body '
            "on DELETE, so clients that cannot send one use `POST .../legal-hold/release/`."
        ),
        responses={
            200: s.LegalHoldOutput,
            409: OpenApiResponse(ERROR, description="not_held: the case is not on hold"),
            **ERRORS,
        },
        summary="Release a legal hold (DPO only), with a reason",
    )
    @governance_endpoint(action="legal_hold.release", need=Capability.LEGAL_HOLD_RELEASE)
    def delete(self, request: Request, *, actor: User, case: Case) -> Response:
        return _release(request, actor, case)


class CaseRequestsApi(ApiView):
    @extend_schema(
        operation_id="subject_requests_make",
        request=s.SubjectRequestInput,
        responses={
            201: s.SubjectRequestOutput,
            409: OpenApiResponse(ERROR, description="request_pending: one is waiting already"),
            **ERRORS,
        },
        summary="Ask, on the survivor's behalf, for a copy of their records or for erasure",
        description="Staff who read the identity. A DPO other than the requester decides.",
    )
    @case_endpoint(action="subject_request.make", need=Capability.IDENTITY_READ, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = validated(s.SubjectRequestInput, request.data)
        made = services.subject_request_make(
            actor=actor,
            case=case,
            kind=data["kind"],
            reason=data["reason"],
            fmt=data.get("format", ""),
        )
        return created(s.SubjectRequestOutput(made).data)


class RequestListApi(ApiView):
    @extend_schema(
        operation_id="subject_requests_list",
        parameters=[
            OpenApiParameter("status", str, enum=RequestStatus.values, required=False),
        ],
        responses={200: paginated(s.SubjectRequestOutput), **ERRORS},
        summary="Data-subject requests: every one for the DPO, one's own for others",
        description="References, kinds, dates and status only; never case content.",
    )
    @staff_endpoint()
    def get(self, request: Request, *, actor: User) -> Response:
        query = services.subject_request_queue(
            actor=actor, status=str(request.query_params.get("status", ""))
        ).select_related("requested_by")
        paginator, page = self.paginate(request, query)
        return paginator.get_paginated_response(s.SubjectRequestOutput(page, many=True).data)


def _request_detail(actor: User, found: SubjectRequest) -> dict[str, Any]:
    """A request as its requester or the DPO sees it; for the requester of a prepared
    access package, how to collect it (and, once, the PDF's passphrase)."""
    body: dict[str, Any] = dict(s.SubjectRequestOutput(found).data)
    if found.collectable_by(actor.pk):
        body["download_url"] = reverse("api:request-download", args=[found.pk])
        body["sha256"] = found.sha256
        passphrase = services.subject_request_passphrase(actor=actor, request=found)
        if passphrase is not None:
            body["passphrase"] = passphrase
    return body


class RequestDetailApi(ApiView):
    @extend_schema(
        operation_id="subject_requests_get",
        responses={200: s.SubjectRequestDetailOutput, **ERRORS},
        summary="A request's status; for an approved access request, its package",
        description=(
            "The requester of an approved access request gets `download_url` and `sha256`, "
            "and the PDF's `passphrase` in the first answer only."
        ),
    )
    @staff_endpoint()
    def get(self, request: Request, request_id: Any, *, actor: User) -> Response:
        found = services.subject_request_get(actor=actor, request_id=request_id)
        return Response(_request_detail(actor, found))


class RequestDecideApi(ApiView):
    @extend_schema(
        operation_id="subject_requests_decide",
        request=s.DecideInput,
        responses={
            200: s.SubjectRequestOutput,
            409: OpenApiResponse(
                ERROR, description="legal_hold (erasure of a held case) or decided (already)"
            ),
            **ERRORS,
        },
        summary="Approve or refuse (a DPO who is not the requester)",
        description=(
            "Approving an erasure crypto-shreds the survivor and deletes their records at "
            "once; approving an access request prepares the package for the requester."
        ),
    )
    @staff_endpoint(need=Capability.SUBJECT_REQUEST_DECIDE, action="subject_request.decide")
    def post(self, request: Request, request_id: Any, *, actor: User) -> Response:
        data = validated(s.DecideInput, request.data)
        decided = services.subject_request_decide(
            actor=actor, request_id=request_id, decision=data["decision"], note=data.get("note")
        )
        return Response(s.SubjectRequestOutput(decided).data)


class RequestDownloadApi(DownloadView):
    download_media_types = ("application/octet-stream", "application/pdf", "application/json")

    @extend_schema(
        operation_id="subject_requests_download",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="the package, when asked for as bytes"
            ),
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="the AES-256 encrypted copy (format pdf)"
            ),
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.BINARY, description="the copy as JSON (format json)"
            ),
            409: OpenApiResponse(ERROR, description="pending: the request is not decided yet"),
            **ERRORS,
        },
        summary="The survivor's copy, once, to the requester; afterwards 410",
    )
    @staff_endpoint(need=Capability.IDENTITY_READ, action="subject_request.download")
    def get(self, request: Request, request_id: Any, *, actor: User) -> HttpResponse:
        found, content = services.subject_package_download(actor=actor, request_id=request_id)
        media = "application/pdf" if found.format == "pdf" else "application/json"
        if wants_bytes(request, media):
            media = "application/octet-stream"
        return download_response(
            content, media=media, filename=found.package_name, sha256=found.sha256
        )


class LegalHoldReleaseApi(ApiView):
    """``POST .../legal-hold/release/``: the same release as ``DELETE .../legal-hold/``,
    for clients (and generated ones) that cannot send a body with DELETE."""

    @extend_schema(
        operation_id="legal_hold_release_post",
        request=s.LegalHoldInput,
        responses={
            200: s.LegalHoldOutput,
            409: OpenApiResponse(ERROR, description="not_held: the case is not on hold"),
            **ERRORS,
        },
        summary="Release a legal hold (DPO only), with a reason; as DELETE .../legal-hold/",
    )
    @governance_endpoint(action="legal_hold.release", need=Capability.LEGAL_HOLD_RELEASE)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        return _release(request, actor, case)


class StatisticsApi(ApiView):
    @extend_schema(
        operation_id="statistics",
        parameters=[
            OpenApiParameter(
                "by", str, enum=list(services.DIMENSIONS), required=False, description="rows"
            ),
            OpenApiParameter(
                "since",
                str,
                required=False,
                pattern=r"^\d{4}-\d{2}$",
                description="YYYY-MM (first month)",
            ),
            OpenApiParameter(
                "until",
                str,
                required=False,
                pattern=r"^\d{4}-\d{2}$",
                description="YYYY-MM (last month)",
            ),
        ],
        responses={200: s.StatisticsOutput, **ERRORS},
        summary="Counts of cases by risk level, trafficking type, status, encounter kind "
        "and month; small counts suppressed (DPO and supervisors)",
        description=(
            "Only cases with a research consent in force are counted. Every count under "
            "`min_cell` (HAVEN_STATS_MIN_CELL) is suppressed and marked, and others with "
            "it so that no suppressed count can be worked out from the totals. Row totals "
            "cover every month, so that two windows cannot be subtracted."
        ),
    )
    @staff_endpoint(need=Capability.STATISTICS, action="statistics.view")
    def get(self, request: Request, *, actor: User) -> Response:
        params = request.query_params
        table = services.statistics_table(
            actor=actor,
            by=str(params.get("by") or "risk_level"),
            since=params.get("since"),
            until=params.get("until"),
        )
        return Response(s.statistics_data(table))


class ProcessingApi(ApiView):
    @extend_schema(
        operation_id="processing_record",
        responses={200: s.ProcessingOutput, **ERRORS},
        summary="Records of processing activities, GDPR Art. 30 (DPO)",
        description=(
            "Generated from the code and settings in force: purposes, data subjects, the "
            "fields of each model and how they are protected, recipients and the "
            "disclosures made to them, time limits for erasure, security measures, and "
            "counts of what is held. No survivor's data."
        ),
    )
    @staff_endpoint(need=Capability.PROCESSING_RECORDS, action="processing.view")
    def get(self, request: Request, *, actor: User) -> Response:
        return Response(services.processing_data(services.processing_record(actor=actor)))


# --- handing over a hard case (AS8-2) -----------------------------------------------


class CaseTransferApi(ApiView):
    @extend_schema(
        operation_id="transfer_request_make",
        request=s.TransferInput,
        responses={
            **ERRORS,
            201: s.TransferOutput,
            409: OpenApiResponse(ERROR, description="request_pending or case_closed"),
        },
        summary="Ask to hand over a case that is personally hard (the assigned worker)",
        description="The reason is private: only you and your team's supervisor see it.",
    )
    @case_endpoint(action="transfer.request", need=Capability.CASE_READ, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = validated(s.TransferInput, request.data)
        made = services.transfer_request_make(actor=actor, case=case, reason=data["reason"])
        return created(s.TransferOutput(made).data)


class TransferListApi(ApiView):
    @extend_schema(
        operation_id="transfer_requests_list",
        parameters=[
            OpenApiParameter("status", str, enum=list(TransferStatus.values), required=False)
        ],
        responses={200: paginated(s.TransferOutput), **ERRORS},
        summary="My transfer requests; for a supervisor, also those of the team",
    )
    @staff_endpoint()
    def get(self, request: Request, *, actor: User) -> Response:
        query = services.transfer_requests_for(
            actor=actor, status=str(request.query_params.get("status", ""))
        )
        paginator, page = self.paginate(request, query)
        return paginator.get_paginated_response(s.TransferOutput(page, many=True).data)


class TransferDecideApi(ApiView):
    @extend_schema(
        operation_id="transfer_decide",
        request=s.TransferDecideInput,
        responses={
            **ERRORS,
            200: s.TransferOutput,
            409: OpenApiResponse(ERROR, description="decided: decided already"),
        },
        summary="Approve (the case moves to to_user at once) or decline (with a note)",
    )
    @staff_endpoint(need=Capability.GRANT_MANAGE, action="transfer.decide")
    def post(self, request: Request, request_id: Any, *, actor: User) -> Response:
        data = validated(s.TransferDecideInput, request.data)
        decided = services.transfer_decide(
            actor=actor,
            request_id=request_id,
            decision=data["decision"],
            to_username=data.get("to_user") or "",
            note=data.get("note") or "",
        )
        return Response(s.TransferOutput(decided).data)
