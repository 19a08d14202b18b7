"""Writes on staff, tokens and grants. Each one that matters records its own event."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access.errors import GrantError, StaffChangeRefused
from access.models import (
    ApiToken,
    CaseGrant,
    ConfidentialityAcceptance,
    ConfidentialityRules,
    GrantKind,
    Team,
    User,
)
from access.roles import CASE_ROLES, Capability, Role, capabilities_of
from audit.models import Anomaly
from audit.services import event_record
from cases.models import Case

TOKEN_PREFIX = "hvn_"  # noqa: S105  (a public prefix, not a secret)


READING = (Capability.CASE_READ, Capability.IDENTITY_READ, Capability.CLINICAL)


def _gains_case_reading(
    *, old_role: str, old_team_id: int | None, new_role: str, new_team_id: int | None
) -> bool:
    """Whether a role or team change lets the person read survivor data they could not
    read before: a reading capability the old role lacked, or a supervisor's reach over
    a team (every case of it) that they did not supervise before."""
    before, after = capabilities_of(old_role), capabilities_of(new_role)
    if any(cap in after and cap not in before for cap in READING):
        return True
    return (
        new_role == Role.SUPERVISOR
        and new_team_id is not None
        and (old_role != Role.SUPERVISOR or old_team_id != new_team_id)
    )


def _record_staff_change(
    *,
    actor: User | None,
    user: User,
    created: bool,
    old_role: str,
    old_team_id: int | None,
    old_active: bool,
    other_fields: list[str],
) -> None:
    """The chained events of one change to a staff account, and a DPO anomaly when
    the change gives someone access to survivor data (AS9-USE-4)."""
    events = []
    if created:
        events.append(
            event_record(
                actor=actor,
                action="staff.create",
                detail={"user_id": user.pk, "to_role": user.role, "to_team": user.team_id or 0},
            )
        )
    else:
        if user.role != old_role:
            events.append(
                event_record(
                    actor=actor,
                    action="staff.role_change",
                    detail={"user_id": user.pk, "from_role": old_role, "to_role": user.role},
                )
            )
        if user.team_id != old_team_id:
            events.append(
                event_record(
                    actor=actor,
                    action="staff.team_change",
                    detail={
                        "user_id": user.pk,
                        "from_team": old_team_id or 0,
                        "to_team": user.team_id or 0,
                    },
                )
            )
        if user.is_active != old_active:
            action = "staff.reactivate" if user.is_active else "staff.deactivate"
            events.append(event_record(actor=actor, action=action, detail={"user_id": user.pk}))
        if other_fields:
            event_record(
                actor=actor,
                action="staff.update",
                detail={"user_id": user.pk, "fields": sorted(other_fields)},
            )
    gains = user.is_active and _gains_case_reading(
        old_role="" if created else old_role,
        old_team_id=None if created else old_team_id,
        new_role=user.role,
        new_team_id=user.team_id,
    )
    if gains and events:
        Anomaly.objects.create(
            kind=Anomaly.Kind.PRIVILEGE_CHANGE,
            actor_id=getattr(actor, "pk", None),
            actor_username=actor.get_username() if actor is not None else "",
            event=events[-1],
        )


PROFILE_FIELDS = ("first_name", "last_name", "email")


@transaction.atomic
def staff_save(
    *,
    actor: User | None,
    username: str,
    role: str,
    team: Team | None,
    is_active: bool = True,
    profile: dict[str, str] | None = None,
    password: str | None = None,
) -> tuple[User, bool]:
    """Create or change a staff account: the one path for the admin site, ``add_staff``
    and the demo. Nobody changes their own role, team or whether their account is
    active; every change is a chained ``staff.*`` event; a change that opens survivor
    data to someone is an anomaly for the DPO. Returns (user, created)."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(Role.values)}")
    user = User.objects.select_for_update().filter(username=username).first()
    created = user is None
    if user is None:
        user = User(username=username)
    old_role, old_team_id, old_active = user.role, user.team_id, user.is_active
    new_team_id = team.pk if team is not None else None
    if (
        not created
        and actor is not None
        and actor.pk == user.pk
        and (role != old_role or new_team_id != old_team_id or is_active != old_active)
    ):
        raise StaffChangeRefused
    other_fields = []
    for name, value in (profile or {}).items():
        if name not in PROFILE_FIELDS:
            raise ValueError(f"not a profile field: {name}")
        if getattr(user, name) != value:
            setattr(user, name, value)
            other_fields.append(name)
    user.role, user.team, user.is_active = role, team, is_active
    user.is_staff = role == Role.ADMIN  # Django admin shows staff and teams only
    user.is_superuser = False
    if password is not None:
        user.set_password(password)
        other_fields.append("password")
    elif created:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    _record_staff_change(
        actor=actor,
        user=user,
        created=created,
        old_role=old_role,
        old_team_id=old_team_id,
        old_active=old_active,
        other_fields=[] if created else other_fields,
    )
    return user, created


def staff_add(
    *,
    username: str,
    role: str,
    team_slug: str | None = None,
    password: str | None = None,
    actor: User | None = None,
) -> tuple[User, bool]:
    """``add_staff``: create or update an account by team slug (idempotent; the team
    is created if new). Returns (user, created)."""
    team = None
    if team_slug:
        team = team_save(actor=actor, slug=team_slug, create_only=True)
    return staff_save(
        actor=actor, username=username, role=role, team=team, is_active=True, password=password
    )


@transaction.atomic
def team_save(
    *,
    actor: User | None,
    slug: str,
    name: str | None = None,
    caseload_limit: int | None = None,
    high_risk_limit: int | None = None,
    create_only: bool = False,
) -> Team:
    """Create a team, or change its name or caseload limit (``create_only``: return an
    existing team unchanged). Each change is a chained ``team.*`` event."""
    team = Team.objects.select_for_update().filter(slug=slug).first()
    if team is not None and create_only:
        return team
    created = team is None
    if team is None:
        team = Team(slug=slug, name="")
        name = name or slug.replace("-", " ").title()
    changed = []
    if name is not None and team.name != name:
        team.name = name
        changed.append("name")
    if caseload_limit is not None and team.caseload_limit != caseload_limit:
        team.caseload_limit = caseload_limit
        changed.append("caseload_limit")
    if high_risk_limit is not None and team.high_risk_limit != high_risk_limit:
        team.high_risk_limit = high_risk_limit
        changed.append("high_risk_limit")
    if not created and not changed:
        return team
    team.full_clean()
    team.save()
    event_record(
        actor=actor,
        action="team.create" if created else "team.update",
        detail={"team_id": team.pk, "fields": sorted(changed)},
    )
    return team


def team_limits_set(*, actor: User, open_cases: int, high_risk: int) -> Team:
    """The supervisor writes their team's caseload limits (AS8-5)."""
    if actor.role != Role.SUPERVISOR or actor.team_id is None:
        raise GrantError(
            _("Only a team's supervisor sets its limits."), code="permission_denied", status=403
        )
    if not (1 <= open_cases <= 200 and 0 <= high_risk <= open_cases):
        raise GrantError(
            _("Open cases from 1 to 200; high-risk cases from 0 to the open-case limit."),
            code="invalid",
            field="high_risk",
        )
    assert actor.team is not None  # noqa: S101  (checked above)
    return team_save(
        actor=actor, slug=actor.team.slug, caseload_limit=open_cases, high_risk_limit=high_risk
    )


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


@transaction.atomic
def token_revoke(*, actor: User | None, token_id: int) -> ApiToken:
    """End a bearer token now (effective on its next use), recorded."""
    token = ApiToken.objects.select_for_update().get(pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        event_record(
            actor=actor,
            action="token.revoke",
            detail={"token_id": token.pk, "user_id": token.user_id},
        )
    return token


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
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None or user.role not in CASE_ROLES:
        raise GrantError(
            _("No active staff member with a case role has that name."), code="unknown_user"
        )
    now = timezone.now()
    if expires_at is not None and not (now < expires_at <= now + dt.timedelta(days=MAX_GRANT_DAYS)):
        raise GrantError(
            _("The end must be in the future and within a year."), code="invalid_expiry"
        )
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
def grant_revoke(
    *,
    case: Case,
    grant_id: int,
    revoked_by: User,
    reason: str | None = None,
    reassign_to: str | None = None,
    leave_unassigned: bool = True,
) -> CaseGrant:
    """End a grant now, effective for the very next request (AS9-STO-3), with the
    supervisor's reason. A case is never left without an assigned worker unless the
    supervisor chooses so: ending its last assignment needs ``reassign_to`` (a member
    of the team, who is assigned at once) or ``leave_unassigned`` (the case then shows
    as unassigned on the team's caseload). The API's DELETE names the very grant to end,
    which is that choice; the page asks."""
    grant = (
        CaseGrant.objects.select_for_update()
        .select_related("user")
        .filter(pk=grant_id, content_object=case)
        .first()
    )
    if grant is None:
        raise GrantError(_("No such grant on this case."), code="not_found", status=404)
    if grant.revoked_at is not None:
        return grant
    now = timezone.now()
    last_assignment = CaseGrant.objects.is_last_assignment(grant)
    if last_assignment and reassign_to:
        case_reassign(
            case=case, from_username=grant.user.username, to_username=reassign_to, by=revoked_by
        )
        grant.refresh_from_db()
        return grant
    if last_assignment and not leave_unassigned:
        raise GrantError(
            _(
                "This is the case's only assigned worker. Choose who takes the case over, or "
                "choose to leave it unassigned."
            ),
            code="last_assignment",
            status=409,
        )
    grant.content_object = case
    grant.revoked_at = now
    grant.revoked_by = revoked_by
    grant.revoke_reason = (reason or "").strip() or None
    grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    event_record(
        actor=revoked_by,
        action="grant.revoke",
        case_reference=case.reference,
        detail={"grant_id": grant.pk, "user_id": grant.user_id, "unassigned": last_assignment},
    )
    return grant


@transaction.atomic
def break_glass_open(*, case: Case, user: User, reason: str) -> CaseGrant:
    """Emergency access for a few hours, with a written reason, flagged for the DPO."""
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
def case_reassign(*, case: Case, from_username: str, to_username: str, by: User) -> CaseGrant:
    """Move a case's assignment (caseload balancing, AS8-1): the old assignment ends,
    the new one starts, both recorded. The new one is an active caseworker or clinician
    of the case's team."""
    members = User.objects.filter(team_id=case.team_id, is_active=True)
    to_user = members.filter(username=to_username).first()
    # The one handing over may have left the team or the organisation meanwhile.
    from_user = User.objects.filter(username=from_username).first()
    if to_user is None or to_user.role not in (Role.CASEWORKER, Role.CLINICIAN):
        raise GrantError(
            _("Choose a caseworker or clinician of the case's team."), code="unknown_user"
        )
    now = timezone.now()
    if from_user is not None:
        for old in CaseGrant.objects.active(now).filter(
            content_object=case, user=from_user, kind=GrantKind.ASSIGNMENT
        ):
            old.content_object = case
            old.revoked_at, old.revoked_by, old.revoke_reason = now, by, "reassigned"
            old.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
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
    """Whether ``user`` accepted the current rules. With no rules published, nobody has
    (fail closed): a migration publishes version 1, so this happens only when someone
    removed them, and then no one reaches survivor data until an admin publishes."""
    current = confidentiality_current()
    if current is None:
        return False
    return ConfidentialityAcceptance.objects.filter(user=user, rules=current).exists()


@transaction.atomic
def confidentiality_accept(*, user: User, version: int) -> ConfidentialityAcceptance:
    """Record that ``user`` accepted exactly the version they were shown, and in which
    language they were shown it (AS9-STO-6)."""
    current = confidentiality_current()
    if current is None or current.version != version:
        raise GrantError(
            _("The rules changed while you were reading them."), code="stale_rules", status=409
        )
    _text, shown = current.text_in(user.language)
    acceptance, created = ConfidentialityAcceptance.objects.get_or_create(
        user=user, rules=current, defaults={"language": shown}
    )
    if created:
        event_record(
            actor=user,
            action="confidentiality.accept",
            detail={"version": version, "language": shown},
        )
    return acceptance


@transaction.atomic
def confidentiality_publish(
    *, text: str, by: User | None, translations: dict[str, str] | None = None
) -> ConfidentialityRules:
    """A new version: ``text`` in the organisation's default language and, optionally,
    the same rules in other offered languages. Every publication is a new version that
    everyone accepts again; a published version is never edited."""
    latest = confidentiality_current()
    clean: dict[str, str] = {}
    for language, translated in (translations or {}).items():
        if language not in settings.HAVEN_LANGUAGES or language == settings.LANGUAGE_CODE:
            raise GrantError(
                _("Translations are for the other languages this organisation offers."),
                code="invalid",
                field="translations",
            )
        translated = str(translated).strip()
        if "\x00" in translated or len(translated) > 50_000:
            raise GrantError(_("A translation is too long."), code="invalid", field=language)
        if translated:
            clean[language] = translated
    rules = ConfidentialityRules(
        version=(latest.version + 1) if latest else 1,
        text=text,
        language=settings.LANGUAGE_CODE,
        translations=clean,
        published_by=by,
    )
    rules.full_clean()
    rules.save()
    event_record(
        actor=by,
        action="confidentiality.publish",
        detail={"version": rules.version, "languages": len(clean) + 1},
    )
    return rules


@transaction.atomic
def staff_set_language(*, user: User, language: str) -> User:
    """A staff member's interface language, one of ``HAVEN_LANGUAGES``."""
    if language not in settings.HAVEN_LANGUAGES:
        raise GrantError(
            _("Choose one of the interface languages this organisation offers."), code="invalid"
        )
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
        event_record(actor=user, action="staff.language", detail={"language": language})
    return user
