"""The staff member's own API: who am I, my language, and the confidentiality rules I
must accept before any survivor data (AS9-STO-6). These answer before the rules are
accepted; everything else refuses until then."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from access import drafts
from access.endpoints import staff_endpoint
from access.models import User
from access.permissions import StaffGateBeforeRules
from access.services import (
    confidentiality_accept,
    confidentiality_accepted,
    confidentiality_current,
    staff_set_language,
)
from haven.api import ERROR, ERRORS, ApiView, created, validated
from haven.fields import StrictIntegerField, StrictSerializer, text


class ConfidentialityState(serializers.Serializer[Any]):
    version = serializers.IntegerField(allow_null=True)
    accepted = serializers.BooleanField()


class MeOutput(serializers.Serializer[Any]):
    username = serializers.CharField()
    role = serializers.CharField()
    team = serializers.CharField(allow_null=True, help_text="the team's slug")
    language = serializers.CharField()
    confidentiality = ConfidentialityState()


class MeInput(StrictSerializer):
    language = serializers.ChoiceField(choices=[], required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The organisation's languages, read when the serializer is built (and so in
        # the schema), not when this module was imported.
        self.fields["language"].choices = list(settings.HAVEN_LANGUAGES)  # type: ignore[attr-defined]


class RulesOutput(serializers.Serializer[Any]):
    version = serializers.IntegerField(allow_null=True)
    text = serializers.CharField()
    accepted = serializers.BooleanField()
    language = serializers.CharField(
        help_text="the language of text: the reader's own when this version is published in it, "
        "else the organisation's default (an addition to the contract)"
    )


class AcceptInput(StrictSerializer):
    version = StrictIntegerField(min_value=1)


def _state(user: User) -> dict[str, Any]:
    rules = confidentiality_current()
    return {
        "version": rules.version if rules else None,
        "accepted": confidentiality_accepted(user),
    }


def _me(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "team": user.team.slug if user.team is not None else None,
        "language": user.language,
        "confidentiality": _state(user),
    }


class MeApi(ApiView):
    permission_classes = [StaffGateBeforeRules]

    @extend_schema(operation_id="me_retrieve", responses={200: MeOutput, **ERRORS})
    @staff_endpoint()
    def get(self, request: Request, *, actor: User) -> Response:
        return Response(MeOutput(_me(actor)).data)

    @extend_schema(
        operation_id="me_update",
        request=MeInput,
        responses={200: MeOutput, **ERRORS},
        summary="Choose the interface language",
    )
    @staff_endpoint()
    def patch(self, request: Request, *, actor: User) -> Response:
        data = validated(MeInput, request.data)
        if "language" in data:
            staff_set_language(user=actor, language=data["language"])
        return Response(MeOutput(_me(actor)).data)


class KeepaliveOutput(serializers.Serializer[Any]):
    seconds = serializers.IntegerField(help_text="how long the session now lasts without use")


class SessionApi(ApiView):
    permission_classes = [StaffGateBeforeRules]

    @extend_schema(
        operation_id="session_keepalive",
        request=None,
        responses={200: KeepaliveOutput, **ERRORS},
        summary="Stay signed in: the idle timeout starts again (the page's warning)",
    )
    @staff_endpoint()
    def post(self, request: Request, *, actor: User) -> Response:
        return Response(KeepaliveOutput({"seconds": settings.SESSION_COOKIE_AGE}).data)


class DraftInput(StrictSerializer):
    path = text(300, required=True, allow_null=False, help_text="the page the form is on")
    form = serializers.ListField(
        child=serializers.ListField(
            child=serializers.CharField(allow_blank=True, trim_whitespace=False),
            min_length=2,
            max_length=2,
        ),
        max_length=drafts.MAX_FIELDS,
        help_text="the form's fields, [[name, value], ...], as it would be sent",
    )


class DraftOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    path = serializers.CharField()
    saved_at = serializers.DateTimeField()
    signed_out = serializers.BooleanField()


class DraftApi(ApiView):
    @extend_schema(
        operation_id="draft_save",
        request=DraftInput,
        responses={201: DraftOutput, **ERRORS},
        summary="Keep a form's unsaved fields, encrypted, and sign out (session timeout)",
        description="Sent by the page just before its session ends: the fields are sealed "
        "on the server and handed back, once, when the same person signs in again and "
        "opens the page with `?restore=<id>`. The browser session ends.",
    )
    @staff_endpoint()
    def post(self, request: Request, *, actor: User) -> Response:
        data = validated(DraftInput, request.data)
        draft = drafts.draft_save(user=actor, path=data["path"], fields=data["form"])
        logout(request._request)
        body = {"id": draft.pk, "path": draft.path, "saved_at": draft.saved_at, "signed_out": True}
        return created(DraftOutput(body).data)


class ConfidentialityApi(ApiView):
    permission_classes = [StaffGateBeforeRules]

    @extend_schema(
        operation_id="confidentiality_retrieve",
        responses={200: RulesOutput, **ERRORS},
        summary="The organisation's confidentiality rules (readable before accepting)",
    )
    @staff_endpoint()
    def get(self, request: Request, *, actor: User) -> Response:
        rules = confidentiality_current()
        text, shown = rules.text_in(actor.language) if rules else ("", settings.LANGUAGE_CODE)
        return Response(
            RulesOutput(
                {
                    "version": rules.version if rules else None,
                    "text": text,
                    "accepted": confidentiality_accepted(actor),
                    "language": shown,
                }
            ).data
        )


class ConfidentialityAcceptApi(ApiView):
    permission_classes = [StaffGateBeforeRules]

    @extend_schema(
        operation_id="confidentiality_accept",
        request=AcceptInput,
        responses={
            200: ConfidentialityState,
            409: OpenApiResponse(ERROR, description="stale_rules: a newer version exists"),
            **ERRORS,
        },
        summary="Accept exactly the version read (AS9-STO-6)",
    )
    @staff_endpoint()
    def post(self, request: Request, *, actor: User) -> Response:
        data = validated(AcceptInput, request.data)
        confidentiality_accept(user=actor, version=data["version"])
        return Response(ConfidentialityState(_state(actor)).data)
