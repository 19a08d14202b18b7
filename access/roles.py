"""Roles as data: the one table that says what each role may do.

Both the web pages and the API ask this table (through ``access.policy``); nothing else
in the code decides what a role can do. A capability is necessary, never sufficient:
reading a case also needs a per-record relation (see ``access.policy``).
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CASEWORKER = "caseworker", _("Caseworker")
    CLINICIAN = "clinician", _("Clinician")
    SUPERVISOR = "supervisor", _("Supervisor")
    DPO = "dpo", _("Data protection officer")
    ADMIN = "admin", _("Administrator")


class Capability(StrEnum):
    CASE_CREATE = "case.create"
    CASE_READ = "case.read"
    CASE_WRITE = "case.write"
    CASE_CLOSE = "case.close"
    IDENTITY_READ = "identity.read"
    IDENTITY_WRITE = "identity.write"
    ENCOUNTER_WRITE = "encounter.write"
    CLINICAL = "clinical.read_write"
    GRANT_MANAGE = "grant.manage"
    BREAK_GLASS = "break_glass.use"
    REFERRAL_EXPORT = "referral.export"
    ORGANISATION_MANAGE = "organisation.manage"
    AUDIT_REVIEW = "audit.review"
    STAFF_ADMIN = "staff.admin"
    LEGAL_HOLD = "legal_hold.place"
    LEGAL_HOLD_RELEASE = "legal_hold.release"
    SUBJECT_REQUEST_DECIDE = "subject_request.decide"
    STATISTICS = "statistics.view"
    PROCESSING_RECORDS = "processing.view"


_CASE_WORK = {
    Capability.CASE_READ,
    Capability.CASE_WRITE,
    Capability.CASE_CLOSE,
    Capability.IDENTITY_READ,
    Capability.IDENTITY_WRITE,
    Capability.ENCOUNTER_WRITE,
    Capability.BREAK_GLASS,
}

ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.CASEWORKER: frozenset(_CASE_WORK | {Capability.CASE_CREATE}),
    Role.CLINICIAN: frozenset(_CASE_WORK | {Capability.CLINICAL, Capability.REFERRAL_EXPORT}),
    Role.SUPERVISOR: frozenset(
        _CASE_WORK
        | {
            Capability.CASE_CREATE,
            Capability.GRANT_MANAGE,
            Capability.REFERRAL_EXPORT,
            Capability.ORGANISATION_MANAGE,
            Capability.LEGAL_HOLD,
            Capability.STATISTICS,
        }
    ),
    # The DPO and the administrator never read case content or identity.
    Role.DPO: frozenset(
        {
            Capability.AUDIT_REVIEW,
            Capability.LEGAL_HOLD,
            Capability.LEGAL_HOLD_RELEASE,
            Capability.SUBJECT_REQUEST_DECIDE,
            Capability.STATISTICS,
            Capability.PROCESSING_RECORDS,
        }
    ),
    Role.ADMIN: frozenset({Capability.STAFF_ADMIN, Capability.ORGANISATION_MANAGE}),
}

CASE_ROLES = frozenset(
    role for role, caps in ROLE_CAPABILITIES.items() if Capability.CASE_READ in caps
)


def capabilities_of(role: str) -> frozenset[Capability]:
    """Unknown or empty roles have no capabilities (deny by default)."""
    return ROLE_CAPABILITIES.get(role, frozenset())
