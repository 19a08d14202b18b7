"""Writes on staff, tokens and grants. Each one that matters records its own event."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import TYPE_CHECKING

from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from access.models import ApiToken, CaseGrant, GrantKind, Team, User
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


def grant_assign(*, case: Case, user: User, granted_by: User, reason: str = "") -> CaseGrant:
    """Assign ``user`` to ``case`` (the creator of a case, or a reassignment)."""
    grant = CaseGrant(
        content_object=case,
        user=user,
        permission=_view_permission(),
        kind=GrantKind.ASSIGNMENT,
        reason=reason,
        granted_by=granted_by,
    )
    grant.full_clean()
    grant.save()
    return grant
