"""Clinical supervision (AS8-3): supervisors record individual and group sessions with
the staff of their team; the notes are read only by the supervisor who led the session
and the staff who attended. Each staff member and their supervisor see when the last
session was and when the next is due (``HAVEN_SUPERVISION_DAYS``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access.errors import GrantError
from access.models import User
from access.roles import Role
from audit.models import Outcome
from audit.services import event_record
from carers.models import SupervisionKind, SupervisionSession

SUPERVISED_ROLES = (Role.CASEWORKER, Role.CLINICIAN)


@dataclass(frozen=True)
class Standing:
    """Where one staff member stands: the last session, and when the next is due."""

    user: User
    last: dt.date | None
    days_since: int | None
    due_on: dt.date
    overdue: bool


def team_members(supervisor: User) -> models.QuerySet[User]:
    if supervisor.team_id is None:
        return User.objects.none()
    return User.objects.filter(
        team_id=supervisor.team_id, is_active=True, role__in=SUPERVISED_ROLES
    ).order_by("username")


def leads_team(user: User) -> bool:
    """Whether ``user`` is the supervisor of a team (and so leads its supervision)."""
    return user.role == Role.SUPERVISOR and user.team_id is not None


def standing(users: Iterable[User], today: dt.date | None = None) -> list[Standing]:
    today = today or timezone.localdate()
    every = settings.HAVEN_SUPERVISION_DAYS
    people = list(users)
    last: dict[int, dt.date] = {}
    for user_id, held_on in SupervisionSession.attendees.through.objects.filter(
        user_id__in=[u.pk for u in people]
    ).values_list("user_id", "supervisionsession__held_on"):
        if user_id not in last or held_on > last[user_id]:
            last[user_id] = held_on
    result = []
    for user in people:
        held = last.get(user.pk)
        # Never supervised: due from the day they joined (or today, for an old account).
        start = held or timezone.localdate(user.date_joined)
        due_on = start + dt.timedelta(days=every)
        result.append(
            Standing(
                user=user,
                last=held,
                days_since=(today - held).days if held else None,
                due_on=due_on,
                overdue=due_on < today,
            )
        )
    return result


def overdue_for(supervisor: User) -> list[Standing]:
    """The supervisor's team members whose supervision is overdue (their home page)."""
    if not leads_team(supervisor):
        return []
    return [s for s in standing(team_members(supervisor)) if s.overdue]


def _clean(
    supervisor: User, staff: Any, kind: str, held_on: Any, notes: Any
) -> tuple[list[User], str, dt.date, str]:
    if kind not in SupervisionKind.values:
        raise GrantError(_("Choose individual or group."), code="invalid", field="kind")
    names = [staff] if isinstance(staff, str) else staff
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
        raise GrantError(_("Name who attended."), code="invalid", field="staff")
    members = {u.username: u for u in team_members(supervisor)}
    unknown = [n for n in names if n not in members]
    if unknown:
        raise GrantError(
            _("Only caseworkers and clinicians of your team."), code="unknown_user", field="staff"
        )
    people = [members[n] for n in dict.fromkeys(names)]
    if kind == SupervisionKind.INDIVIDUAL and len(people) != 1:
        raise GrantError(_("An individual session has one person."), code="invalid", field="staff")
    if kind == SupervisionKind.GROUP and len(people) < 2:
        raise GrantError(
            _("A group session has two people or more."), code="invalid", field="staff"
        )
    if not isinstance(held_on, dt.date):
        raise GrantError(_("Give the date of the session."), code="invalid", field="held_on")
    if held_on > timezone.localdate() or held_on.year < 2000:
        raise GrantError(
            _("The session date cannot be in the future."), code="invalid", field="held_on"
        )
    text = notes if isinstance(notes, str) else ""
    if len(text) > 10_000 or "\x00" in text:
        raise GrantError(_("Notes are at most 10,000 characters."), code="invalid", field="notes")
    return people, kind, held_on, text.strip()


def supervision_record(
    *, actor: User, staff: Any, kind: str, held_on: Any, notes: Any = ""
) -> SupervisionSession:
    """A supervisor records a session with staff of their own team; anyone else is
    refused, and the refusal recorded (outside the transaction, so that it stays)."""
    if not leads_team(actor):
        event_record(
            actor=actor, action="supervision.record", outcome=Outcome.DENIED, reason="capability"
        )
        raise GrantError(
            _("Only a team's supervisor records supervision."), code="permission_denied", status=403
        )
    people, kind, held_on, text = _clean(actor, staff, kind, held_on, notes)
    with transaction.atomic():
        return _record(actor, people, kind, held_on, text)


def _record(
    actor: User, people: list[User], kind: str, held_on: dt.date, text: str
) -> SupervisionSession:
    session = SupervisionSession.with_new_key(supervisor=actor, kind=kind, held_on=held_on)
    session.notes = text
    session.save(force_insert=True)
    session.attendees.set(people)
    event_record(
        actor=actor, action="supervision.record", detail={"kind": kind, "attendees": len(people)}
    )
    return session


def supervision_for(*, actor: User) -> tuple[list[SupervisionSession], list[Standing]]:
    """Sessions the actor led or attended (newest first), and where each person they
    supervise stands, or where they stand themselves."""
    sessions = (
        SupervisionSession.objects.filter(models.Q(supervisor=actor) | models.Q(attendees=actor))
        .distinct()
        .select_related("supervisor")
        .prefetch_related("attendees")
    )
    people: Iterable[User] = team_members(actor) if leads_team(actor) else [actor]
    if not leads_team(actor) and actor.role not in SUPERVISED_ROLES:
        people = []
    event_record(actor=actor, action="supervision.list")
    return list(sessions), standing(people)
