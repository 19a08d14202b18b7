"""Records of processing activities (GDPR Art. 30), for the DPO, read from the code.

What Haven holds is listed from the models themselves (each field and how it is
protected), the time limits and the security measures from the settings and constants
in force, the recipients from the referral directory and the disclosures made. Only the
purposes are written here in words, next to the models they use; a test fails when a
model that holds personal data is in no activity, so the record cannot fall behind the
code. Nothing in it is survivor content: the holdings are counts over all survivors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from access.crypto.fields import EncryptedField
from access.models import User
from access.roles import Capability, Role
from audit.models import AccessEvent
from audit.services import event_record
from cases.models import (
    Case,
    CaseStatus,
    ConsentScope,
    Organisation,
    Referral,
    RequestStatus,
    StatisticsFacet,
    SubjectRequest,
    Survivor,
    Tombstone,
)
from cases.services.aftercare import PACKAGE_DAYS, due_for_purge
from cases.services.common import require
from cases.services.disclosure import REFERRAL_AVAILABLE

# Fields that hold health data (Art. 9): the clinical block and what was provided.
HEALTH_FIELDS = {
    ("cases.Encounter", "clinical"),
    ("cases.Encounter", "services_provided"),
    ("cases.CaseService", "service_type"),
}


@dataclass(frozen=True)
class Activity:
    key: str
    name: str
    purpose: str
    subjects: tuple[str, ...]
    models: tuple[str, ...]  # app_label.Model


ACTIVITIES: tuple[Activity, ...] = (
    Activity(
        "care",
        "Case management and care",
        "Recording each survivor's identity, case, encounters, care plan, services, tasks, "
        "documents and consents, so that the people who care for them can do so safely "
        "and in coordination (storage consent, or care-critical records).",
        ("survivors of trafficking",),
        (
            "cases.Survivor",
            "cases.Identity",
            "cases.Case",
            "cases.Encounter",
            "cases.Revision",
            "cases.BlindIndexEntry",
            "cases.PlanGoal",
            "cases.CaseService",
            "cases.CaseTask",
            "cases.Attachment",
            "cases.Consent",
        ),
    ),
    Activity(
        "disclosure",
        "Referrals and legal disclosures",
        "Sending what the survivor agreed to, to the organisation they agreed to, for the "
        "purpose they agreed to (referral or legal consent naming the recipient), and "
        "keeping the record of each disclosure.",
        ("survivors of trafficking",),
        ("cases.Referral", "cases.ReferralPackage"),
    ),
    Activity(
        "rights",
        "The survivor's rights of access and erasure",
        "Answering a survivor's request for a copy of their records or for their erasure, "
        "decided by the DPO, and keeping a content-free tombstone of each ended record.",
        ("survivors of trafficking",),
        ("cases.SubjectRequest", "cases.SubjectPackage", "cases.Tombstone"),
    ),
    Activity(
        "statistics",
        "Anonymised statistics",
        "Counting cases for reports to donors and for service planning, only over cases "
        "with a research consent in force, with small counts suppressed.",
        ("survivors of trafficking (counted, never named)",),
        ("cases.StatisticsFacet",),
    ),
    Activity(
        "carers",
        "Care for the carers",
        "Helping staff look after themselves (action sheet 8): a self-check that only the "
        "staff member can read, sealed with their own key and linked to no account in the "
        'database; "I would like to talk", shared with their supervisor by choice; the '
        "hand-over of a case that is personally hard, with a private reason; and clinical "
        "supervision, its notes read only by the supervisor and those who attended; support "
        "plans, read by the staff member and their supervisor only; training completed.",
        ("staff",),
        (
            "carers.SelfCheck",
            "carers.TalkRequest",
            "access.StaffKey",
            "cases.TransferRequest",
            "carers.SupervisionSession",
            "carers.SupportPlan",
            "carers.TrainingCompletion",
        ),
    ),
    Activity(
        "accountability",
        "Staff accounts, access control and the access trail",
        "Letting each member of staff sign in securely and reach only the cases they work "
        "on, and recording every access so that the DPO can review who read what "
        "(tamper-evident trail).",
        ("staff", "survivors (by case reference only)"),
        (
            "access.User",
            "access.Team",
            "access.StaffInvitation",
            "access.ConfidentialityAcceptance",
            "access.ApiToken",
            "access.CaseGrant",
            "access.FormDraft",
            "access.WrappedKey",
            "otp_totp.TOTPDevice",
            "otp_static.StaticDevice",
            "otp_static.StaticToken",
            "django_otp_webauthn.WebAuthnCredential",
            "django_otp_webauthn.WebAuthnAttestation",
            "django_otp_webauthn.WebAuthnUserHandle",
            "access.SignInPolicy",
            "sessions.Session",
            "axes.AccessAttempt",
            "axes.AccessAttemptExpiration",
            "axes.AccessFailureLog",
            "axes.AccessLog",
            "audit.AccessEvent",
            "auditlog.LogEntry",
            "audit.Anomaly",
            "audit.AnomalyScan",
            "audit.PendingLeaf",
            "audit.LogLeaf",
            "audit.LogNode",
            "audit.TreeHead",
        ),
    ),
)

# Models that hold no personal data, and why: every other model must be in an activity.
NOT_PERSONAL: dict[str, str] = {
    "cases.Organisation": "the referral directory: organisations, listed under recipients",
    "access.ConfidentialityRules": "the text of the confidentiality rules",
    "carers.SelfCheckWording": "the organisation's wording of the self-check items",
    "carers.Training": "the list of trainings and the roles that need them",
    "auth.Permission": "Django's permission names",
    "auth.Group": "Django's groups (unused: roles are on the account)",
    "contenttypes.ContentType": "Django's model names",
    "audit.ForwardPosition": "how far the trail was sent to each collector: a number",
    "audit.Verification": "the results of the audit log's checks: sizes and leaf numbers",
    "audit.EventDay": "how many access events of each action a day had: counts, no one named",
    "admin.LogEntry": "Django's admin log: no longer written, frozen by a trigger",
    "guardian.UserObjectPermission": "unused: case grants are access.CaseGrant",
    "guardian.GroupObjectPermission": "unused: case grants are access.CaseGrant",
}


@dataclass(frozen=True)
class FieldEntry:
    name: str
    label: str
    protection: str
    health: bool


@dataclass(frozen=True)
class Category:
    model: str
    label: str
    items: tuple[FieldEntry, ...]


@dataclass(frozen=True)
class ActivityRecord:
    key: str
    name: str
    purpose: str
    subjects: tuple[str, ...]
    categories: tuple[Category, ...]


@dataclass(frozen=True)
class Recipient:
    name: str
    verified_on: dt.date | None
    disclosures: dict[str, int]


@dataclass(frozen=True)
class Line:
    label: str
    value: str


@dataclass(frozen=True)
class ProcessingRecord:
    generated_at: dt.datetime
    controller: tuple[Line, ...]
    activities: tuple[ActivityRecord, ...]
    recipients: tuple[Recipient, ...]
    transfers: str
    retention: tuple[Line, ...]
    measures: tuple[Line, ...]
    holdings: tuple[Line, ...]
    carers_use: tuple[Line, ...]


def _protection(field: models.Field[object, object]) -> str:
    if isinstance(field, EncryptedField):
        return "encrypted"
    if isinstance(field, models.BinaryField):
        return "key or digest (binary)"
    if field.is_relation:
        return "link"
    return "clear"


def _category(label: str) -> Category:
    model = apps.get_model(label)
    fields = tuple(
        FieldEntry(
            name=field.name,
            label=str(field.verbose_name),
            protection=_protection(field),
            health=(label, field.name) in HEALTH_FIELDS,
        )
        for field in model._meta.concrete_fields
        if not field.primary_key
    )
    return Category(model=label, label=str(model._meta.verbose_name_plural), items=fields)


def _days(days: int) -> str:
    return f"{days} days" + (f" (about {days / 365:.1f} years)" if days >= 365 else "")


def _retention() -> tuple[Line, ...]:
    return (
        Line(
            "Case records of a closed case",
            f"{_days(settings.HAVEN_RETENTION_DAYS)} after closing (HAVEN_RETENTION_DAYS), "
            "then purged by purge_expired: data key destroyed, rows and files deleted, a "
            "content-free tombstone kept. Never while the case is on legal hold.",
        ),
        Line(
            "On a survivor's approved erasure request",
            "At once (crypto-shredding), unless the case is on legal hold.",
        ),
        Line(
            "Referral packages",
            f"Collectable for {REFERRAL_AVAILABLE.total_seconds() / 3600:.0f} hours, once; "
            "then deleted. The record of the disclosure stays with the case.",
        ),
        Line("The survivor's own copy", f"Collectable for {PACKAGE_DAYS} days, once."),
        Line(
            "Forms kept at a session timeout",
            f"{_days(settings.HAVEN_DRAFT_DAYS)} (HAVEN_DRAFT_DAYS), or until the case ends.",
        ),
        Line(
            "Statistics facets",
            "While the research consent is in force; removed nightly after it ends.",
        ),
        Line(
            "Access trail",
            "Kept; it holds no case content (references, roles, actions and times).",
        ),
        Line("Staff accounts", "While the account exists; deactivated staff keep no access."),
    )


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _collectors() -> str:
    """Where the trail is forwarded (scheme and host, never a token)."""
    places = [
        f"{kind} at {urlsplit(url).hostname}"
        for kind, url in (
            ("syslog", settings.HAVEN_SYSLOG_URL),
            ("FHIR audit server", settings.HAVEN_FHIR_AUDIT_URL),
        )
        if url
    ]
    return ", ".join(places) or "no outside collector"


def _measures() -> tuple[Line, ...]:
    hasher = settings.PASSWORD_HASHERS[0].rsplit(".", 1)[-1]
    return (
        Line(
            "Encryption at rest",
            "AES-256-GCM per field, under a data key of each survivor's own, wrapped by the "
            "key-encryption key; a record is bound to its row and version.",
        ),
        Line("Name search", f"keyed digests truncated to {settings.HAVEN_BLIND_INDEX_BITS} bits"),
        Line("Second factor (TOTP) required", _yes(settings.HAVEN_REQUIRE_2FA)),
        Line(
            "Sign-in lockout",
            f"after {settings.AXES_FAILURE_LIMIT} failures, for "
            f"{int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)} minutes",
        ),
        Line("Password hashing", hasher),
        Line(
            "Sessions",
            f"end after {settings.SESSION_COOKIE_AGE // 60} idle minutes and "
            f"{settings.HAVEN_SESSION_MAX_SECONDS // 3600} hours in all",
        ),
        Line(
            "Need-to-know access",
            "per-case grants to the assigned team; emergency access for "
            f"{settings.HAVEN_BREAK_GLASS_HOURS} hours, at most "
            f"{settings.HAVEN_BREAK_GLASS_MAX_OPEN} open per person, reviewed by the DPO",
        ),
        Line(
            "Roles that never read case content",
            "DPO and administrator (the DPO reviews, the administrator manages staff)",
        ),
        Line(
            "Access trail",
            "every read and change, in a Merkle tree log with signed tree heads; the app "
            "cannot alter it",
        ),
        Line("Access trail copied to", _collectors()),
        Line(
            "Disclosures",
            "only under a consent in force naming the recipient; packages encrypted, "
            "collected once, re-checked at download",
        ),
        Line("Statistics", f"counts under {settings.HAVEN_STATS_MIN_CELL} suppressed"),
        Line(
            "Transport",
            f"HTTPS only: {_yes(settings.SECURE_SSL_REDIRECT)}; HSTS "
            f"{settings.SECURE_HSTS_SECONDS} seconds; cookies secure: "
            f"{_yes(settings.SESSION_COOKIE_SECURE)}",
        ),
    )


def _recipients() -> tuple[Recipient, ...]:
    counts: dict[int, dict[str, int]] = {}
    for recipient_id, scope, n in (
        Referral.objects.values_list("recipient_id", "scope").annotate(n=Count("pk")).order_by()
    ):
        counts.setdefault(recipient_id, {})[str(scope)] = n
    return tuple(
        Recipient(name=org.name, verified_on=org.verified_on, disclosures=counts.get(org.pk, {}))
        for org in Organisation.objects.order_by("name")
    )


def _count(label: str, query: models.QuerySet[models.Model] | Iterable[object]) -> Line:
    value = query.count() if isinstance(query, models.QuerySet) else len(list(query))
    return Line(label, f"{value:,}")


def _holdings() -> tuple[Line, ...]:
    return (
        _count("Survivors with records", Survivor.objects.filter(shredded_at__isnull=True)),
        _count("Open cases", Case.objects.filter(status=CaseStatus.OPEN)),
        _count("Closed cases", Case.objects.filter(status=CaseStatus.CLOSED)),
        _count("Cases on legal hold", Case.objects.filter(legal_hold=True)),
        _count("Closed cases past retention, due for purge", due_for_purge()),
        _count("Records ended (tombstones)", Tombstone.objects.all()),
        _count(
            "Cases counted in statistics (research consent)",
            StatisticsFacet.objects.values("case_id").distinct(),
        ),
        _count(
            "Data-subject requests pending",
            SubjectRequest.objects.filter(status=RequestStatus.PENDING),
        ),
        _count("Active staff accounts", User.objects.filter(is_active=True)),
        _count(
            "Self-checks kept (all staff together; whose is not recorded)",
            apps.get_model("carers", "SelfCheck").objects.all(),
        ),
    )


_CARERS_ACTIONS = {
    "wellbeing.selfcheck": "self-checks",
    "wellbeing.talk_request": "requests to talk",
    "supervision.record": "supervision sessions",
    "support_plan.record": "support plans",
}


def _carers_use(months: int = 6) -> tuple[Line, ...]:
    """How much the care-for-carers features are used, by month, from the trail: counts
    of content-free events, never who (AS8: the DPO sees use, not people)."""
    since = (timezone.localdate().replace(day=1) - dt.timedelta(days=31 * (months - 1))).replace(
        day=1
    )
    counts: dict[str, dict[str, int]] = {}
    for month, action, n in (
        AccessEvent.objects.filter(
            action__in=list(_CARERS_ACTIONS), outcome="allowed", at__date__gte=since
        )
        .annotate(month=TruncMonth("at"))
        .values_list("month", "action")
        .annotate(n=Count("pk"))
        .order_by("month")
    ):
        counts.setdefault(month.strftime("%Y-%m"), {})[_CARERS_ACTIONS[action]] = n
    return tuple(
        Line(month, ", ".join(f"{n} {what}" for what, n in sorted(row.items())))
        for month, row in sorted(counts.items())
    )


def processing_record(*, actor: User) -> ProcessingRecord:
    """The record as the code and the data stand now (DPO only); the reading is an event."""
    require(actor, Capability.PROCESSING_RECORDS)
    record = ProcessingRecord(
        generated_at=timezone.now(),
        controller=(
            Line("Organisation", settings.HAVEN_ORGANISATION_NAME),
            Line("Contact", settings.HAVEN_ORGANISATION_CONTACT or "(HAVEN_ORGANISATION_CONTACT)"),
            Line(
                "Data protection officers",
                f"{User.objects.filter(is_active=True, role=Role.DPO).count()} active account(s)",
            ),
        ),
        activities=tuple(
            ActivityRecord(
                key=a.key,
                name=a.name,
                purpose=a.purpose,
                subjects=a.subjects,
                categories=tuple(_category(m) for m in a.models),
            )
            for a in ACTIVITIES
        ),
        recipients=_recipients(),
        transfers=(
            "Haven sends nothing by itself. A disclosure goes only to an organisation of the "
            "directory above, under the survivor's consent; whether that organisation is "
            "outside the country is recorded in the consent's purpose, not by Haven."
        ),
        retention=_retention(),
        measures=_measures(),
        holdings=_holdings(),
        carers_use=_carers_use(),
    )
    event_record(actor=actor, action="processing.view")
    return record


def processing_data(record: ProcessingRecord) -> dict[str, object]:
    """The record as plain data (JSON export and API)."""

    def lines(items: Iterable[Line]) -> list[dict[str, str]]:
        return [{"label": line.label, "value": line.value} for line in items]

    return {
        "generated_at": record.generated_at.isoformat(),
        "controller": lines(record.controller),
        "activities": [
            {
                "key": a.key,
                "name": a.name,
                "purpose": a.purpose,
                "subjects": list(a.subjects),
                "categories": [
                    {
                        "model": c.model,
                        "label": c.label,
                        "items": [
                            {
                                "name": f.name,
                                "label": f.label,
                                "protection": f.protection,
                                "health": f.health,
                            }
                            for f in c.items
                        ],
                    }
                    for c in a.categories
                ],
            }
            for a in record.activities
        ],
        "recipients": [
            {
                "name": r.name,
                "verified_on": r.verified_on.isoformat() if r.verified_on else None,
                "disclosures": dict(r.disclosures),
            }
            for r in record.recipients
        ],
        "transfers": record.transfers,
        "retention": lines(record.retention),
        "measures": lines(record.measures),
        "holdings": lines(record.holdings),
        "carers_use": lines(record.carers_use),
        "scopes": {str(k): str(v) for k, v in ConsentScope.choices},
    }


def processing_csv_rows(record: ProcessingRecord) -> Iterable[list[str]]:
    """One table for a spreadsheet: section, item, detail."""
    yield ["section", "item", "detail", "protection"]
    for line in record.controller:
        yield ["controller", line.label, line.value, ""]
    for a in record.activities:
        yield ["purpose", a.name, a.purpose, ""]
        yield ["data subjects", a.name, "; ".join(a.subjects), ""]
        for c in a.categories:
            for f in c.items:
                health = " (health data)" if f.health else ""
                yield ["data", f"{a.name}: {c.label}", f.label + health, f.protection]
    for r in record.recipients:
        made = ", ".join(f"{scope}: {n}" for scope, n in sorted(r.disclosures.items()))
        yield ["recipient", r.name, made or "no disclosures yet", ""]
    yield ["transfers", "third countries", record.transfers, ""]
    for line in record.retention:
        yield ["retention", line.label, line.value, ""]
    for line in record.measures:
        yield ["security measure", line.label, line.value, ""]
    for line in record.holdings:
        yield ["holdings", line.label, line.value, ""]
    for line in record.carers_use:
        yield ["care for the carers, use", line.label, line.value, ""]
