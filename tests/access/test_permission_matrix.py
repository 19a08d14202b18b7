"""The permission matrix: every role × every relation to a case × every endpoint and
page, with the expected status and the access event it must leave. AS9-STO-3,
AS9-STO-4, AS9-USE-1, AS9-USE-4.

A new URL that is not in ENDPOINTS (or in NOT_CASE_ROUTES) fails
``test_every_route_is_in_the_matrix``: the matrix cannot silently fall behind.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from access.models import CaseGrant, GrantKind
from access.roles import Role
from audit.models import AccessEvent, Anomaly
from carers import services as carers_services
from cases import services
from cases.models import Case, SubjectRequest, TransferRequest
from cases.services import consent_record, organisation_add, referral_export
from tests.factories import TeamFactory, UserFactory, add_encounter, open_case
from tests.helpers import web_client

ROLES = [Role.CASEWORKER, Role.CLINICIAN, Role.SUPERVISOR, Role.DPO, Role.ADMIN]
RELATIONS = [
    "assigned",
    "team_supervisor",
    "granted",
    "expired_grant",
    "revoked_grant",
    "break_glass",
    "outsider",
    "other_team",
]
CASE_ROLES = {Role.CASEWORKER, Role.CLINICIAN, Role.SUPERVISOR}
READ_RELATIONS = {"assigned", "team_supervisor", "granted", "break_glass"}


def _applies(role: str, relation: str) -> bool:
    if relation == "team_supervisor":
        return role == Role.SUPERVISOR
    if role == Role.SUPERVISOR and relation == "outsider":
        return False  # a supervisor of the case's team is never an outsider to it
    return True


COMBOS = [(r, rel) for r in ROLES for rel in RELATIONS if _applies(r, rel)]


@dataclass
class World:
    case: Any
    encounter: Any
    user: Any
    owner: Any
    team_supervisor: Any
    consent: Any = None
    referral: Any = None


def _grant(case, user, kind=GrantKind.GRANT, **kwargs) -> CaseGrant:
    return CaseGrant.objects.create(
        content_object=case,
        user=user,
        permission=Permission.objects.get(codename="view_case"),
        kind=kind,
        reason="matrix",
        **kwargs,
    )


def _world(role: str, relation: str) -> World:
    north = TeamFactory(slug="north")
    south = TeamFactory(slug="south")
    owner = UserFactory(username="owner", role=Role.CASEWORKER, team=north)
    team_supervisor = UserFactory(username="north-sup", role=Role.SUPERVISOR, team=north)
    case = open_case(owner)
    encounter = add_encounter(owner, case)
    team = south if relation == "other_team" else north
    if role == Role.SUPERVISOR:
        # Supervising the case's team is a relation of its own ("team_supervisor"); every
        # other supervisor row is a supervisor of another team with only that relation.
        team = south
    if role in (Role.DPO, Role.ADMIN):
        team = None
    if relation == "team_supervisor":
        user = team_supervisor
    else:
        user = UserFactory(username=f"{role}-{relation}", role=role, team=team)
    now = timezone.now()
    if relation == "assigned":
        _grant(case, user, kind=GrantKind.ASSIGNMENT)
    elif relation == "granted":
        _grant(case, user, expires_at=now + dt.timedelta(hours=1))
    elif relation == "expired_grant":
        _grant(case, user, expires_at=now - dt.timedelta(seconds=1))
    elif relation == "revoked_grant":
        _grant(case, user, revoked_at=now)
    elif relation == "break_glass":
        _grant(case, user, kind=GrantKind.BREAK_GLASS, expires_at=now + dt.timedelta(hours=4))
    organisation_add(actor=team_supervisor, name="Clinic", slug="clinic")
    consent = consent_record(
        actor=owner,
        case=case,
        scope="referral",
        recipient_slug="clinic",
        purpose="Continuing care",
        method="written",
        given_at=now - dt.timedelta(hours=1),
        form=b"%PDF-1.7 scanned form",
    )
    referral, _ = referral_export(
        actor=team_supervisor,
        case=case,
        recipient_slug="clinic",
        purpose="Continuing care",
        sections=["summary"],
        include_identity=False,
        fmt="fhir",
    )
    return World(case, encounter, user, owner, team_supervisor, consent, referral)


# --- expectations -----------------------------------------------------------------


def _reads(role, relation) -> bool:
    return role in CASE_ROLES and relation in READ_RELATIONS


def case_read(ok: int):
    return lambda role, rel: ok if _reads(role, rel) else 404


def grant_manage(ok: int):
    def expect(role, rel):
        if not _reads(role, rel):
            return 404
        return ok if rel == "team_supervisor" else 403

    return expect


def by_role(allowed: set[str], ok: int):
    return lambda role, rel: ok if role in allowed else 403


def access_report(role, rel):
    if role == Role.DPO or rel == "team_supervisor":
        return 200
    return 403 if _reads(role, rel) else 404


def break_glass(role, rel):
    if role not in CASE_ROLES:
        return 403
    return 409 if _reads(role, rel) else 201


def close_expect(role, rel):
    """Closing and reopening: the assigned worker and the team's supervisor."""
    if not _reads(role, rel):
        return 404
    return 200 if rel in ("assigned", "team_supervisor") else 403


def always(ok: int):
    return lambda role, rel: ok


def _when() -> str:
    return (timezone.now() - dt.timedelta(hours=1)).isoformat()


def _web_when() -> str:
    return timezone.localtime(timezone.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")


@dataclass
class Endpoint:
    name: str
    route: str  # the URL pattern, to check the matrix covers every route
    method: str
    url: Any
    expect: Any
    body: Any = None
    web: bool = False
    event: str | None = None  # the action of the event a refusal leaves
    reads_data: bool = True  # an empty form reads nothing: no event when allowed
    allowed_event: str | None = None  # an allowed call's action, when not ``event``
    multipart: bool = False  # the body is a form with a file, not JSON

    def allowed_action(self) -> str | None:
        return self.allowed_event or self.event


def _new_grant_id(w: World) -> int:
    return _grant(w.case, w.owner, kind=GrantKind.GRANT).pk


def _new_anomaly_id(w: World) -> int:
    event = AccessEvent.objects.filter(actor_id=w.owner.pk).first()
    return Anomaly.objects.create(kind="break_glass", event=event, actor_id=w.owner.pk).pk


DPO_ONLY = by_role({Role.DPO}, 200)
EXPORTERS = {Role.CLINICIAN, Role.SUPERVISOR}


def referral_export_expect(role, rel):
    if not _reads(role, rel):
        return 404
    return 201 if role in EXPORTERS else 403


def download_expect(role, rel):
    if role not in EXPORTERS:
        return 403
    return 200 if rel == "team_supervisor" else 404  # only the exporter, once


def _new_consent_id(w: World) -> Any:
    """A consent of its own to withdraw, so the referral consent stays valid."""
    return consent_record(
        actor=w.owner,
        case=w.case,
        scope="research",
        method="verbal",
        given_at=timezone.now() - dt.timedelta(minutes=5),
    ).pk


def _case_version(w: World) -> int:
    return Case.objects.get(pk=w.case.pk).version


def _goal(w: World) -> Any:
    return services.goal_add(
        actor=w.owner, case=w.case, goal="Find a safe place to live", agreed_on=_today()
    )


def _service(w: World) -> Any:
    return services.service_add(actor=w.owner, case=w.case, type="legal")


def _task(w: World) -> Any:
    return services.task_add(actor=w.owner, case=w.case, title="Call the lawyer", due_on=_today())


def _attachment(w: World) -> Any:
    return services.attachment_add(
        actor=w.owner, case=w.case, kind="document", title="Letter", data=b"%PDF-1.7 letter"
    )


def _new_referral(w: World) -> Any:
    """A package of its own, exported by the team's supervisor (the only exporter)."""
    referral, _ = services.referral_export(
        actor=w.team_supervisor,
        case=w.case,
        recipient_slug="clinic",
        purpose="Continuing care",
        sections=["summary"],
        include_identity=False,
        fmt="fhir",
    )
    return referral


def legal_hold_expect(release: bool):
    """The DPO reaches every case; a supervisor places a hold on their own team's cases;
    only the DPO releases. Others who read the case are refused; the rest see nothing."""

    def expect(role, rel):
        if role == Role.DPO:
            return 200
        if not _reads(role, rel):
            return 404
        return 200 if rel == "team_supervisor" and not release else 403

    return expect


def _held(w: World, held: bool) -> str:
    """The case's reference, on hold or not as the cell needs, whatever came before."""
    case = Case.objects.get(pk=w.case.pk)
    if case.legal_hold != held:
        case.legal_hold = held
        case.save(update_fields=["legal_hold"])
    return str(w.case.reference)


def request_view_expect(role, rel):
    """A request made by the team's supervisor: they and the DPO see it."""
    return 200 if role == Role.DPO or rel == "team_supervisor" else 404


def request_download_expect(role, rel):
    if role not in CASE_ROLES:
        return 403
    return 200 if rel == "team_supervisor" else 404  # only the requester, once


def _new_request(w: World, *, approve: bool = False) -> Any:
    """An access request of the team's supervisor, the only one waiting; approved by a
    DPO of its own when asked."""
    SubjectRequest.objects.filter(survivor_id=w.case.survivor_id, kind="access").exclude(
        status="done"
    ).update(status="cancelled")
    made = services.subject_request_make(
        actor=w.team_supervisor, case=w.case, kind="access", reason="The person asked", fmt="json"
    )
    if approve:
        dpo = UserFactory(username=f"dpo-{uuid.uuid4().hex[:6]}", role=Role.DPO, team=None)
        services.subject_request_decide(actor=dpo, request_id=made.pk, decision="approve")
    return made.pk


def _own_selfcheck(w: World) -> Any:
    """A self-check of the caller's own: the only kind anyone can reach."""
    answers = dict.fromkeys("abcdefghijklm", 5)
    return carers_services.selfcheck_record(actor=w.user, answers=answers).id


def _new_transfer(w: World) -> Any:
    """The assigned owner's request to hand the case over, the only one waiting."""
    TransferRequest.objects.filter(case=w.case, status="pending").update(status="withdrawn")
    return services.transfer_request_make(actor=w.owner, case=w.case, reason="Too close").pk


def transfer_expect(role, rel):
    if not _reads(role, rel):
        return case_read(201)(role, rel)
    return 201 if rel == "assigned" else 403


def transfer_decide_expect(role, rel, ok: int = 200):
    if rel == "team_supervisor":
        return ok
    return 404 if role == Role.SUPERVISOR else 403


def _today() -> dt.date:
    return timezone.localdate()


def _slug() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"


ENDPOINTS = [
    Endpoint(
        "support plans",
        "api/v1/support-plans/",
        "get",
        lambda w: "/api/v1/support-plans/",
        always(200),
        reads_data=False,
    ),
    Endpoint(
        "support plan record",
        "api/v1/support-plans/",
        "post",
        lambda w: "/api/v1/support-plans/",
        lambda role, rel: 201 if rel == "team_supervisor" else 403,
        body=lambda w: {
            "staff": "owner",
            "support_person": "A colleague",
            "review_on": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
        },
        event="support_plan.record",
        reads_data=False,
    ),
    Endpoint(
        "training",
        "api/v1/training/",
        "get",
        lambda w: "/api/v1/training/",
        always(200),
        reads_data=False,
    ),
    Endpoint(
        "training complete",
        "api/v1/training/",
        "post",
        lambda w: "/api/v1/training/",
        lambda role, rel: 201 if rel == "team_supervisor" or role == Role.ADMIN else 403,
        body=lambda w: {
            "staff": "owner",
            "training": "data-protection",
            "completed_on": timezone.localdate().isoformat(),
        },
        event="training.complete",
        reads_data=False,
    ),
    Endpoint(
        "web training",
        "training/",
        "get",
        lambda w: "/training/",
        always(200),
        web=True,
        reads_data=False,
    ),
    Endpoint(
        "web support plans",
        "support-plans/",
        "get",
        lambda w: "/support-plans/",
        always(200),
        web=True,
        reads_data=False,
    ),
    Endpoint(
        "supervision list",
        "api/v1/supervision/",
        "get",
        lambda w: "/api/v1/supervision/",
        always(200),
        event="supervision.list",
    ),
    Endpoint(
        "supervision record",
        "api/v1/supervision/",
        "post",
        lambda w: "/api/v1/supervision/",
        # the team's supervisor records a session with the case owner (of that team);
        # a supervisor of another team names someone who is not theirs: 400
        lambda role, rel: (
            201 if rel == "team_supervisor" else (400 if role == Role.SUPERVISOR else 403)
        ),
        body=lambda w: {
            "staff": "owner",
            "kind": "individual",
            "held_on": timezone.localdate().isoformat(),
            "notes": "matrix",
        },
        event="supervision.record",
        reads_data=False,
    ),
    Endpoint(
        "web supervision",
        "supervision/",
        "get",
        lambda w: "/supervision/",
        always(200),
        web=True,
        event="supervision.list",
    ),
    Endpoint(
        "transfer request",
        "api/v1/cases/<str:reference>/transfer-requests/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/transfer-requests/",
        transfer_expect,
        body=lambda w: {"reason": "It is too close to home"},
        event="transfer.request",
    ),
    Endpoint(
        "transfer list",
        "api/v1/transfer-requests/",
        "get",
        lambda w: "/api/v1/transfer-requests/",
        always(200),
        event="transfer.list",
    ),
    Endpoint(
        "transfer decide",
        "api/v1/transfer-requests/<uuid:request_id>/decide/",
        "post",
        lambda w: f"/api/v1/transfer-requests/{_new_transfer(w)}/decide/",
        transfer_decide_expect,
        body=lambda w: {"decision": "decline", "note": "Let us talk first"},
        event="transfer.decide",
    ),
    Endpoint(
        "web transfer new",
        "cases/<str:reference>/transfer/",
        "get",
        lambda w: f"/cases/{w.case.reference}/transfer/",
        case_read(200),
        web=True,
        event="case.view",
    ),
    Endpoint(
        "web transfer decide",
        "team/transfers/decide/",
        "post",
        lambda w: "/team/transfers/decide/",
        lambda role, rel: transfer_decide_expect(role, rel, ok=302),
        body=lambda w: {"request": str(_new_transfer(w)), "decision": "decline", "note": "No"},
        web=True,
        event="transfer.decide",
    ),
    Endpoint(
        "wellbeing list",
        "api/v1/me/wellbeing/",
        "get",
        lambda w: "/api/v1/me/wellbeing/",
        always(200),
        reads_data=False,
    ),
    Endpoint(
        "wellbeing record",
        "api/v1/me/wellbeing/",
        "post",
        lambda w: "/api/v1/me/wellbeing/",
        always(201),
        body=lambda w: {"answers": dict.fromkeys("abcdefghijklm", 3)},
        reads_data=False,
    ),
    Endpoint(
        "wellbeing delete",
        "api/v1/me/wellbeing/<uuid:entry_id>/",
        "delete",
        lambda w: f"/api/v1/me/wellbeing/{_own_selfcheck(w)}/",
        always(204),
        reads_data=False,
    ),
    Endpoint(
        "web wellbeing",
        "account/wellbeing/",
        "get",
        lambda w: "/account/wellbeing/",
        always(200),
        web=True,
        reads_data=False,
    ),
    Endpoint(
        "web wellbeing delete",
        "account/wellbeing/<uuid:entry_id>/delete/",
        "get",
        lambda w: f"/account/wellbeing/{_own_selfcheck(w)}/delete/",
        always(200),
        web=True,
        reads_data=False,
    ),
    Endpoint(
        "web talk",
        "account/wellbeing/talk/",
        "post",
        lambda w: "/account/wellbeing/talk/",
        always(302),
        web=True,
        reads_data=False,
    ),
    Endpoint(
        "web team talk",
        "team/talk/",
        "get",
        lambda w: "/team/talk/",
        by_role({Role.SUPERVISOR}, 200),
        web=True,
        event="wellbeing.talk_list",
        reads_data=False,
    ),
    Endpoint(
        "web wellbeing wording",
        "staff/wellbeing-wording/",
        "get",
        lambda w: "/staff/wellbeing-wording/",
        by_role({Role.ADMIN}, 200),
        web=True,
        event="wellbeing.wording_load",
        reads_data=False,
    ),
    Endpoint("me", "api/v1/me/", "get", lambda w: "/api/v1/me/", always(200), reads_data=False),
    Endpoint(
        "me update",
        "api/v1/me/",
        "patch",
        lambda w: "/api/v1/me/",
        always(200),
        body=lambda w: {"language": "en"},
        reads_data=False,
    ),
    Endpoint(
        "rules",
        "api/v1/confidentiality/",
        "get",
        lambda w: "/api/v1/confidentiality/",
        always(200),
        reads_data=False,
    ),
    Endpoint(
        "rules accept",
        "api/v1/confidentiality/accept/",
        "post",
        lambda w: "/api/v1/confidentiality/accept/",
        always(200),
        body=lambda w: {"version": 1},
        reads_data=False,
    ),
    Endpoint("case list", "api/v1/cases/", "get", lambda w: "/api/v1/cases/", always(200)),
    Endpoint(
        "intake",
        "api/v1/cases/",
        "post",
        lambda w: "/api/v1/cases/",
        by_role({Role.CASEWORKER, Role.SUPERVISOR}, 201),
        body=lambda w: {},
        event="case.create",
    ),
    Endpoint(
        "search",
        "api/v1/cases/search/",
        "get",
        lambda w: "/api/v1/cases/search/?family_name=Quarnstrom",
        by_role(CASE_ROLES, 200),
        event="case.search",
    ),
    Endpoint(
        "case",
        "api/v1/cases/<str:reference>/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/",
        case_read(200),
        event="case.view",
    ),
    Endpoint(
        "case facts",
        "api/v1/cases/<str:reference>/",
        "patch",
        lambda w: f"/api/v1/cases/{w.case.reference}/",
        case_read(200),
        body=lambda w: {"risk_level": "medium", "version": _case_version(w)},
        event="case.update",
    ),
    Endpoint(
        "identity history",
        "api/v1/cases/<str:reference>/identity/history/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/identity/history/",
        case_read(200),
        event="identity.history",
    ),
    Endpoint(
        "encounter history",
        "api/v1/cases/<str:reference>/encounters/<uuid:encounter_id>/history/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/encounters/{w.encounter.pk}/history/",
        case_read(200),
        event="encounter.history",
    ),
    Endpoint(
        "due",
        "api/v1/tasks/",
        "get",
        lambda w: "/api/v1/tasks/?when=week",
        by_role(CASE_ROLES, 200),
        event="task.list",
    ),
    Endpoint(
        "plan",
        "api/v1/cases/<str:reference>/plan/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/plan/",
        case_read(200),
        event="plan.list",
    ),
    Endpoint(
        "plan add",
        "api/v1/cases/<str:reference>/plan/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/plan/",
        case_read(201),
        body=lambda w: {"goal": "Learn the language", "agreed_on": _today().isoformat()},
        event="plan.add",
    ),
    Endpoint(
        "plan update",
        "api/v1/cases/<str:reference>/plan/<uuid:goal_id>/",
        "patch",
        lambda w: f"/api/v1/cases/{w.case.reference}/plan/{_goal(w).pk}/",
        case_read(200),
        body=lambda w: {"status": "in_progress", "version": 1},
        event="plan.update",
    ),
    Endpoint(
        "services",
        "api/v1/cases/<str:reference>/services/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/services/",
        case_read(200),
        event="service.list",
    ),
    Endpoint(
        "service add",
        "api/v1/cases/<str:reference>/services/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/services/",
        case_read(201),
        body=lambda w: {"type": "shelter"},
        event="service.add",
    ),
    Endpoint(
        "service update",
        "api/v1/cases/<str:reference>/services/<uuid:service_id>/",
        "patch",
        lambda w: f"/api/v1/cases/{w.case.reference}/services/{_service(w).pk}/",
        case_read(200),
        body=lambda w: {"status": "referred", "version": 1},
        event="service.update",
    ),
    Endpoint(
        "case tasks",
        "api/v1/cases/<str:reference>/tasks/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/tasks/",
        case_read(200),
        event="task.list",
    ),
    Endpoint(
        "task add",
        "api/v1/cases/<str:reference>/tasks/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/tasks/",
        case_read(201),
        body=lambda w: {"title": "Book an interpreter", "due_on": _today().isoformat()},
        event="task.add",
    ),
    Endpoint(
        "task update",
        "api/v1/cases/<str:reference>/tasks/<uuid:task_id>/",
        "patch",
        lambda w: f"/api/v1/cases/{w.case.reference}/tasks/{_task(w).pk}/",
        case_read(200),
        body=lambda w: {"done": True, "version": 1},
        event="task.update",
    ),
    Endpoint(
        "attachments",
        "api/v1/cases/<str:reference>/attachments/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/attachments/",
        case_read(200),
        event="attachment.list",
    ),
    Endpoint(
        "attachment add",
        "api/v1/cases/<str:reference>/attachments/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/attachments/",
        case_read(201),
        body=lambda w: {
            "kind": "document",
            "title": "Tenancy",
            "file": SimpleUploadedFile("t.pdf", b"%PDF-1.7 tenancy"),
        },
        multipart=True,
        event="attachment.add",
    ),
    Endpoint(
        "attachment download",
        "api/v1/cases/<str:reference>/attachments/<uuid:attachment_id>/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/attachments/{_attachment(w).pk}/",
        case_read(200),
        event="attachment.view",
    ),
    Endpoint(
        "identity",
        "api/v1/cases/<str:reference>/identity/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/identity/",
        case_read(200),
        event="identity.view",
    ),
    Endpoint(
        "identity rectify",
        "api/v1/cases/<str:reference>/identity/",
        "patch",
        lambda w: f"/api/v1/cases/{w.case.reference}/identity/",
        case_read(200),
        body=lambda w: {"nationality": "Ruritanian"},
        event="identity.update",
    ),
    Endpoint(
        "encounters",
        "api/v1/cases/<str:reference>/encounters/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/encounters/",
        case_read(200),
        event="encounter.list",
    ),
    Endpoint(
        "encounter record",
        "api/v1/cases/<str:reference>/encounters/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/encounters/",
        case_read(201),
        body=lambda w: {"occurred_at": _when(), "kind": "phone"},
        event="encounter.create",
    ),
    Endpoint(
        "encounter",
        "api/v1/cases/<str:reference>/encounters/<uuid:encounter_id>/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/encounters/{w.encounter.pk}/",
        case_read(200),
        event="encounter.view",
    ),
    Endpoint(
        "encounter edit",
        "api/v1/cases/<str:reference>/encounters/<uuid:encounter_id>/",
        "patch",
        lambda w: f"/api/v1/cases/{w.case.reference}/encounters/{w.encounter.pk}/",
        case_read(200),
        body=lambda w: {"notes": "edited", "version": 1},
        event="encounter.update",
    ),
    Endpoint(
        "grants",
        "api/v1/cases/<str:reference>/grants/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/grants/",
        grant_manage(200),
        event="grant.list",
    ),
    Endpoint(
        "grant add",
        "api/v1/cases/<str:reference>/grants/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/grants/",
        grant_manage(201),
        body=lambda w: {"user": "north-sup", "reason": "cover"},
        event="grant.add",
    ),
    Endpoint(
        "grant revoke",
        "api/v1/cases/<str:reference>/grants/<id:grant_id>/",
        "delete",
        lambda w: f"/api/v1/cases/{w.case.reference}/grants/{_new_grant_id(w)}/",
        grant_manage(204),
        event="grant.revoke",
    ),
    Endpoint(
        "web home",
        "",
        "get",
        lambda w: "/",
        always(302),  # each role to its own home
        web=True,
        reads_data=False,
    ),
    Endpoint(
        "web my cases",
        "cases/",
        "get",
        lambda w: "/cases/",
        always(200),
        web=True,
        allowed_event="case.list",
    ),
    Endpoint(
        "web my day",
        "today/",
        "get",
        lambda w: "/today/",
        by_role(CASE_ROLES, 200),
        web=True,
        event="task.list",
    ),
    Endpoint(
        "web case facts",
        "cases/<str:reference>/edit/",
        "get",
        lambda w: f"/cases/{w.case.reference}/edit/",
        case_read(200),
        web=True,
        event="case.view",
    ),
    Endpoint(
        "web history",
        "cases/<str:reference>/history/",
        "get",
        lambda w: f"/cases/{w.case.reference}/history/",
        case_read(200),
        web=True,
        event="case.history",
    ),
    Endpoint(
        "web print",
        "cases/<str:reference>/print/",
        "get",
        lambda w: f"/cases/{w.case.reference}/print/",
        case_read(200),
        web=True,
        event="case.print",
    ),
    Endpoint(
        "web identity correction",
        "cases/<str:reference>/identity/edit/",
        "post",
        lambda w: f"/cases/{w.case.reference}/identity/edit/",
        case_read(200),
        body=lambda w: {},
        web=True,
        event="identity.update",
        allowed_event="identity.view",
    ),
    Endpoint(
        "web plan",
        "cases/<str:reference>/plan/",
        "get",
        lambda w: f"/cases/{w.case.reference}/plan/",
        case_read(200),
        web=True,
        event="plan.list",
    ),
    Endpoint(
        "web goal",
        "cases/<str:reference>/plan/<uuid:goal_id>/",
        "get",
        lambda w: f"/cases/{w.case.reference}/plan/{_goal(w).pk}/",
        case_read(200),
        web=True,
        event="plan.list",
    ),
    Endpoint(
        "web services",
        "cases/<str:reference>/services/",
        "get",
        lambda w: f"/cases/{w.case.reference}/services/",
        case_read(200),
        web=True,
        event="service.list",
    ),
    Endpoint(
        "web service",
        "cases/<str:reference>/services/<uuid:service_id>/",
        "get",
        lambda w: f"/cases/{w.case.reference}/services/{_service(w).pk}/",
        case_read(200),
        web=True,
        event="service.list",
    ),
    Endpoint(
        "web referral answer",
        "cases/<str:reference>/referrals/<uuid:referral_id>/status/",
        "get",
        lambda w: f"/cases/{w.case.reference}/referrals/{w.referral.pk}/status/",
        case_read(200),
        web=True,
        event="referral.list",
    ),
    Endpoint(
        "web tasks",
        "cases/<str:reference>/tasks/",
        "get",
        lambda w: f"/cases/{w.case.reference}/tasks/",
        case_read(200),
        web=True,
        event="task.list",
    ),
    Endpoint(
        "web task",
        "cases/<str:reference>/tasks/<uuid:task_id>/",
        "get",
        lambda w: f"/cases/{w.case.reference}/tasks/{_task(w).pk}/",
        case_read(200),
        web=True,
        event="task.list",
    ),
    Endpoint(
        "web files",
        "cases/<str:reference>/attachments/",
        "get",
        lambda w: f"/cases/{w.case.reference}/attachments/",
        case_read(200),
        web=True,
        event="attachment.list",
    ),
    Endpoint(
        "web file",
        "cases/<str:reference>/attachments/<uuid:attachment_id>/",
        "get",
        lambda w: f"/cases/{w.case.reference}/attachments/{_attachment(w).pk}/",
        case_read(200),
        web=True,
        event="attachment.view",
    ),
    Endpoint(
        "web package download",
        "referrals/<uuid:referral_id>/download/",
        "get",
        lambda w: f"/referrals/{_new_referral(w).pk}/download/",
        download_expect,
        web=True,
        event="referral.download",
    ),
    Endpoint(
        "web staff",
        "staff/",
        "get",
        lambda w: "/staff/",
        by_role({Role.ADMIN}, 200),
        web=True,
        event="staff.list",
        reads_data=False,
    ),
    Endpoint(
        "web sign-in policy",
        "staff/sign-in-policy/",
        "get",
        lambda w: "/staff/sign-in-policy/",
        by_role({Role.ADMIN}, 200),
        web=True,
        event="staff.sign_in_policy",
        reads_data=False,
    ),
    Endpoint(
        "web staff password",
        "staff/<str:username>/password/",
        "get",
        lambda w: "/staff/owner/password/",
        by_role({Role.ADMIN}, 200),
        web=True,
        event="staff.password_set",
        reads_data=False,
    ),
    Endpoint(
        "web staff invitation",
        "staff/<str:username>/invite/",
        "get",
        lambda w: "/staff/owner/invite/",
        by_role({Role.ADMIN}, 200),
        web=True,
        event="staff.invite",
        reads_data=False,
    ),
    Endpoint(
        "web staff second factor",
        "staff/<str:username>/second-factor/",
        "get",
        lambda w: "/staff/owner/second-factor/",
        by_role({Role.ADMIN}, 200),
        web=True,
        event="staff.second_factor_reset",
        reads_data=False,
    ),
    Endpoint(
        "web staff unlock",
        "staff/<str:username>/unlock/",
        "get",
        lambda w: "/staff/owner/unlock/",
        by_role({Role.ADMIN}, 200),
        web=True,
        event="staff.unlock",
        reads_data=False,
    ),
    Endpoint(
        "web discard a kept form",
        "account/drafts/<uuid:draft_id>/discard/",
        "post",
        lambda w: f"/account/drafts/{uuid.uuid4()}/discard/",
        always(302),
        body=lambda w: {},
        web=True,
        reads_data=False,
    ),
    Endpoint(
        "stay signed in",
        "api/v1/me/session/",
        "post",
        lambda w: "/api/v1/me/session/",
        always(200),
        body=lambda w: {},
        reads_data=False,
    ),
    Endpoint(
        "web intake",
        "cases/new/",
        "get",
        lambda w: "/cases/new/",
        by_role({Role.CASEWORKER, Role.SUPERVISOR}, 200),
        web=True,
        event="case.create",
        reads_data=False,
    ),
    Endpoint(
        "web case",
        "cases/<str:reference>/",
        "get",
        lambda w: f"/cases/{w.case.reference}/",
        case_read(200),
        web=True,
        event="case.view",
    ),
    Endpoint(
        "web reveal",
        "cases/<str:reference>/identity/",
        "post",
        lambda w: f"/cases/{w.case.reference}/identity/",
        case_read(200),
        body=lambda w: {},
        web=True,
        event="identity.view",
    ),
    Endpoint(
        "web encounter form",
        "cases/<str:reference>/encounters/new/",
        "get",
        lambda w: f"/cases/{w.case.reference}/encounters/new/",
        case_read(200),
        web=True,
        event="encounter.create",
    ),
    Endpoint(
        "web encounter edit",
        "cases/<str:reference>/encounters/<uuid:encounter_id>/edit/",
        "get",
        lambda w: f"/cases/{w.case.reference}/encounters/{w.encounter.pk}/edit/",
        case_read(200),
        web=True,
        event="encounter.view",
    ),
    Endpoint(
        "web grant add",
        "cases/<str:reference>/grants/",
        "post",
        lambda w: f"/cases/{w.case.reference}/grants/",
        grant_manage(302),
        body=lambda w: {"user": "north-sup", "reason": "cover"},
        web=True,
        event="grant.add",
    ),
    Endpoint(
        "web grant revoke",
        "cases/<str:reference>/grants/<id:grant_id>/revoke/",
        "post",
        lambda w: f"/cases/{w.case.reference}/grants/{_new_grant_id(w)}/revoke/",
        grant_manage(302),
        body=lambda w: {"reason": "The cover ended"},
        web=True,
        event="grant.revoke",
    ),
    Endpoint(
        "web caseload",
        "team/caseload/",
        "get",
        lambda w: "/team/caseload/",
        by_role({Role.SUPERVISOR}, 200),
        web=True,
        event="team.caseload",
    ),
    Endpoint(
        "web break-glass page",
        "break-glass/",
        "get",
        lambda w: "/break-glass/",
        by_role(CASE_ROLES, 200),
        web=True,
        event="break_glass.page",
        reads_data=False,
    ),
    Endpoint(
        "organisations",
        "api/v1/organisations/",
        "get",
        lambda w: "/api/v1/organisations/",
        always(200),
    ),
    Endpoint(
        "organisation add",
        "api/v1/organisations/",
        "post",
        lambda w: "/api/v1/organisations/",
        by_role({Role.SUPERVISOR, Role.ADMIN}, 201),
        body=lambda w: {"name": "New org", "slug": _slug()},
        event="organisation.add",
    ),
    Endpoint(
        "consents",
        "api/v1/cases/<str:reference>/consents/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/consents/",
        case_read(200),
        event="consent.list",
    ),
    Endpoint(
        "consent record",
        "api/v1/cases/<str:reference>/consents/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/consents/",
        case_read(201),
        body=lambda w: {"scope": "storage", "method": "verbal", "given_at": _when()},
        event="consent.record",
    ),
    Endpoint(
        "consent withdraw",
        "api/v1/cases/<str:reference>/consents/<uuid:consent_id>/withdraw/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/consents/{_new_consent_id(w)}/withdraw/",
        case_read(200),
        body=lambda w: {},
        event="consent.withdraw",
    ),
    Endpoint(
        "referrals",
        "api/v1/cases/<str:reference>/referrals/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/referrals/",
        case_read(200),
        event="referral.list",
    ),
    Endpoint(
        "referral status",
        "api/v1/cases/<str:reference>/referrals/<uuid:referral_id>/",
        "patch",
        lambda w: f"/api/v1/cases/{w.case.reference}/referrals/{w.referral.pk}/",
        case_read(200),
        body=lambda w: {"status": "acknowledged"},
        event="referral.status",
    ),
    Endpoint(
        "referral download",
        "api/v1/referrals/<uuid:referral_id>/download/",
        "get",
        lambda w: f"/api/v1/referrals/{w.referral.pk}/download/",
        download_expect,
        event="referral.download",
    ),
    Endpoint(
        "referral export",
        "api/v1/cases/<str:reference>/referrals/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/referrals/",
        referral_export_expect,
        body=lambda w: {
            "recipient": "clinic",
            "purpose": "continuing care ",
            "sections": ["summary"],
            "format": "fhir",
        },
        event="referral.export",
    ),
    Endpoint(
        "web directory",
        "organisations/",
        "get",
        lambda w: "/organisations/",
        always(200),
        web=True,
        event="organisation.list",
    ),
    Endpoint(
        "web consent add",
        "cases/<str:reference>/consents/",
        "post",
        lambda w: f"/cases/{w.case.reference}/consents/",
        case_read(302),
        body=lambda w: {"scope": "storage", "method": "verbal", "given_at": _web_when()},
        web=True,
        event="consent.record",
    ),
    Endpoint(
        "web consent withdraw",
        "cases/<str:reference>/consents/<uuid:consent_id>/withdraw/",
        "post",
        lambda w: f"/cases/{w.case.reference}/consents/{_new_consent_id(w)}/withdraw/",
        case_read(302),
        body=lambda w: {"reason": "The person asked today"},
        web=True,
        event="consent.withdraw",
    ),
    Endpoint(
        "web consent form",
        "cases/<str:reference>/consents/<uuid:consent_id>/form/",
        "get",
        lambda w: f"/cases/{w.case.reference}/consents/{w.consent.pk}/form/",
        case_read(200),
        web=True,
        event="consent.form_view",
    ),
    Endpoint(
        "web referral wizard",
        "cases/<str:reference>/referral/",
        "get",
        lambda w: f"/cases/{w.case.reference}/referral/",
        lambda role, rel: (200 if role in EXPORTERS else 403) if _reads(role, rel) else 404,
        web=True,
        event="referral.start",
    ),
    Endpoint(
        "access report",
        "api/v1/cases/<str:reference>/access-report/",
        "get",
        lambda w: f"/api/v1/cases/{w.case.reference}/access-report/",
        access_report,
        event="audit.case_report",
    ),
    Endpoint(
        "audit events",
        "api/v1/audit/events/",
        "get",
        lambda w: f"/api/v1/audit/events/?case={w.case.reference}",
        DPO_ONLY,
        event="audit.events",
    ),
    Endpoint(
        "audit verify",
        "api/v1/audit/verify/",
        "get",
        lambda w: "/api/v1/audit/verify/",
        DPO_ONLY,
        event="audit.verify",
    ),
    Endpoint(
        "audit ask for a full check",
        "api/v1/audit/verify/",
        "post",
        lambda w: "/api/v1/audit/verify/",
        by_role({Role.DPO}, 202),
        body=lambda w: {},
        event="audit.verify_request",
    ),
    Endpoint(
        "audit tree head",
        "api/v1/audit/tree-head/",
        "get",
        lambda w: "/api/v1/audit/tree-head/",
        DPO_ONLY,
        event="audit.tree_head",
    ),
    Endpoint(
        "audit inclusion proof",
        "api/v1/audit/proof/inclusion/",
        "get",
        lambda w: "/api/v1/audit/proof/inclusion/?leaf=0&size=1",
        DPO_ONLY,
        event="audit.proof",
    ),
    Endpoint(
        "audit consistency proof",
        "api/v1/audit/proof/consistency/",
        "get",
        lambda w: "/api/v1/audit/proof/consistency/?first=1&second=1",
        DPO_ONLY,
        event="audit.proof",
    ),
    Endpoint(
        "web access log",
        "audit/",
        "get",
        lambda w: "/audit/",
        DPO_ONLY,
        web=True,
        event="audit.events",
    ),
    Endpoint(
        "web csv",
        "audit/events.csv",
        "get",
        lambda w: "/audit/events.csv",
        DPO_ONLY,
        web=True,
        event="audit.export_csv",
    ),
    Endpoint(
        "web case report",
        "audit/cases/<str:reference>/",
        "get",
        lambda w: f"/audit/cases/{w.case.reference}/",
        access_report,
        web=True,
        event="audit.case_report",
    ),
    Endpoint(
        "web staff report",
        "audit/staff/<str:username>/",
        "get",
        lambda w: "/audit/staff/owner/",
        DPO_ONLY,
        web=True,
        event="audit.user_report",
    ),
    Endpoint(
        "web anomalies",
        "audit/anomalies/",
        "get",
        lambda w: "/audit/anomalies/",
        DPO_ONLY,
        web=True,
        event="audit.anomalies",
    ),
    Endpoint(
        "web anomaly review",
        "audit/anomalies/<id:anomaly_id>/review/",
        "post",
        lambda w: f"/audit/anomalies/{_new_anomaly_id(w)}/review/",
        by_role({Role.DPO}, 302),
        body=lambda w: {"note": "Checked with the team lead."},
        web=True,
        event="anomaly.review",
    ),
    Endpoint(
        "web verify",
        "audit/verify/",
        "get",
        lambda w: "/audit/verify/",
        DPO_ONLY,
        web=True,
        event="audit.verify",
    ),
    Endpoint(
        "web ask for a full check",
        "audit/verify/request/",
        "post",
        lambda w: "/audit/verify/request/",
        by_role({Role.DPO}, 302),
        body=lambda w: {},
        web=True,
        event="audit.verify_request",
    ),
    Endpoint(
        "web signed tree head download",
        "audit/tree-head.json",
        "get",
        lambda w: "/audit/tree-head.json",
        DPO_ONLY,
        web=True,
        event="audit.tree_head",
    ),
    Endpoint(
        "keep a form at a timeout",
        "api/v1/me/drafts/",
        "post",
        lambda w: "/api/v1/me/drafts/",
        always(201),
        body=lambda w: {
            "path": f"/cases/{w.case.reference}/encounters/new/",
            "form": [["notes", "half a sentence"]],
        },
        reads_data=False,
    ),
    Endpoint(
        "web close page",
        "cases/<str:reference>/close/",
        "get",
        lambda w: f"/cases/{w.case.reference}/close/",
        close_expect,
        web=True,
        event="case.view",
    ),
    Endpoint(
        "web reopen page",
        "cases/<str:reference>/reopen/",
        "get",
        lambda w: f"/cases/{w.case.reference}/reopen/",
        close_expect,
        web=True,
        event="case.view",
    ),
    Endpoint(
        "legal hold place",
        "api/v1/cases/<str:reference>/legal-hold/",
        "post",
        lambda w: f"/api/v1/cases/{_held(w, False)}/legal-hold/",
        legal_hold_expect(release=False),
        body=lambda w: {"reason": "Evidence in a pending trial"},
        event="legal_hold.place",
    ),
    Endpoint(
        "legal hold release",
        "api/v1/cases/<str:reference>/legal-hold/",
        "delete",
        lambda w: f"/api/v1/cases/{_held(w, True)}/legal-hold/",
        legal_hold_expect(release=True),
        body=lambda w: {"reason": "The trial ended"},
        event="legal_hold.release",
    ),
    Endpoint(
        "legal hold release by POST",
        "api/v1/cases/<str:reference>/legal-hold/release/",
        "post",
        lambda w: f"/api/v1/cases/{_held(w, True)}/legal-hold/release/",
        legal_hold_expect(release=True),
        body=lambda w: {"reason": "The second trial ended"},
        event="legal_hold.release",
    ),
    Endpoint(
        "subject request make",
        "api/v1/cases/<str:reference>/requests/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/requests/",
        case_read(201),
        body=lambda w: {"kind": "erasure", "reason": "The person asked us to forget them"},
        event="subject_request.make",
    ),
    Endpoint(
        "statistics",
        "api/v1/statistics/",
        "get",
        lambda w: "/api/v1/statistics/?by=trafficking_types",
        by_role({Role.SUPERVISOR, Role.DPO}, 200),
        event="statistics.view",
    ),
    Endpoint(
        "subject requests",
        "api/v1/requests/",
        "get",
        lambda w: "/api/v1/requests/",
        always(200),
        event="subject_request.list",
    ),
    Endpoint(
        "subject request",
        "api/v1/requests/<uuid:request_id>/",
        "get",
        lambda w: f"/api/v1/requests/{_new_request(w)}/",
        request_view_expect,
        event="subject_request.view",
    ),
    Endpoint(
        "subject request decide",
        "api/v1/requests/<uuid:request_id>/decide/",
        "post",
        lambda w: f"/api/v1/requests/{_new_request(w)}/decide/",
        DPO_ONLY,
        body=lambda w: {"decision": "refuse", "note": "Not the person's own wish"},
        event="subject_request.decide",
    ),
    Endpoint(
        "subject request download",
        "api/v1/requests/<uuid:request_id>/download/",
        "get",
        lambda w: f"/api/v1/requests/{_new_request(w, approve=True)}/download/",
        request_download_expect,
        event="subject_request.download",
    ),
    Endpoint(
        "web legal hold page",
        "cases/<str:reference>/legal-hold/",
        "get",
        lambda w: f"/cases/{_held(w, False)}/legal-hold/",
        legal_hold_expect(release=False),
        web=True,
        event="legal_hold.place",
        reads_data=False,
    ),
    Endpoint(
        "web request form",
        "cases/<str:reference>/requests/new/",
        "get",
        lambda w: f"/cases/{w.case.reference}/requests/new/",
        case_read(200),
        web=True,
        event="case.view",
    ),
    Endpoint(
        "web requests",
        "requests/",
        "get",
        lambda w: "/requests/",
        always(200),
        web=True,
        event="subject_request.list",
    ),
    Endpoint(
        "web request",
        "requests/<uuid:request_id>/",
        "get",
        lambda w: f"/requests/{_new_request(w)}/",
        request_view_expect,
        web=True,
        event="subject_request.view",
    ),
    Endpoint(
        "web request download",
        "requests/<uuid:request_id>/download/",
        "get",
        lambda w: f"/requests/{_new_request(w, approve=True)}/download/",
        request_download_expect,
        web=True,
        event="subject_request.download",
    ),
    Endpoint(
        "web statistics",
        "statistics/",
        "get",
        lambda w: "/statistics/?by=status",
        by_role({Role.SUPERVISOR, Role.DPO}, 200),
        web=True,
        event="statistics.view",
    ),
    Endpoint(
        "web statistics csv",
        "statistics.csv",
        "get",
        lambda w: "/statistics.csv?by=kind",
        by_role({Role.SUPERVISOR, Role.DPO}, 200),
        web=True,
        event="statistics.view",
    ),
    Endpoint(
        "records of processing",
        "api/v1/processing/",
        "get",
        lambda w: "/api/v1/processing/",
        by_role({Role.DPO}, 200),
        event="processing.view",
    ),
    Endpoint(
        "web records of processing",
        "processing/",
        "get",
        lambda w: "/processing/",
        by_role({Role.DPO}, 200),
        web=True,
        event="processing.view",
    ),
    Endpoint(
        "web records of processing csv",
        "processing.csv",
        "get",
        lambda w: "/processing.csv",
        by_role({Role.DPO}, 200),
        web=True,
        event="processing.view",
    ),
    Endpoint(
        "web records of processing json",
        "processing.json",
        "get",
        lambda w: "/processing.json",
        by_role({Role.DPO}, 200),
        web=True,
        event="processing.view",
    ),
    # Closing changes what may be recorded, so it comes late, and reopening after it.
    Endpoint(
        "close",
        "api/v1/cases/<str:reference>/close/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/close/",
        close_expect,
        body=lambda w: {"reason": "goals_met"},
        event="case.close",
    ),
    Endpoint(
        "reopen",
        "api/v1/cases/<str:reference>/reopen/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/reopen/",
        close_expect,
        body=lambda w: {"reason": "Came back for support"},
        event="case.reopen",
    ),
    # Last: a successful break-glass changes the relation for the rest of the test.
    Endpoint(
        "break-glass",
        "api/v1/cases/<str:reference>/break-glass/",
        "post",
        lambda w: f"/api/v1/cases/{w.case.reference}/break-glass/",
        break_glass,
        body=lambda w: {"reason": "Urgent safeguarding call at night"},
        event="break_glass.open",
    ),
]

NOT_CASE_ROUTES = {
    "account/invitation/<str:token>/",  # the link is its own one-time credential
    "login/",
    "logout/",
    "language/",  # the language control: open to everyone, reads no data (tests/i18n)
    "account/2fa/",
    "account/2fa/setup/",
    "account/confidentiality/",
    "account/password/",
    # One's own passkeys and their ceremonies (tests/access/test_passkeys.py): every
    # staff member, on their own account only.
    "account/passkeys/",
    "account/passkeys/<int:passkey_id>/rename/",
    "account/passkeys/<int:passkey_id>/remove/",
    "account/2fa/passkey/registration/begin/",
    "account/2fa/passkey/registration/complete/",
    "account/2fa/passkey/authentication/begin/",
    "account/2fa/passkey/authentication/complete/",
    "account/2fa/passkey/jsi18n/",
    "api/schema/",
    "^api/",
}


def _routes(resolver: URLResolver, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            found |= _routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            found.add(prefix + str(pattern.pattern))
    return found


def test_every_route_is_in_the_matrix():
    routes = {r for r in _routes(get_resolver()) if not r.startswith("admin/")}
    covered = {e.route for e in ENDPOINTS} | NOT_CASE_ROUTES
    assert routes - covered == set(), "add these routes to the permission matrix"
    assert covered - routes == set(), "the matrix names routes that no longer exist"


def _cell(endpoint: Endpoint, world: World, role: str, relation: str, client: Any) -> list[str]:
    """What is wrong with one cell of the matrix: its status, and the access event it
    leaves (a denied one, with its action, for a refusal; an allowed one, with its
    action, for a call that reads data)."""
    expected = endpoint.expect(role, relation)
    before = AccessEvent.objects.filter(actor_id=world.user.pk).count()
    kwargs: dict[str, Any] = {}
    if endpoint.body is not None:
        kwargs["data"] = endpoint.body(world)
        if not endpoint.web:
            kwargs["format"] = "multipart" if endpoint.multipart else "json"
    response = getattr(client, endpoint.method)(endpoint.url(world), **kwargs)
    if response.status_code != expected:
        return [f"status {response.status_code}, expected {expected}"]
    new_events = list(AccessEvent.objects.filter(actor_id=world.user.pk).order_by("id")[before:])
    refused = expected in (403, 404, 409)
    if not new_events and not refused and not endpoint.reads_data:
        return []
    if not new_events:
        return ["no access event"]
    problems = []
    outcomes = {e.outcome for e in new_events}
    actions = {e.action for e in new_events}
    if refused:
        if "denied" not in outcomes:
            problems.append("the refusal left no denied event")
        if endpoint.event and endpoint.event not in actions:
            problems.append(f"the denied event is {sorted(actions)}, not {endpoint.event}")
    else:
        if "denied" in outcomes:
            problems.append("the success left a denied event")
        allowed = endpoint.allowed_action()
        if allowed and allowed not in actions:
            problems.append(f"the allowed event is {sorted(actions)}, not {allowed}")
    if endpoint.name == "encounters" and expected == 200:
        has_clinical = all("clinical" in e for e in response.json()["results"])
        if has_clinical != (role == Role.CLINICIAN):
            problems.append("the clinical block is shown to the wrong role")
    return problems


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "relation"), COMBOS, ids=[f"{r}-{rel}" for r, rel in COMBOS])
def test_permission_matrix(api, subtests, role, relation):
    """One world per role and relation; each endpoint is a cell of its own, reported
    separately when it fails (the cells after it still run)."""
    world = _world(role, relation)
    api_client = api(world.user)
    web = web_client(world.user)
    for endpoint in ENDPOINTS:
        with subtests.test(msg=endpoint.name):
            client = web if endpoint.web else api_client
            assert _cell(endpoint, world, role, relation, client) == []
