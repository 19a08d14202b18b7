"""API of the self-check (AS8-4): the staff member's own, and no one else's. Each
handler declares its access, parses, calls one service and serialises."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from access.endpoints import staff_endpoint
from access.models import User
from carers import scale, services, supervision, support, training
from carers.models import SupervisionKind, training_standing
from haven.api import ERROR, ERRORS, ApiView, created, paginated, validated
from haven.fields import StrictSerializer, text


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


# --- clinical supervision (AS8-3) ---------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": 150},
            {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 150},
                "minItems": 1,
                "maxItems": 50,
            },
        ],
        "description": "who attended: a username, or a list for a group session",
    }
)
class StaffField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> Any:
        names = [data] if isinstance(data, str) else data
        if (
            not isinstance(names, list)
            or not 1 <= len(names) <= 50
            or not all(isinstance(n, str) and 0 < len(n) <= 150 for n in names)
        ):
            raise serializers.ValidationError(_("A username, or a list of them."), code="invalid")
        return names


class SupervisionInput(StrictSerializer):
    staff = StaffField()
    kind = serializers.ChoiceField(choices=SupervisionKind.choices)
    held_on = serializers.DateField()
    notes = text(10_000)


class SupervisionOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    supervisor = serializers.CharField(source="supervisor.username")
    staff = serializers.SerializerMethodField()
    kind = serializers.CharField()
    held_on = serializers.DateField()
    notes = serializers.CharField(help_text="read by the supervisor and those who attended")

    def get_staff(self, session: Any) -> list[str]:
        return sorted(u.username for u in session.attendees.all())


class StandingOutput(serializers.Serializer[Any]):
    staff = serializers.CharField(source="user.username")
    last_session = serializers.DateField(source="last", allow_null=True)
    days_since = serializers.IntegerField(allow_null=True)
    next_due = serializers.DateField(source="due_on")
    overdue = serializers.BooleanField()


class SupervisionApi(ApiView):
    @extend_schema(
        operation_id="supervision_list",
        responses={
            200: inline_serializer(
                "PaginatedSupervisionList",
                fields={
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": SupervisionOutput(many=True),
                    "staff": StandingOutput(
                        many=True,
                        help_text="per staff member: the last session, days since, the "
                        "next due date (HAVEN_SUPERVISION_DAYS) and whether overdue",
                    ),
                },
            ),
            **ERRORS,
        },
        summary="Supervision sessions I led or attended, and who is due (AS8-3)",
    )
    @staff_endpoint()
    def get(self, request: Request, *, actor: User) -> Response:
        sessions, standing = supervision.supervision_for(actor=actor)
        paginator, page = self.paginate(request, sessions)
        response = paginator.get_paginated_response(SupervisionOutput(page, many=True).data)
        response.data["staff"] = StandingOutput(standing, many=True).data
        return response

    @extend_schema(
        operation_id="supervision_record",
        request=SupervisionInput,
        responses={201: SupervisionOutput, **ERRORS},
        summary="Record a supervision session with staff of my team (supervisors)",
    )
    @staff_endpoint()
    def post(self, request: Request, *, actor: User) -> Response:
        data = validated(SupervisionInput, request.data)
        session = supervision.supervision_record(
            actor=actor,
            staff=data["staff"],
            kind=data["kind"],
            held_on=data["held_on"],
            notes=data.get("notes") or "",
        )
        return created(SupervisionOutput(session).data)


# --- support plans (AS8-6) and training (AS8-7) --------------------------------------


class SupportPlanInput(StrictSerializer):
    staff = serializers.CharField(max_length=150)
    occupational_referral = text(2000)
    adjusted_responsibilities = text(2000)
    cover = text(2000)
    support_person = text(2000)
    who_is_told = text(2000)
    review_on = serializers.DateField()


class SupportPlanOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    staff = serializers.CharField(source="staff.username")
    supervisor = serializers.CharField(source="supervisor.username")
    agreed_on = serializers.DateField()
    review_on = serializers.DateField()
    occupational_referral = serializers.SerializerMethodField()
    adjusted_responsibilities = serializers.SerializerMethodField()
    cover = serializers.SerializerMethodField()
    support_person = serializers.SerializerMethodField()
    who_is_told = serializers.SerializerMethodField()

    def _get(self, plan: Any, name: str) -> str:
        return str((plan.content or {}).get(name, ""))

    def get_occupational_referral(self, plan: Any) -> str:
        return self._get(plan, "occupational_referral")

    def get_adjusted_responsibilities(self, plan: Any) -> str:
        return self._get(plan, "adjusted_responsibilities")

    def get_cover(self, plan: Any) -> str:
        return self._get(plan, "cover")

    def get_support_person(self, plan: Any) -> str:
        return self._get(plan, "support_person")

    def get_who_is_told(self, plan: Any) -> str:
        return self._get(plan, "who_is_told")


class SupportPlanApi(ApiView):
    @extend_schema(
        operation_id="support_plans_list",
        responses={200: paginated(SupportPlanOutput), **ERRORS},
        summary="Open support plans: my own, and those I wrote (AS8-6)",
    )
    @staff_endpoint()
    def get(self, request: Request, *, actor: User) -> Response:
        paginator, page = self.paginate(request, support.support_plans_for(actor=actor))
        return paginator.get_paginated_response(SupportPlanOutput(page, many=True).data)

    @extend_schema(
        operation_id="support_plan_record",
        request=SupportPlanInput,
        responses={201: SupportPlanOutput, **ERRORS},
        summary="Record the plan agreed at a well-being meeting (the team's supervisor)",
    )
    @staff_endpoint()
    def post(self, request: Request, *, actor: User) -> Response:
        data = validated(SupportPlanInput, request.data)
        plan = support.support_plan_record(
            actor=actor,
            staff_username=data["staff"],
            content={name: data.get(name) or "" for name, _ in support.FIELDS},
            review_on=data["review_on"],
        )
        return created(SupportPlanOutput(plan).data)


class TrainingStandingOutput(serializers.Serializer[Any]):
    training = serializers.CharField(source="training.slug")
    title = serializers.CharField(source="training.title")
    required_for_access = serializers.BooleanField(source="training.required_for_access")
    last_completed = serializers.DateField(source="last", allow_null=True)
    due_on = serializers.DateField(allow_null=True, help_text="null: done, and it does not renew")
    overdue = serializers.BooleanField()


class PersonTrainingOutput(serializers.Serializer[Any]):
    staff = serializers.CharField()
    trainings = TrainingStandingOutput(many=True)


class CompletionInput(StrictSerializer):
    staff = serializers.CharField(max_length=150)
    training = serializers.SlugField(max_length=60)
    completed_on = serializers.DateField()


class TrainingApi(ApiView):
    @extend_schema(
        operation_id="training_list",
        responses={200: paginated(PersonTrainingOutput), **ERRORS},
        summary="Training due: mine; a supervisor's team; everyone for an administrator",
    )
    @staff_endpoint()
    def get(self, request: Request, *, actor: User) -> Response:
        rows = [
            {"staff": person.username, "trainings": standing}
            for person, standing in training.training_overview(actor=actor)
        ]
        paginator, page = self.paginate(request, rows)
        return paginator.get_paginated_response(PersonTrainingOutput(page, many=True).data)

    @extend_schema(
        operation_id="training_complete",
        request=CompletionInput,
        responses={201: PersonTrainingOutput, **ERRORS},
        summary="Record a completed training (the team's supervisor, or an administrator)",
    )
    @staff_endpoint()
    def post(self, request: Request, *, actor: User) -> Response:
        data = validated(CompletionInput, request.data)
        done = training.training_complete(
            actor=actor,
            username=data["staff"],
            slug=data["training"],
            completed_on=data["completed_on"],
        )
        person = done.user
        return created(
            PersonTrainingOutput(
                {"staff": person.username, "trainings": training_standing(person)}
            ).data
        )
