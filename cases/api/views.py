"""API views: each handler declares the access it needs (``access.endpoints``), parses
its input, calls one service or selector, and serialises. Nothing here queries a case
model, checks a rule, or translates an error: the policy, the services and
``haven.api.exception_handler`` do.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from access import policy
from access import services as access_services
from access.endpoints import case_endpoint, staff_endpoint
from access.models import User
from access.roles import Capability
from cases import selectors, services
from cases.api import serializers as s
from cases.models import Case, Revision
from haven.api import (
    ERROR,
    ERRORS,
    STALE,
    ApiView,
    DownloadView,
    created,
    paginated,
    validated,
    wants_bytes,
)


class CaseListCreateApi(ApiView):
    @extend_schema(
        operation_id="cases_list",
        responses={200: paginated(s.CaseListOutput), **ERRORS},
        summary="Cases the caller may read (no identity)",
    )
    @staff_endpoint()
    def get(self, request: Request, *, actor: User) -> Response:
        paginator, page = self.paginate(request, selectors.case_list_for(user=actor))
        policy.record_list(actor, action="case.list", count=len(page))
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
    @staff_endpoint(need=Capability.CASE_CREATE, action="case.create")
    def post(self, request: Request, *, actor: User) -> Response:
        data = dict(validated(s.CaseCreateInput, request.data))
        identity = dict(data.pop("identity", {}))
        intake = services.case_intake(
            actor=actor, identity=identity, declined=identity.pop("declined", []), **data
        )
        case = intake.case
        case.possible_duplicates = {  # type: ignore[union-attr]
            "readable": [c.reference for c in intake.duplicates.readable],
            "elsewhere": bool(intake.duplicates.elsewhere),
        }
        return created(s.CaseCreatedOutput(case).data)


SEARCH_DESCRIPTION = (
    "Exact match (case, Unicode form, spacing and phone punctuation are ignored) through "
    "blind indexes, only among cases the caller may read, for roles that may see identity. "
    "The optional `name` finds words of any recorded name in any order, accents ignored. "
    "POST with a JSON body is preferred: it keeps names out of URLs and proxy logs. The "
    "access event records which fields were searched and how many results came back, "
    "never the values."
)


class CaseSearchApi(ApiView):
    def _search(self, request: Request, actor: User, raw: Any) -> Response:
        criteria = validated(s.CaseSearchInput, raw)
        found = services.case_search(actor=actor, criteria=criteria)
        paginator, page = self.paginate(request, found)
        return paginator.get_paginated_response(s.CaseListOutput(page, many=True).data)

    @extend_schema(
        operation_id="cases_search",
        parameters=[s.CaseSearchInput],
        responses={200: paginated(s.CaseListOutput), **ERRORS},
        summary="Exact identity search",
        description=SEARCH_DESCRIPTION,
    )
    @staff_endpoint(need=Capability.IDENTITY_READ, action="case.search")
    def get(self, request: Request, *, actor: User) -> Response:
        params = {k: v for k, v in request.query_params.items() if k != "page" and v != ""}
        return self._search(request, actor, params)

    @extend_schema(
        operation_id="cases_search_post",
        request=s.CaseSearchInput,
        responses={200: paginated(s.CaseListOutput), **ERRORS},
        summary="Exact identity search (values in the body)",
        description=SEARCH_DESCRIPTION,
    )
    @staff_endpoint(need=Capability.IDENTITY_READ, action="case.search")
    def post(self, request: Request, *, actor: User) -> Response:
        return self._search(request, actor, request.data)


class CaseDetailApi(ApiView):
    @extend_schema(operation_id="cases_retrieve", responses={200: s.CaseOutput, **ERRORS})
    @case_endpoint(action="case.view")
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        return Response(s.CaseOutput(case).data)

    @extend_schema(
        operation_id="cases_update",
        request=s.CasePatchInput,
        responses={200: s.CaseOutput, **STALE, **ERRORS},
        summary="Correct the case's facts; send the version you read (stale → 409)",
    )
    @case_endpoint(action="case.update", need=Capability.CASE_WRITE, writes=True)
    def patch(self, request: Request, *, actor: User, case: Case) -> Response:
        data = dict(validated(s.CasePatchInput, request.data))
        updated = services.case_update(
            actor=actor, case=case, expected_version=data.pop("version"), changes=data
        )
        return Response(s.CaseOutput(updated).data)


class CaseCloseApi(ApiView):
    @extend_schema(
        operation_id="cases_close",
        request=s.CloseInput,
        responses={200: s.CaseOutput, **STALE, **ERRORS},
        summary="Close with a reason (assigned staff, supervisor); retention starts",
        description="`retention_until` becomes the closing day plus HAVEN_RETENTION_DAYS. "
        "With `checklist`, every point must be confirmed.",
    )
    @case_endpoint(action="case.close", need=Capability.CASE_CLOSE, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = validated(s.CloseInput, request.data)
        closed = services.case_close(
            actor=actor,
            case=case,
            reason=data["reason"],
            note=data.get("note"),
            checklist=data.get("checklist"),
            expected_version=data.get("version"),
        )
        return Response(s.CaseOutput(closed).data)


class CaseReopenApi(ApiView):
    @extend_schema(
        operation_id="cases_reopen",
        request=s.ReopenInput,
        responses={200: s.CaseOutput, **STALE, **ERRORS},
        summary="Open a closed case again, with a reason; retention is cleared",
    )
    @case_endpoint(action="case.reopen", need=Capability.CASE_CLOSE, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = validated(s.ReopenInput, request.data)
        reopened = services.case_reopen(
            actor=actor, case=case, reason=data["reason"], expected_version=data.get("version")
        )
        return Response(s.CaseOutput(reopened).data)


class IdentityApi(ApiView):
    @extend_schema(
        operation_id="identity_reveal",
        responses={200: s.IdentityOutput, **ERRORS},
        summary="Reveal identity (every call is logged)",
    )
    @case_endpoint(action="identity.view", need=Capability.IDENTITY_READ)
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        return Response(s.IdentityOutput(selectors.identity_for(case=case)).data)

    @extend_schema(
        operation_id="identity_rectify",
        request=s.IdentityPatchInput,
        responses={200: s.IdentityOutput, **STALE, **ERRORS},
        summary="Correct identity; previous values are kept",
    )
    @case_endpoint(action="identity.update", need=Capability.IDENTITY_WRITE, writes=True)
    def patch(self, request: Request, *, actor: User, case: Case) -> Response:
        data = dict(validated(s.IdentityPatchInput, request.data))
        record = services.identity_rectify(
            actor=actor,
            case=case,
            expected_version=data.pop("version", None),
            declined=data.pop("declined", None),
            changes=data,
        )
        return Response(s.IdentityOutput(record).data)


class IdentityHistoryApi(ApiView):
    @extend_schema(
        operation_id="identity_history",
        responses={200: paginated(s.RevisionOutput), **ERRORS},
        summary="Each correction of the identity: when, by which role, and the earlier values",
    )
    @case_endpoint(action="identity.history", need=Capability.IDENTITY_READ)
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        history = selectors.revisions_of(case=case, subject=Revision.Subject.IDENTITY)
        paginator, page = self.paginate(request, history)
        return paginator.get_paginated_response(s.RevisionOutput(page, many=True).data)


def _encounter_output(actor: User, case: Case, action: str) -> type[s.EncounterOutput]:
    if policy.reads_clinical(actor, case, action=action):
        return s.ClinicalEncounterOutput
    return s.EncounterOutput


class EncounterListCreateApi(ApiView):
    @extend_schema(
        operation_id="encounters_list",
        responses={200: paginated(s.ClinicalEncounterOutput), **ERRORS},
        summary="Encounter timeline; 'clinical' only for clinicians on the case",
    )
    @case_endpoint(action="encounter.list")
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        output = _encounter_output(actor, case, "clinical.list")
        paginator, page = self.paginate(request, selectors.encounters_for(case=case))
        return paginator.get_paginated_response(output(page, many=True).data)

    @extend_schema(
        operation_id="encounters_create",
        request=s.EncounterInput,
        responses={201: s.ClinicalEncounterOutput, **STALE, **ERRORS},
    )
    @case_endpoint(action="encounter.create", need=Capability.ENCOUNTER_WRITE, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = dict(validated(s.EncounterInput, request.data))
        encounter = services.encounter_record(actor=actor, case=case, **data)
        output = s.ClinicalEncounterOutput if "clinical" in data else s.EncounterOutput
        return created(output(encounter).data)


class EncounterDetailApi(ApiView):
    @extend_schema(
        operation_id="encounters_retrieve",
        responses={200: s.ClinicalEncounterOutput, **ERRORS},
    )
    @case_endpoint(action="encounter.view")
    def get(self, request: Request, encounter_id: Any, *, actor: User, case: Case) -> Response:
        encounter = selectors.encounter_for(case=case, encounter_id=encounter_id)
        return Response(_encounter_output(actor, case, "clinical.view")(encounter).data)

    @extend_schema(
        operation_id="encounters_update",
        request=s.EncounterPatchInput,
        responses={200: s.ClinicalEncounterOutput, **STALE, **ERRORS},
        summary="Edit; send the version you read (stale → 409, nothing changed)",
    )
    @case_endpoint(action="encounter.update", need=Capability.ENCOUNTER_WRITE, writes=True)
    def patch(self, request: Request, encounter_id: Any, *, actor: User, case: Case) -> Response:
        data = dict(validated(s.EncounterPatchInput, request.data))
        clinical_given = "clinical" in data
        encounter = services.encounter_update(
            actor=actor,
            case=case,
            encounter_id=encounter_id,
            expected_version=data.pop("version"),
            clinical=data.pop("clinical", None),
            clinical_given=clinical_given,
            changes=data,
        )
        return Response(_encounter_output(actor, case, "clinical.view")(encounter).data)


class EncounterHistoryApi(ApiView):
    @extend_schema(
        operation_id="encounter_history",
        responses={200: paginated(s.RevisionOutput), **ERRORS},
        summary="Each earlier version of an encounter (clinical values for clinicians only)",
    )
    @case_endpoint(action="encounter.history")
    def get(self, request: Request, encounter_id: Any, *, actor: User, case: Case) -> Response:
        encounter = selectors.encounter_for(case=case, encounter_id=encounter_id)
        history = selectors.revisions_of(
            case=case, subject=Revision.Subject.ENCOUNTER, object_id=encounter.pk
        )
        paginator, page = self.paginate(request, history)
        return paginator.get_paginated_response(s.RevisionOutput(page, many=True).data)


class GrantListCreateApi(ApiView):
    @extend_schema(
        operation_id="grants_list",
        responses={200: paginated(s.GrantOutput), **ERRORS},
        summary="Who has access to this case (supervisors of the case's team)",
    )
    @case_endpoint(action="grant.list", need=Capability.GRANT_MANAGE)
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        paginator, page = self.paginate(request, policy.grants_on(actor, case))
        return paginator.get_paginated_response(s.GrantOutput(page, many=True).data)

    @extend_schema(
        operation_id="grants_create",
        request=s.GrantInput,
        responses={201: s.GrantOutput, **ERRORS},
        summary="Give a staff member access, with a reason and an optional end",
    )
    @case_endpoint(action="grant.add", need=Capability.GRANT_MANAGE, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = validated(s.GrantInput, request.data)
        grant = access_services.grant_add(
            case=case,
            username=data["user"],
            reason=data["reason"],
            granted_by=actor,
            expires_at=data.get("expires_at"),
        )
        return created(s.GrantOutput(grant).data)


class GrantDetailApi(ApiView):
    @extend_schema(
        operation_id="grants_revoke",
        responses={204: None, **ERRORS},
        summary="Revoke a grant; effective at once",
    )
    @case_endpoint(action="grant.revoke", need=Capability.GRANT_MANAGE, writes=True)
    def delete(self, request: Request, grant_id: int, *, actor: User, case: Case) -> Response:
        access_services.grant_revoke(case=case, grant_id=grant_id, revoked_by=actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BreakGlassApi(ApiView):
    @extend_schema(
        operation_id="break_glass",
        request=s.BreakGlassInput,
        responses={201: s.GrantOutput, **STALE, **ERRORS},
        summary="Emergency access for a few hours; needs a written reason; flagged for the DPO",
    )
    @staff_endpoint()
    def post(self, request: Request, reference: str, *, actor: User) -> Response:
        case = policy.case_for_break_glass(actor, reference)
        data = validated(s.BreakGlassInput, request.data)
        grant = access_services.break_glass_open(case=case, user=actor, reason=data["reason"])
        return created(s.GrantOutput(grant).data)


class OrganisationListCreateApi(ApiView):
    @extend_schema(
        operation_id="organisations_list",
        responses={200: paginated(s.OrganisationOutput), **ERRORS},
        summary="The referral directory",
    )
    @staff_endpoint()
    def get(self, request: Request, *, actor: User) -> Response:
        paginator, page = self.paginate(request, selectors.organisations())
        policy.record_list(actor, action="organisation.list", count=len(page))
        return paginator.get_paginated_response(s.OrganisationOutput(page, many=True).data)

    @extend_schema(
        operation_id="organisations_create",
        request=s.OrganisationInput,
        responses={201: s.OrganisationOutput, **STALE, **ERRORS},
        summary="Add to the referral directory (supervisor, admin)",
    )
    @staff_endpoint(need=Capability.ORGANISATION_MANAGE, action="organisation.add")
    def post(self, request: Request, *, actor: User) -> Response:
        data = validated(s.OrganisationInput, request.data)
        organisation = services.organisation_add(actor=actor, **data)
        return created(s.OrganisationOutput(organisation).data)


class ConsentListCreateApi(ApiView):
    @extend_schema(
        operation_id="consents_list",
        responses={200: paginated(s.ConsentOutput), **ERRORS},
        summary="What the survivor agreed to",
    )
    @case_endpoint(action="consent.list")
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        paginator, page = self.paginate(request, selectors.consents_for(case=case))
        return paginator.get_paginated_response(s.ConsentOutput(page, many=True).data)

    @extend_schema(
        operation_id="consents_create",
        request=s.ConsentInput,
        responses={201: s.ConsentOutput, **STALE, **ERRORS},
        summary="Record a consent (scope, recipient, purpose, how, until when)",
    )
    @case_endpoint(action="consent.record", need=Capability.CASE_WRITE, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = dict(validated(s.ConsentInput, request.data))
        consent = services.consent_record(
            actor=actor,
            case=case,
            recipient_slug=data.pop("recipient", None),
            form=data.pop("form_base64", None),
            **data,
        )
        return created(s.ConsentOutput(consent).data)


class ConsentWithdrawApi(ApiView):
    @extend_schema(
        operation_id="consents_withdraw",
        request=s.WithdrawInput,
        responses={200: s.ConsentOutput, **ERRORS},
        summary="Withdraw a consent: further disclosures under it stop at once",
    )
    @case_endpoint(action="consent.withdraw", need=Capability.CASE_WRITE, writes=True)
    def post(self, request: Request, consent_id: Any, *, actor: User, case: Case) -> Response:
        data = validated(s.WithdrawInput, request.data)
        consent = services.consent_withdraw(
            actor=actor, case=case, consent_id=consent_id, reason=data.get("reason")
        )
        return Response(s.ConsentOutput(consent).data)


class ReferralCreateApi(ApiView):
    @extend_schema(
        operation_id="referrals_list",
        responses={200: paginated(s.ReferralOutput), **ERRORS},
        summary="The referrals made from this case, with what each receiver answered",
    )
    @case_endpoint(action="referral.list")
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        paginator, page = self.paginate(request, selectors.referrals_for(case=case))
        return paginator.get_paginated_response(s.ReferralOutput(page, many=True).data)

    @extend_schema(
        operation_id="referrals_create",
        request=s.ReferralInput,
        responses={201: s.ReferralCreatedOutput, **ERRORS},
        summary="Export a referral package under a valid consent (403 consent_required)",
    )
    @case_endpoint(action="referral.export", need=Capability.REFERRAL_EXPORT, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = validated(s.ReferralInput, request.data)
        referral, passphrase = services.referral_export(
            actor=actor,
            case=case,
            recipient_slug=data["recipient"],
            purpose=data["purpose"],
            scope=data["scope"],
            sections=data["sections"],
            include_identity=data["include_identity"],
            fmt=data["format"],
            staff_names=data["staff_names"],
            bundle_type=data["bundle_type"],
            service_id=data.get("service"),
        )
        body: dict[str, Any] = {
            "id": referral.id,
            "download_url": reverse("api:referral-download", args=[referral.id]),
            "sha256": referral.sha256,
            "available_until": referral.available_until,
        }
        if passphrase is not None:
            body["passphrase"] = passphrase
        return created(s.ReferralCreatedOutput(body).data)


class ReferralDownloadApi(DownloadView):
    download_media_types = ("application/octet-stream", "application/pdf", "application/fhir+json")

    @extend_schema(
        operation_id="referrals_download",
        # The package is bytes, checked against its SHA-256 before anything reads it. By
        # default it comes as what it is (PDF or FHIR JSON); a client that asks with
        # ``Accept: application/octet-stream`` gets the same bytes under that type.
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="the package, when asked for as bytes"
            ),
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="the AES-256 encrypted letter (format pdf)"
            ),
            (200, "application/fhir+json"): OpenApiResponse(
                OpenApiTypes.BINARY, description="the FHIR R4 Bundle (format fhir)"
            ),
            403: OpenApiResponse(
                ERROR, description="consent_required: the consent is no longer active"
            ),
            **ERRORS,
        },
        summary="The package, once, to its exporter; afterwards 410",
    )
    @staff_endpoint(need=Capability.REFERRAL_EXPORT, action="referral.download")
    def get(self, request: Request, referral_id: Any, *, actor: User) -> HttpResponse:
        referral, content = services.referral_download(actor=actor, referral_id=referral_id)
        media = "application/pdf" if referral.format == "pdf" else "application/fhir+json"
        if wants_bytes(request, media):
            media = "application/octet-stream"
        extension = "pdf" if referral.format == "pdf" else "json"
        response = HttpResponse(content, content_type=media)
        response["Content-Disposition"] = (
            f'attachment; filename="referral-{referral.id}.{extension}"'
        )
        response["X-Content-SHA256"] = referral.sha256
        return response
