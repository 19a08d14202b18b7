"""Training the work needs (AS8-7): which trainings each role needs and how often,
completions with their dates, and who is overdue. An administrator manages the list
and may make a training a condition of case access; a team's supervisor (or an
administrator) records completions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access.errors import GrantError
from access.models import User
from access.roles import Role
from audit.models import Outcome
from audit.services import event_record
from carers.models import (
    Training,
    TrainingCompletion,
    TrainingStanding,
    training_standing,
)

ROLES = tuple(Role.values)


def _refuse(actor: User, action: str) -> GrantError:
    event_record(actor=actor, action=action, outcome=Outcome.DENIED, reason="capability")
    return GrantError(_("Your role does not allow this."), code="permission_denied", status=403)


def training_save(
    *,
    actor: User,
    slug: str,
    title: str,
    roles: list[str],
    renewal_days: int | None,
    required_for_access: bool,
) -> Training:
    """An administrator adds a training or changes one."""
    if actor.role != Role.ADMIN:
        raise _refuse(actor, "training.save")
    if not title.strip() or len(title) > 200 or "\x00" in title:
        raise GrantError(_("Give the training a title."), code="invalid", field="title")
    if not roles or any(r not in ROLES for r in roles):
        raise GrantError(_("Choose the roles that need it."), code="invalid", field="roles")
    if renewal_days is not None and not 1 <= renewal_days <= 3650:
        raise GrantError(
            _("Renewal is from 1 to 3,650 days, or never."), code="invalid", field="renewal_days"
        )
    with transaction.atomic():
        training, created = Training.objects.update_or_create(
            slug=slug,
            defaults={
                "title": title.strip(),
                "roles": sorted(set(roles)),
                "renewal_days": renewal_days,
                "required_for_access": required_for_access,
            },
        )
        event_record(
            actor=actor,
            action="training.create" if created else "training.update",
            detail={"training": slug, "required_for_access": required_for_access},
        )
    return training


def _may_record_for(actor: User, user: User) -> bool:
    if actor.role == Role.ADMIN:
        return True
    return (
        actor.role == Role.SUPERVISOR
        and actor.team_id is not None
        and user.team_id == actor.team_id
        and user != actor
    )


def training_complete(
    *, actor: User, username: str, slug: str, completed_on: Any
) -> TrainingCompletion:
    """A supervisor (for their team) or an administrator records a completion."""
    user = User.objects.filter(username=username, is_active=True).first()
    training = Training.objects.filter(slug=slug).first()
    if user is None or not _may_record_for(actor, user):
        raise _refuse(actor, "training.complete")
    if training is None or user.role not in (training.roles or []):
        raise GrantError(
            _("Choose a training this person's role needs."), code="invalid", field="training"
        )
    today = timezone.localdate()
    if not isinstance(completed_on, dt.date) or completed_on > today or completed_on.year < 2000:
        raise GrantError(
            _("The date it was completed, not in the future."), code="invalid", field="completed_on"
        )
    with transaction.atomic():
        done = TrainingCompletion.objects.create(
            user=user, training=training, completed_on=completed_on, recorded_by=actor
        )
        event_record(
            actor=actor, action="training.complete", detail={"training": slug, "user_id": user.pk}
        )
    return done


def training_overview(*, actor: User) -> list[tuple[User, list[TrainingStanding]]]:
    """Where the actor stands; a supervisor also sees their team, an administrator
    everyone."""
    if actor.role == Role.ADMIN:
        people = list(User.objects.filter(is_active=True).exclude(role="").order_by("username"))
    elif actor.role == Role.SUPERVISOR and actor.team_id is not None:
        people = list(
            User.objects.filter(is_active=True, team_id=actor.team_id).order_by("username")
        )
    else:
        people = [actor]
    return [(person, training_standing(person)) for person in people]


def overdue_count(user: User) -> int:
    return sum(1 for s in training_standing(user) if s.overdue)
