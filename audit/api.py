"""The DPO's API: access events with the contract's filters, the log's status, signed
tree heads and proofs, and the per-case access report (also for a supervisor of the
case's team)."""

from __future__ import annotations

import base64
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from access import ledger, policy
from access.endpoints import staff_endpoint
from access.models import User
from access.roles import Capability
from audit import log, selectors
from audit.forms import EventFilterForm
from haven.api import ERRORS, ApiView, paginated
from haven.errors import HavenError
from haven.fields import StrictSerializer
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
    checked = serializers.IntegerField(help_text="leaves rebuilt from their records")
    first_broken = serializers.IntegerField(
        allow_null=True, help_text="the first broken entry's position, counting from 1"
    )
    problem = serializers.CharField()
    tree_size = serializers.IntegerField(required=False, help_text="leaves in the log")
    signed_size = serializers.IntegerField(
        required=False, help_text="size of the newest signed tree head"
    )
    pending = serializers.IntegerField(
        required=False, help_text="records written but not yet sequenced into the log"
    )
    checked_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="when the check this result comes from finished (null: none has yet)",
    )
    age_seconds = serializers.IntegerField(
        required=False, allow_null=True, help_text="seconds since checked_at"
    )
    kind = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="'full' (every leaf) or 'incremental' (the leaves added since the check "
        "before, which was intact)",
    )
    stale = serializers.BooleanField(
        required=False,
        help_text="the result is older than the schedule allows: the scheduled check "
        "is not running",
    )
    requested = serializers.BooleanField(
        required=False, help_text="a fresh full check has been asked for and not yet run"
    )


class TreeHeadOutput(serializers.Serializer[Any]):
    size = serializers.IntegerField()
    root_hash = serializers.CharField(help_text="lowercase hex SHA-256")
    timestamp = serializers.CharField(help_text="exactly the text that was signed")
    key_id = serializers.CharField(help_text="first 16 hex digits of SHA-256(public key)")
    signature = serializers.CharField(
        help_text="base64 Ed25519 signature of "
        "'haven-tree-head:v1\\n{size}\\n{root_hash}\\n{timestamp}\\n'"
    )


class InclusionOutput(serializers.Serializer[Any]):
    leaf_index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    audit_path = serializers.ListField(child=serializers.CharField())
    leaf = serializers.CharField(
        required=False,
        help_text="base64 of the leaf bytes, rebuilt from the record, so the leaf hash "
        "can be recomputed (absent if the record is gone)",
    )


class ConsistencyOutput(serializers.Serializer[Any]):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    proof = serializers.ListField(child=serializers.CharField())


class SizeInput(StrictSerializer):
    size = serializers.IntegerField(
        min_value=0, required=False, help_text="a tree size the log has reached (default: now)"
    )


class InclusionInput(StrictSerializer):
    leaf = serializers.IntegerField(min_value=0, help_text="leaf index (0-based), below size")
    size = serializers.IntegerField(min_value=1, help_text="tree size")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["leaf"] >= attrs["size"]:
            raise NoSuchTree(_("A tree of that size has no such leaf (leaf < size)."))
        return attrs


class ConsistencyInput(StrictSerializer):
    first = serializers.IntegerField(min_value=1, help_text="the earlier size")
    second = serializers.IntegerField(min_value=1, help_text="the later size, at least first")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["first"] > attrs["second"]:
            raise NoSuchTree(_("There is no proof from a larger tree to a smaller one."))
        return attrs


class NoSuchTree(HavenError):
    """A tree, leaf or proof that does not exist: a size the log has not reached, a leaf
    outside its tree, a proof from a larger tree to a smaller one."""

    code = "out_of_range"
    status = 404
    default_detail = _("The audit log has no such tree, leaf or proof.")


def _within_log(*sizes: int) -> None:
    """Proofs only for sizes the log has reached (after sequencing what is queued)."""
    size = ledger.current_head().size
    if any(value > size for value in sizes):
        raise NoSuchTree(
            _("The log has %(size)s entries; ask for a size up to that.") % {"size": size},
            code="beyond_log",
        )


def _head_data(head: Any) -> dict[str, Any]:
    return dict(TreeHeadOutput(head).data)


def _hex(values: list[bytes]) -> list[str]:
    return [value.hex() for value in values]


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
        ledger.sequence_now()  # so that every event listed has its leaf index
        paginator, page = self.paginate(
            request,
            selectors.with_leaf_index(selectors.events(event_filter)),
            count=selectors.event_count(event_filter),
        )
        policy.record_list(
            actor, action="audit.events", count=len(page), fields=event_filter.used()
        )
        return paginator.get_paginated_response(EventOutput(page, many=True).data)


NOT_CHECKED = "the log has not been checked yet; the scheduled check runs within minutes"


def _check_status() -> dict[str, Any]:
    """The newest finished check, at once: verification never runs in a request."""
    check, requested = ledger.latest_check(), ledger.check_requested()
    age = ledger.check_age(check) if check is not None else None
    return {
        "intact": bool(check and check.intact),
        "checked": check.checked if check else 0,
        "first_broken": check.first_broken if check else None,
        "problem": check.problem if check else NOT_CHECKED,
        "tree_size": log.tree_size(),
        "signed_size": check.signed_size if check else 0,
        "pending": check.pending if check else 0,
        "checked_at": check.finished_at if check else None,
        "age_seconds": int(age.total_seconds()) if age is not None else None,
        "kind": check.kind if check else None,
        "stale": ledger.check_is_stale(check),
        "requested": requested is not None,
    }


class AuditVerifyApi(ApiView):
    @extend_schema(
        operation_id="audit_verify",
        responses={200: VerifyOutput, **ERRORS},
        summary="The newest result of the audit log's scheduled check, and its age (DPO)",
        description="Answers at once from the newest finished check; `intact` is true only "
        "when a check has finished and found the log intact. POST asks for a fresh full "
        "check.",
    )
    @staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.verify")
    def get(self, request: Request, *, actor: User) -> Response:
        status = _check_status()
        policy.record_list(actor, action="audit.verify", count=status["checked"])
        return Response(VerifyOutput(status).data)

    @extend_schema(
        operation_id="audit_verify_request",
        request=None,
        responses={202: VerifyOutput, **ERRORS},
        summary="Ask for a fresh full check of the audit log (DPO)",
        description="The scheduled job runs it next; GET shows its result when it is done. "
        "Asking again while one waits asks for nothing more.",
    )
    @staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.verify_request")
    def post(self, request: Request, *, actor: User) -> Response:
        ledger.request_check()
        policy.record_list(actor, action="audit.verify_request", count=1)
        return Response(VerifyOutput(_check_status()).data, status=202)


class TreeHeadApi(ApiView):
    @extend_schema(
        operation_id="audit_tree_head",
        parameters=[SizeInput],
        responses={200: TreeHeadOutput, **ERRORS},
        summary="The audit log's signed tree head (DPO)",
    )
    @staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.tree_head")
    def get(self, request: Request, *, actor: User) -> Response:
        params = SizeInput(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        size = params.validated_data.get("size")
        if size is None:
            head = ledger.current_head()
        else:
            _within_log(size)
            head = ledger.head_of_size(size)
        policy.record_list(actor, action="audit.tree_head", count=head.size)
        return Response(_head_data(head))


class InclusionProofApi(ApiView):
    @extend_schema(
        operation_id="audit_inclusion_proof",
        parameters=[InclusionInput],
        responses={200: InclusionOutput, **ERRORS},
        summary="Proof that an entry is in the audit log at a given size (DPO)",
    )
    @staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.proof")
    def get(self, request: Request, *, actor: User) -> Response:
        params = InclusionInput(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        index, size = params.validated_data["leaf"], params.validated_data["size"]
        _within_log(size)
        leaf_hash, path = log.inclusion_proof(index, size)
        body: dict[str, Any] = {
            "leaf_index": index,
            "tree_size": size,
            "leaf_hash": leaf_hash.hex(),
            "audit_path": _hex(path),
        }
        record = log.leaf_record(index)
        if record is not None:
            body["leaf"] = base64.b64encode(record).decode()
        policy.record_list(actor, action="audit.proof", count=1)
        return Response(InclusionOutput(body).data)


class ConsistencyProofApi(ApiView):
    @extend_schema(
        operation_id="audit_consistency_proof",
        parameters=[ConsistencyInput],
        responses={200: ConsistencyOutput, **ERRORS},
        summary="Proof that the later audit log extends the earlier one unchanged (DPO)",
    )
    @staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.proof")
    def get(self, request: Request, *, actor: User) -> Response:
        params = ConsistencyInput(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        first, second = params.validated_data["first"], params.validated_data["second"]
        _within_log(first, second)
        proof = log.consistency_proof(first, second)
        policy.record_list(actor, action="audit.proof", count=len(proof))
        return Response(
            ConsistencyOutput({"first": first, "second": second, "proof": _hex(proof)}).data
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
        ledger.sequence_now()  # so that every event listed has its leaf index
        query = selectors.with_leaf_index(selectors.events(selectors.EventFilter(case=canonical)))
        paginator, page = self.paginate(request, query)
        return paginator.get_paginated_response(EventOutput(page, many=True).data)
