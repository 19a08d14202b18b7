"""API views: parse, ask ``access.policy``, call a service or selector, serialise.

Each class is one resource; nothing here queries a case model directly.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access import policy
from access import services as access_services
from access.roles import Capability
from cases import selectors, services
from cases.api import serializers as s
from cases.api.errors import PayloadTooLarge
from cases.errors import ConsentRequired
from cases.models import RiskLevel

ERROR = inline_serializer(
    "Error",
    fields={
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "errors": serializers.DictField(required=False),
    },
)
ERRORS = {
    400: OpenApiResponse(ERROR, description="Invalid input; nothing was changed."),
    401: OpenApiResponse(ERROR, description="Not authenticated."),
    403: OpenApiResponse(ERROR, description="Known but forbidden."),
    404: OpenApiResponse(ERROR, description="No such case, or not yours to see."),
    410: OpenApiResponse(ERROR, description="The record was erased."),
}


class ApiView(APIView):
    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        view = super().as_view(**initkwargs)
        # DRF authenticates (Bearer token or session) and its IsAuthenticated default
        # refuses anonymous calls with 401; Django's login redirect must not run first.
        view.login_required = False  # type: ignore[attr-defined]
        return view

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise PayloadTooLarge()
        super().initial(request, *args, **kwargs)

    def paginate(self, request: Request, queryset: Any) -> tuple[PageNumberPagination, list[Any]]:
        paginator = PageNumberPagination()
        page: list[Any] | None = paginator.paginate_queryset(queryset, request, view=self)
        return paginator, list(page or [])


def _validated(serializer_class: type[serializers.Serializer[Any]], data: Any) -> Any:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class CaseListCreateApi(ApiView):
    @extend_schema(
        operation_id="cases_list",
        responses={200: s.CaseListOutput(many=True), **ERRORS},
        summary="Cases the caller may read (no identity)",
    )
    def get(self, request: Request) -> Response:
        paginator, page = self.paginate(
            request, selectors.case_list_for(user=policy.acting_user(request.user))
        )
        policy.record_list(request.user, action="case.list", count=len(page))
        return paginator.get_paginated_response(s.CaseListOutput(page, many=True).data)

    @extend_schema(
        operation_id="cases_create",
        request=s.CaseCreateInput,
        responses={201: s.CaseCreatedOutput, **ERRORS},
        summary="Intake: open a case for a survivor; the caller is assigned",
        description=(
            "Always creates the case. `possible_duplicates` lists matching cases the caller "
            "may open, and says whether a match exists in a case they may not open."
        ),
    )
    def post(self, request: Request) -> Response:
        policy.require_capability(request.user, Capability.CASE_CREATE, action="case.create")
        actor = policy.acting_user(request.user)
        data = _validated(s.CaseCreateInput, request.data)
        identity = dict(data.get("identity", {}))
        declined = identity.pop("declined", [])
        duplicates = selectors.possible_duplicates(user=actor, identity=identity)
        policy.record_duplicate_check(
            actor,
            readable=[c.reference for c in duplicates.readable],
            elsewhere=[c.reference for c in duplicates.elsewhere],
        )
        case = services.case_open(
            actor=actor,
            identity=identity,
            declined=declined,
            risk_level=data.get("risk_level", RiskLevel.MEDIUM),
            trafficking_types=data.get("trafficking_types", []),
            summary=data.get("summary"),
            referral_source=data.get("referral_source"),
            storage_consent=data.get("storage_consent"),
        )
        case.possible_duplicates = {  # type: ignore[attr-defined]
            "readable": [c.reference for c in duplicates.readable],
            "elsewhere": bool(duplicates.elsewhere),
        }
        return Response(s.CaseCreatedOutput(case).data, status=status.HTTP_201_CREATED)


SEARCH_DESCRIPTION = (
    "Exact match (case, Unicode form, spacing and phone punctuation are ignored) through "
    "blind indexes, only among cases the caller may read, for roles that may see identity. "
    "POST with a JSON body is preferred: it keeps names out of URLs and proxy logs. The "
    "access event records which fields were searched and how many results came back, "
    "never the values."
)


class CaseSearchApi(ApiView):
    def _search(self, request: Request, raw: Any) -> Response:
        actor = policy.acting_user(request.user)
        policy.require_capability(actor, Capability.IDENTITY_READ, action="case.search")
        criteria = _validated(s.CaseSearchInput, raw)
        found = selectors.case_search_for(user=actor, criteria=criteria)
        paginator, page = self.paginate(request, found)
        policy.record_list(actor, action="case.search", count=len(found), fields=list(criteria))
        return paginator.get_paginated_response(s.CaseListOutput(page, many=True).data)

    @extend_schema(
        operation_id="cases_search",
        parameters=[s.CaseSearchInput],
        responses={200: s.CaseListOutput(many=True), **ERRORS},
        summary="Exact identity search",
        description=SEARCH_DESCRIPTION,
    )
    def get(self, request: Request) -> Response:
        params = {k: v for k, v in request.query_params.items() if k != "page" and v != ""}
        return self._search(request, params)

    @extend_schema(
        operation_id="cases_search_post",
        request=s.CaseSearchInput,
        responses={200: s.CaseListOutput(many=True), **ERRORS},
        summary="Exact identity search (values in the body)",
        description=SEARCH_DESCRIPTION,
    )
    def post(self, request: Request) -> Response:
        return self._search(request, request.data)


class CaseDetailApi(ApiView):
    @extend_schema(operation_id="cases_retrieve", responses={200: s.CaseOutput, **ERRORS})
    def get(self, request: Request, reference: str) -> Response:
        case = policy.case_for(
            request.user, reference, need=Capability.CASE_READ, action="case.view"
        )
        return Response(s.CaseOutput(case).data)


class IdentityApi(ApiView):
    @extend_schema(
        operation_id="identity_reveal",
        responses={200: s.IdentityOutput, **ERRORS},
        summary="Reveal identity (every call is logged)",
    )
    def get(self, request: Request, reference: str) -> Response:
        case = policy.case_for(
            request.user, reference, need=Capability.IDENTITY_READ, action="identity.view"
        )
        return Response(s.IdentityOutput(selectors.identity_for(case=case)).data)

    @extend_schema(
        operation_id="identity_rectify",
        request=s.IdentityPatchInput,
        responses={200: s.IdentityOutput, 409: OpenApiResponse(ERROR), **ERRORS},
        summary="Correct identity; previous values are kept",
    )
    def patch(self, request: Request, reference: str) -> Response:
        case = policy.case_for(
            request.user,
            reference,
            need=Capability.IDENTITY_WRITE,
            action="identity.update",
            log_allowed=False,
        )
        data = dict(_validated(s.IdentityPatchInput, request.data))
        version = data.pop("version", None)
        declined = data.pop("declined", None)
        record = services.identity_rectify(
            actor=policy.acting_user(request.user),
            case=case,
            changes=data,
            declined=declined,
            expected_version=version,
        )
        return Response(s.IdentityOutput(record).data)


def _encounter_output(request: Request, case: Any, action: str) -> type[s.EncounterOutput]:
    if policy.reads_clinical(request.user, case, action=action):
        return s.ClinicalEncounterOutput
    return s.EncounterOutput


def _clinical_check(request: Request, case: Any, data: dict[str, Any]) -> bool:
    """Whether the request carries a clinical block; refuses (403, logged) for anyone
    who is not a clinician on the case, before anything is stored."""
    if "clinical" not in data:
        return False
    policy.require(request.user, case, Capability.CLINICAL, action="clinical.update")
    return True


class EncounterListCreateApi(ApiView):
    @extend_schema(
        operation_id="encounters_list",
        responses={200: s.ClinicalEncounterOutput(many=True), **ERRORS},
        summary="Encounter timeline; 'clinical' only for clinicians on the case",
    )
    def get(self, request: Request, reference: str) -> Response:
        case = policy.case_for(
            request.user, reference, need=Capability.CASE_READ, action="encounter.list"
        )
        output = _encounter_output(request, case, "clinical.list")
        paginator, page = self.paginate(request, selectors.encounters_for(case=case))
        return paginator.get_paginated_response(output(page, many=True).data)

    @extend_schema(
        operation_id="encounters_create",
        request=s.EncounterInput,
        responses={201: s.ClinicalEncounterOutput, **ERRORS},
    )
    def post(self, request: Request, reference: str) -> Response:
        case = policy.case_for(
            request.user,
            reference,
            need=Capability.ENCOUNTER_WRITE,
            action="encounter.create",
            log_allowed=False,
        )
        data = dict(_validated(s.EncounterInput, request.data))
        _clinical_check(request, case, data)
        encounter = services.encounter_record(
            actor=policy.acting_user(request.user), case=case, **data
        )
        output = s.ClinicalEncounterOutput if "clinical" in data else s.EncounterOutput
        return Response(output(encounter).data, status=status.HTTP_201_CREATED)


class EncounterDetailApi(ApiView):
    @extend_schema(
        operation_id="encounters_retrieve",
        responses={200: s.ClinicalEncounterOutput, **ERRORS},
    )
    def get(self, request: Request, reference: str, encounter_id: Any) -> Response:
        case = policy.case_for(
            request.user, reference, need=Capability.CASE_READ, action="encounter.view"
        )
        encounter = selectors.encounter_for(case=case, encounter_id=encounter_id)
        output = _encounter_output(request, case, "clinical.view")
        return Response(output(encounter).data)

    @extend_schema(
        operation_id="encounters_update",
        request=s.EncounterPatchInput,
        responses={200: s.ClinicalEncounterOutput, 409: OpenApiResponse(ERROR), **ERRORS},
        summary="Edit; send the version you read (stale → 409, nothing changed)",
    )
    def patch(self, request: Request, reference: str, encounter_id: Any) -> Response:
        case = policy.case_for(
            request.user,
            reference,
            need=Capability.ENCOUNTER_WRITE,
            action="encounter.update",
            log_allowed=False,
        )
        selectors.encounter_for(case=case, encounter_id=encounter_id)  # 404 if not this case's
        data = dict(_validated(s.EncounterPatchInput, request.data))
        version = data.pop("version")
        clinical_given = _clinical_check(request, case, data)
        clinical = data.pop("clinical", None)
        encounter = services.encounter_update(
            actor=policy.acting_user(request.user),
            case=case,
            encounter_id=encounter_id,
            expected_version=version,
            changes=data,
            clinical=clinical,
            clinical_given=clinical_given,
        )
        output = _encounter_output(request, case, "clinical.view")
        return Response(output(encounter).data)


class GrantListCreateApi(ApiView):
    @extend_schema(
        operation_id="grants_list",
        responses={200: s.GrantOutput(many=True), **ERRORS},
        summary="Who has access to this case (supervisors of the case's team)",
    )
    def get(self, request: Request, reference: str) -> Response:
        actor = policy.acting_user(request.user)
        case = policy.case_for(actor, reference, need=Capability.GRANT_MANAGE, action="grant.list")
        paginator, page = self.paginate(request, policy.grants_on(actor, case))
        return paginator.get_paginated_response(s.GrantOutput(page, many=True).data)

    @extend_schema(
        operation_id="grants_create",
        request=s.GrantInput,
        responses={201: s.GrantOutput, **ERRORS},
        summary="Give a staff member access, with a reason and an optional end",
    )
    def post(self, request: Request, reference: str) -> Response:
        actor = policy.acting_user(request.user)
        case = policy.case_for(
            actor, reference, need=Capability.GRANT_MANAGE, action="grant.add", log_allowed=False
        )
        data = _validated(s.GrantInput, request.data)
        grant = access_services.grant_add(
            case=case,
            username=data["user"],
            reason=data["reason"],
            granted_by=actor,
            expires_at=data.get("expires_at"),
        )
        return Response(s.GrantOutput(grant).data, status=status.HTTP_201_CREATED)


class GrantDetailApi(ApiView):
    @extend_schema(
        operation_id="grants_revoke",
        responses={204: None, **ERRORS},
        summary="Revoke a grant; effective at once",
    )
    def delete(self, request: Request, reference: str, grant_id: int) -> Response:
        actor = policy.acting_user(request.user)
        case = policy.case_for(
            actor, reference, need=Capability.GRANT_MANAGE, action="grant.revoke", log_allowed=False
        )
        access_services.grant_revoke(case=case, grant_id=grant_id, revoked_by=actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BreakGlassApi(ApiView):
    @extend_schema(
        operation_id="break_glass",
        request=s.BreakGlassInput,
        responses={201: s.GrantOutput, 409: OpenApiResponse(ERROR), **ERRORS},
        summary="Emergency access for a few hours; needs a written reason; flagged for the DPO",
    )
    def post(self, request: Request, reference: str) -> Response:
        actor = policy.acting_user(request.user)
        case = policy.case_for_break_glass(actor, reference)
        data = _validated(s.BreakGlassInput, request.data)
        grant = access_services.break_glass_open(case=case, user=actor, reason=data["reason"])
        return Response(s.GrantOutput(grant).data, status=status.HTTP_201_CREATED)


class OrganisationListCreateApi(ApiView):
    @extend_schema(
        operation_id="organisations_list",
        responses={200: s.OrganisationOutput(many=True), **ERRORS},
        summary="The referral directory",
    )
    def get(self, request: Request) -> Response:
        actor = policy.acting_user(request.user)
        organisations = selectors.organisations()
        paginator, page = self.paginate(request, organisations)
        policy.record_list(actor, action="organisation.list", count=len(page))
        return paginator.get_paginated_response(s.OrganisationOutput(page, many=True).data)

    @extend_schema(
        operation_id="organisations_create",
        request=s.OrganisationInput,
        responses={201: s.OrganisationOutput, **ERRORS},
        summary="Add to the referral directory (supervisor, admin)",
    )
    def post(self, request: Request) -> Response:
        actor = policy.acting_user(request.user)
        policy.require_capability(actor, Capability.ORGANISATION_MANAGE, action="organisation.add")
        data = _validated(s.OrganisationInput, request.data)
        organisation = services.organisation_add(actor=actor, **data)
        return Response(s.OrganisationOutput(organisation).data, status=status.HTTP_201_CREATED)


class ConsentListCreateApi(ApiView):
    @extend_schema(
        operation_id="consents_list",
        responses={200: s.ConsentOutput(many=True), **ERRORS},
        summary="What the survivor agreed to",
    )
    def get(self, request: Request, reference: str) -> Response:
        case = policy.case_for(
            request.user, reference, need=Capability.CASE_READ, action="consent.list"
        )
        paginator, page = self.paginate(request, selectors.consents_for(case=case))
        return paginator.get_paginated_response(s.ConsentOutput(page, many=True).data)

    @extend_schema(
        operation_id="consents_create",
        request=s.ConsentInput,
        responses={201: s.ConsentOutput, **ERRORS},
        summary="Record a consent (scope, recipient, purpose, how, until when)",
    )
    def post(self, request: Request, reference: str) -> Response:
        actor = policy.acting_user(request.user)
        case = policy.case_for(
            actor, reference, need=Capability.CASE_WRITE, action="consent.record", log_allowed=False
        )
        data = dict(_validated(s.ConsentInput, request.data))
        consent = services.consent_record(
            actor=actor,
            case=case,
            recipient_slug=data.pop("recipient", None),
            form=data.pop("form_base64", None),
            **data,
        )
        return Response(s.ConsentOutput(consent).data, status=status.HTTP_201_CREATED)


class ConsentWithdrawApi(ApiView):
    @extend_schema(
        operation_id="consents_withdraw",
        request=s.WithdrawInput,
        responses={200: s.ConsentOutput, **ERRORS},
        summary="Withdraw a consent: further disclosures under it stop at once",
    )
    def post(self, request: Request, reference: str, consent_id: Any) -> Response:
        actor = policy.acting_user(request.user)
        case = policy.case_for(
            actor,
            reference,
            need=Capability.CASE_WRITE,
            action="consent.withdraw",
            log_allowed=False,
        )
        data = _validated(s.WithdrawInput, request.data)
        consent = services.consent_withdraw(
            actor=actor, case=case, consent_id=consent_id, reason=data.get("reason")
        )
        return Response(s.ConsentOutput(consent).data)


class ReferralCreateApi(ApiView):
    @extend_schema(
        operation_id="referrals_create",
        request=s.ReferralInput,
        responses={201: s.ReferralCreatedOutput, **ERRORS},
        summary="Export a referral package under a valid consent (403 consent_required)",
    )
    def post(self, request: Request, reference: str) -> Response:
        actor = policy.acting_user(request.user)
        case = policy.case_for(
            actor,
            reference,
            need=Capability.REFERRAL_EXPORT,
            action="referral.export",
            log_allowed=False,
        )
        data = _validated(s.ReferralInput, request.data)
        try:
            referral, passphrase = services.referral_export(
                actor=actor,
                case=case,
                recipient_slug=data["recipient"],
                purpose=data["purpose"],
                sections=data["sections"],
                include_identity=data["include_identity"],
                fmt=data["format"],
                staff_names=data["staff_names"],
            )
        except ConsentRequired:
            policy.record_refusal(actor, "referral.export", case.reference, "consent_required")
            raise
        body: dict[str, Any] = {
            "id": referral.id,
            "download_url": reverse("api:referral-download", args=[referral.id]),
            "sha256": referral.sha256,
            "available_until": referral.available_until,
        }
        if passphrase is not None:
            body["passphrase"] = passphrase
        return Response(s.ReferralCreatedOutput(body).data, status=status.HTTP_201_CREATED)


class ReferralDownloadApi(ApiView):
    @extend_schema(
        operation_id="referrals_download",
        responses={(200, "application/octet-stream"): bytes, **ERRORS},
        summary="The package, once, to its exporter; afterwards 410",
    )
    def get(self, request: Request, referral_id: Any) -> HttpResponse:
        actor = policy.acting_user(request.user)
        policy.require_capability(actor, Capability.REFERRAL_EXPORT, action="referral.download")
        referral, content = services.referral_download(actor=actor, referral_id=referral_id)
        media = "application/pdf" if referral.format == "pdf" else "application/fhir+json"
        extension = "pdf" if referral.format == "pdf" else "json"
        response = HttpResponse(content, content_type=media)
        response["Content-Disposition"] = (
            f'attachment; filename="referral-{referral.id}.{extension}"'
        )
        response["X-Content-SHA256"] = referral.sha256
        return response
