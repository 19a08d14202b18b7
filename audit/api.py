"""The DPO's API: access events with the contract's filters, chain status, and the
per-case access report (also for a supervisor of the case's team)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from access import policy
from access.endpoints import staff_endpoint
from access.models import User
from access.roles import Capability
from audit import chain, selectors
from audit.forms import EventFilterForm
from haven.api import ERRORS, ApiView, paginated
from haven.no_echo import unknown_keys_errors


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
    leaf_index = serializers.IntegerField(
        allow_null=True, help_text="the event's place in the audit log (0-based)"
    )


class VerifyOutput(serializers.Serializer[Any]):
    intact = serializers.BooleanField()
    checked = serializers.IntegerField()
    first_broken = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField()


def _filter_from(request: Request) -> selectors.EventFilter:
    unknown = unknown_keys_errors(request.query_params, {*selectors.FILTERS, "page"})
    if unknown:
        raise serializers.ValidationError(unknown, code="unknown_field")
    empty = sorted(name for name, value in request.query_params.items() if value == "")
    if empty:  # a filter named with no value is a mistake, not "no filter"
        raise serializers.ValidationError(
            {name: ["Give a value, or leave the filter out."] for name in empty}, code="blank"
        )
    form = EventFilterForm(request.query_params)
    if not form.is_valid():
        raise serializers.ValidationError(
            {
                name: [serializers.ErrorDetail(e["message"], code=e["code"]) for e in errors]
                for name, errors in form.errors.get_json_data().items()
            }
        )
    return form.to_filter()


REFERENCE_PATTERN = "^HV-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"
FILTER_PARAMETERS = [
    OpenApiParameter(
        "case",
        str,
        pattern=REFERENCE_PATTERN,
        description="case reference, e.g. HV-7K4Q-M2XD (its last symbol is a check symbol)",
    ),
    OpenApiParameter("actor", str, description="staff username"),
    OpenApiParameter(
        "action",
        str,
        pattern="^[a-z_.]{0,64}$",
        description="action name, or its prefix (case, identity...)",
    ),
    OpenApiParameter("outcome", str, enum=["allowed", "denied"]),
    OpenApiParameter("since", OpenApiTypes.DATE, description="first day, inclusive (1970 on)"),
    OpenApiParameter("until", OpenApiTypes.DATE, description="last day, inclusive (before 3000)"),
    OpenApiParameter("page", int, description="page number, from 1"),
]


class AuditEventsApi(ApiView):
    @extend_schema(
        operation_id="audit_events",
        parameters=FILTER_PARAMETERS,
        responses={200: paginated(EventOutput), **ERRORS},
        summary="Access events (DPO)",
    )
    @staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.events")
    def get(self, request: Request, *, actor: User) -> Response:
        event_filter = _filter_from(request)
        paginator, page = self.paginate(
            request, selectors.with_leaf_index(selectors.events(event_filter))
        )
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
    @staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.verify")
    def get(self, request: Request, *, actor: User) -> Response:
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
        responses={200: paginated(EventOutput), **ERRORS},
        summary="Who accessed this record, when and how (DPO, supervisor of the team)",
    )
    @staff_endpoint()
    def get(self, request: Request, reference: str, *, actor: User) -> Response:
        canonical = policy.access_report_for(actor, reference)
        query = selectors.with_leaf_index(selectors.events(selectors.EventFilter(case=canonical)))
        paginator, page = self.paginate(request, query)
        return paginator.get_paginated_response(EventOutput(page, many=True).data)
