"""Writes on staff, tokens and grants. Each one that matters records its own event."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import TYPE_CHECKING

from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from access.models import (
    ApiToken,
    CaseGrant,
    ConfidentialityAcceptance,
    ConfidentialityRules,
    GrantKind,
    Team,
    User,
)
from access.roles import Role
from audit.services import event_record

if TYPE_CHECKING:
    from cases.models import Case

TOKEN_PREFIX = "hvn_"  # noqa: S105  (a public prefix, not a secret)


@transaction.atomic
def staff_add(
    *,
    username: str,
    role: str,
    team_slug: str | None = None,
    password: str | None = None,
    actor: User | None = None,
) -> tuple[User, bool]:
    """Create or update a staff account (idempotent). Returns (user, created)."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(Role.values)}")
    team = None
    if team_slug:
        team, _ = Team.objects.get_or_create(
            slug=team_slug, defaults={"name": team_slug.replace("-", " ").title()}
        )
    user, created = User.objects.get_or_create(username=username)
    user.role = role
    user.team = team
    user.is_staff = role == Role.ADMIN  # Django admin shows staff and teams only
    user.is_superuser = False
    if password is not None:
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    event_record(
        actor=actor,
        action="staff.create" if created else "staff.update",
        detail={"user_id": user.pk},
    )
    return user, created


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def token_issue(*, user: User, days: int, actor: User | None = None) -> str:
    """Create a bearer token and return it; only its digest is stored."""
    if days < 1 or days > 366:
        raise ValueError("token lifetime must be 1 to 366 days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user,
        prefix=token[:12],
        digest=_digest(token),
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    event_record(actor=actor, action="token.issue", detail={"user_id": user.pk, "days": days})
    return token


def token_authenticate(token: str) -> User | None:
    """The active user owning an unexpired, unrevoked token, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    now = timezone.now()
    found = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(token), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if found is None or not found.user.is_active:
        return None
    if found.last_used_at is None or now - found.last_used_at > dt.timedelta(minutes=5):
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found.user


def _view_permission() -> Permission:
    return Permission.objects.get(content_type__app_label="cases", codename="view_case")


def _grant_create(
    *,
    case: Case,
    user: User,
    kind: str,
    reason: str,
    granted_by: User,
    expires_at: dt.datetime | None = None,
) -> CaseGrant:
    """The one place a per-record relation is created."""
    grant = CaseGrant(
        content_object=case,
        user=user,
        permission=_view_permission(),
        kind=kind,
        reason=reason,
        granted_by=granted_by,
        expires_at=expires_at,
    )
    grant.full_clean()
    grant.save()
    return grant


def grant_assign(*, case: Case, user: User, granted_by: User, reason: str = "") -> CaseGrant:
    """Assign ``user`` to ``case`` (the creator of a case, or a reassignment)."""
    return _grant_create(
        case=case, user=user, kind=GrantKind.ASSIGNMENT, reason=reason, granted_by=granted_by
    )


class GrantError(Exception):
    """A grant request that cannot be honoured; ``code`` is the API's stable code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


MAX_GRANT_DAYS = 366


@transaction.atomic
def grant_add(
    *,
    case: Case,
    username: str,
    reason: str,
    granted_by: User,
    expires_at: dt.datetime | None = None,
) -> CaseGrant:
    """A supervisor gives one more person access to a case, with a reason and optionally
    an end (AS9-STO-3). The caller has checked that ``granted_by`` supervises the team."""
    from access.roles import CASE_ROLES

    user = User.objects.filter(username=username, is_active=True).first()
    if user is None or user.role not in CASE_ROLES:
        raise GrantError("unknown_user", "No active staff member with a case role has that name.")
    now = timezone.now()
    if expires_at is not None and not (now < expires_at <= now + dt.timedelta(days=MAX_GRANT_DAYS)):
        raise GrantError("invalid_expiry", "The end must be in the future and within a year.")
    grant = _grant_create(
        case=case,
        user=user,
        kind=GrantKind.GRANT,
        reason=reason,
        granted_by=granted_by,
        expires_at=expires_at,
    )
    event_record(
        actor=granted_by,
        action="grant.add",
        case_reference=case.reference,
        detail={"grant_id": grant.pk, "user_id": user.pk, "expires": expires_at is not None},
    )
    return grant


@transaction.atomic
def grant_revoke(*, case: Case, grant_id: int, revoked_by: User) -> CaseGrant:
    """End a grant now. Effective for the very next request (AS9-STO-3)."""
    grant = CaseGrant.objects.select_for_update().filter(pk=grant_id, content_object=case).first()
    if grant is None:
        raise GrantError("not_found", "No such grant on this case.")
    if grant.revoked_at is None:
        grant.revoked_at = timezone.now()
        grant.revoked_by = revoked_by
        grant.save(update_fields=["revoked_at", "revoked_by"])
        event_record(
            actor=revoked_by,
            action="grant.revoke",
            case_reference=case.reference,
            detail={"grant_id": grant.pk, "user_id": grant.user_id},
        )
    return grant


@transaction.atomic
def break_glass_open(*, case: Case, user: User, reason: str) -> CaseGrant:
    """Emergency access for a few hours, with a written reason, flagged for the DPO."""
    from django.conf import settings

    from audit.models import Anomaly

    hours = settings.HAVEN_BREAK_GLASS_HOURS
    grant = _grant_create(
        case=case,
        user=user,
        kind=GrantKind.BREAK_GLASS,
        reason=reason,
        granted_by=user,
        expires_at=timezone.now() + dt.timedelta(hours=hours),
    )
    event = event_record(
        actor=user,
        action="break_glass.open",
        case_reference=case.reference,
        reason="break_glass",
        detail={"grant_id": grant.pk, "hours": hours},
    )
    Anomaly.objects.create(
        kind=Anomaly.Kind.BREAK_GLASS,
        actor_id=user.pk,
        actor_username=user.username,
        case_reference=case.reference,
        event=event,
    )
    return grant


@transaction.atomic
def case_reassign(*, case: Case, from_user: User | None, to_user: User, by: User) -> CaseGrant:
    """Move a case's assignment (caseload balancing, AS8-1): the old assignment ends,
    the new one starts, both recorded."""
    if to_user.team_id != case.team_id or to_user.role not in ("caseworker", "clinician"):
        raise GrantError("unknown_user", "Choose a caseworker or clinician of the case's team.")
    now = timezone.now()
    if from_user is not None:
        CaseGrant.objects.active(now).filter(
            content_object=case, user=from_user, kind=GrantKind.ASSIGNMENT
        ).update(revoked_at=now, revoked_by=by)
    grant = grant_assign(case=case, user=to_user, granted_by=by, reason="reassigned")
    event_record(
        actor=by,
        action="case.reassign",
        case_reference=case.reference,
        detail={"to_user_id": to_user.pk, "from_user_id": from_user.pk if from_user else 0},
    )
    return grant


def confidentiality_current() -> ConfidentialityRules | None:
    return ConfidentialityRules.objects.order_by("-version").first()


def confidentiality_accepted(user: User) -> bool:
    current = confidentiality_current()
    if current is None:
        return True  # nothing published yet (a migration publishes version 1)
    return ConfidentialityAcceptance.objects.filter(user=user, rules=current).exists()


@transaction.atomic
def confidentiality_accept(*, user: User, version: int) -> ConfidentialityAcceptance:
    """Record that ``user`` accepted exactly the version they were shown (AS9-STO-6)."""
    current = confidentiality_current()
    if current is None or current.version != version:
        raise GrantError("stale_rules", "The rules changed while you were reading them.")
    acceptance, created = ConfidentialityAcceptance.objects.get_or_create(user=user, rules=current)
    if created:
        event_record(actor=user, action="confidentiality.accept", detail={"version": version})
    return acceptance


@transaction.atomic
def confidentiality_publish(*, text: str, by: User | None) -> ConfidentialityRules:
    latest = confidentiality_current()
    rules = ConfidentialityRules(
        version=(latest.version + 1) if latest else 1, text=text, published_by=by
    )
    rules.full_clean()
    rules.save()
    event_record(actor=by, action="confidentiality.publish", detail={"version": rules.version})
    return rules
