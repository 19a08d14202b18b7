"""API of the self-check (AS8-4): the staff member's own, and no one else's. Each
handler declares its access, parses, calls one service and serialises."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from access.endpoints import staff_endpoint
from access.models import User
from carers import scale, services
from haven.api import ERROR, ERRORS, ApiView, created, paginated, validated
from haven.fields import StrictSerializer


@extend_schema_field(
    {
        "type": "object",
        "description": "each of the items a to m, answered 1 to 10",
        "required": list(scale.ITEMS),
        "additionalProperties": False,
        "properties": {
            item: {"type": "integer", "minimum": scale.LOWEST, "maximum": scale.HIGHEST}
            for item in scale.ITEMS
        },
    }
)
class AnswersField(serializers.DictField):
    """Exactly the 13 items, each a whole number from 1 to 10, and nothing else (checked
    in full by the service; the schema says so with ``additionalProperties: false``)."""


class SelfCheckInput(StrictSerializer):
    answers = AnswersField()


class SelfCheckOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    taken_at = serializers.DateTimeField()
    secondary_trauma = serializers.IntegerField(help_text="items c, e, h, j, l (5 to 50)")
    burnout = serializers.IntegerField(help_text="items a, b, d, f, g, i, k, m (8 to 80)")
    total = serializers.IntegerField(help_text="all 13 items (13 to 130)")
    answers = serializers.DictField(child=serializers.IntegerField(), help_text="a to m")
    wording_version = serializers.IntegerField(help_text="the item wording answered")


def _out(entry: services.Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "taken_at": entry.taken_at,
        **entry.scores,
        "answers": entry.answers,
        "wording_version": entry.wording_version,
    }


class WellbeingApi(ApiView):
    @extend_schema(
        operation_id="wellbeing_list",
        responses={200: paginated(SelfCheckOutput), **ERRORS},
        summary="My own self-checks, newest first (nobody else can read them)",
    )
    @staff_endpoint()
    def get(self, request: Request, *, actor: User) -> Response:
        entries = services.selfchecks_of(actor=actor)
        paginator, page = self.paginate(request, entries)
        return paginator.get_paginated_response(SelfCheckOutput(map(_out, page), many=True).data)

    @extend_schema(
        operation_id="wellbeing_record",
        request=SelfCheckInput,
        responses={201: SelfCheckOutput, **ERRORS},
        summary="Record a self-check on the 13-item scale; scores are plain sums, no cut-off",
    )
    @staff_endpoint()
    def post(self, request: Request, *, actor: User) -> Response:
        data = validated(SelfCheckInput, request.data)
        entry = services.selfcheck_record(actor=actor, answers=data["answers"])
        return created(SelfCheckOutput(_out(entry)).data)


class WellbeingEntryApi(ApiView):
    @extend_schema(
        operation_id="wellbeing_delete",
        responses={
            **ERRORS,
            204: OpenApiResponse(description="deleted"),
            404: OpenApiResponse(ERROR, description="not one of mine"),
        },
        summary="Delete one of my self-checks",
    )
    @staff_endpoint()
    def delete(self, request: Request, entry_id: Any, *, actor: User) -> Response:
        services.selfcheck_delete(actor=actor, entry_id=entry_id)
        return Response(status=204)
