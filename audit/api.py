"""The DPO's API: access events with the contract's filters, chain status, and the
per-case access report (also for a supervisor of the case's team)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from access import policy
from access.roles import Capability
from audit import chain, selectors
from audit.forms import EventFilterForm
from cases.api.views import ERRORS, ApiView


class EventOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor_username")
    actor_id = serializers.IntegerField(allow_null=True)
    role = serializers.CharField(source="actor_role")
    action = serializers.CharField()
    case = serializers.CharField(source="case_reference")
    outcome = serializers.CharField()
    reason = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField()
    request_id = serializers.CharField()
    detail = serializers.JSONField()


class VerifyOutput(serializers.Serializer[Any]):
    intact = serializers.BooleanField()
    checked = serializers.IntegerField()
    first_broken = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField()


def _filter_from(request: Request) -> selectors.EventFilter:
    form = EventFilterForm(request.query_params)
    if not form.is_valid():
        raise serializers.ValidationError(form.errors.get_json_data(), code="invalid")
    unknown = set(request.query_params) - set(selectors.FILTERS) - {"page"}
    if unknown:
        raise serializers.ValidationError({k: ["Unknown filter."] for k in unknown})
    return form.to_filter()


FILTER_PARAMETERS = [
    OpenApiParameter(name, str, description=description)
    for name, description in (
        ("case", "case reference"),
        ("actor", "staff username"),
        ("action", "action name, or its prefix (case, identity...)"),
        ("outcome", "allowed or denied"),
        ("since", "first day (YYYY-MM-DD), inclusive"),
        ("until", "last day (YYYY-MM-DD), inclusive"),
    )
]


class AuditEventsApi(ApiView):
    @extend_schema(
        operation_id="audit_events",
        parameters=FILTER_PARAMETERS,
        responses={200: EventOutput(many=True), **ERRORS},
        summary="Access events (DPO)",
    )
    def get(self, request: Request) -> Response:
        actor = policy.acting_user(request.user)
        policy.require_capability(actor, Capability.AUDIT_REVIEW, action="audit.events")
        event_filter = _filter_from(request)
        paginator, page = self.paginate(request, selectors.events(event_filter))
        policy.record_list(
            actor, action="audit.events", count=len(page), fields=event_filter.used()
        )
        return paginator.get_paginated_response(EventOutput(page, many=True).data)


class AuditVerifyApi(ApiView):
    @extend_schema(
        operation_id="audit_verify",
        responses={200: VerifyOutput, **ERRORS},
        summary="Recompute the audit hash chain (DPO)",
    )
    def get(self, request: Request) -> Response:
        actor = policy.acting_user(request.user)
        policy.require_capability(actor, Capability.AUDIT_REVIEW, action="audit.verify")
        verdict = chain.verify()
        policy.record_list(actor, action="audit.verify", count=verdict.checked)
        return Response(
            VerifyOutput(
                {
                    "intact": verdict.intact,
                    "checked": verdict.checked,
                    "first_broken": verdict.first_broken,
                    "problem": verdict.problem,
                }
            ).data
        )


class CaseAccessReportApi(ApiView):
    @extend_schema(
        operation_id="case_access_report",
        responses={200: EventOutput(many=True), **ERRORS},
        summary="Who accessed this record, when and how (DPO, supervisor of the team)",
    )
    def get(self, request: Request, reference: str) -> Response:
        actor = policy.acting_user(request.user)
        canonical = policy.access_report_for(actor, reference)
        query = selectors.events(selectors.EventFilter(case=canonical))
        paginator, page = self.paginate(request, query)
        return paginator.get_paginated_response(EventOutput(page, many=True).data)
