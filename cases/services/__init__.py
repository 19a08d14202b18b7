"""Writes on the case domain, one module per part of the work. Each service checks the
policy, validates in full, writes its own access event in the same transaction, and
keeps history of what it replaces. Interfaces call them as ``services.<name>``."""

from cases.services.attachments import AttachmentFile, attachment_add, attachment_open
from cases.services.care import (
    goal_add,
    goal_update,
    referral_status,
    service_add,
    service_update,
    task_add,
    task_update,
)
from cases.services.disclosure import (
    REFERRAL_AVAILABLE,
    consent_record,
    consent_withdraw,
    organisation_add,
    referral_consent,
    referral_download,
    referral_export,
    referral_packages_purge,
)
from cases.services.lifecycle import (
    CASE_EDITABLE,
    case_close,
    case_reopen,
    case_update,
    open_work,
    retention_from,
)
from cases.services.records import (
    ENCOUNTER_EDITABLE,
    Intake,
    case_intake,
    case_open,
    case_search,
    encounter_record,
    encounter_update,
    identities_index,
    identity_index,
    identity_rectify,
    survivor_shred,
)

__all__ = [
    "CASE_EDITABLE",
    "ENCOUNTER_EDITABLE",
    "REFERRAL_AVAILABLE",
    "AttachmentFile",
    "Intake",
    "attachment_add",
    "attachment_open",
    "case_close",
    "case_intake",
    "case_open",
    "case_reopen",
    "case_search",
    "case_update",
    "consent_record",
    "consent_withdraw",
    "encounter_record",
    "encounter_update",
    "goal_add",
    "goal_update",
    "identities_index",
    "identity_index",
    "identity_rectify",
    "open_work",
    "organisation_add",
    "referral_consent",
    "referral_download",
    "referral_export",
    "referral_packages_purge",
    "referral_status",
    "retention_from",
    "service_add",
    "service_update",
    "survivor_shred",
    "task_add",
    "task_update",
]
