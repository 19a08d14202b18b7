"""What goes into a referral package, gathered once for both of its formats (the FHIR
bundle in ``cases.fhir`` and the letter in ``cases.referrals``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from cases.models import Case, Consent, Encounter, Identity, Organisation

ROLE_LABELS = {
    "caseworker": "Caseworker",
    "clinician": "Clinician",
    "supervisor": "Supervisor",
}


@dataclass
class Content:
    """What goes into a package, gathered once for both formats."""

    export_id: str
    case: Case
    recipient: Organisation
    consent: Consent
    sections: list[str]
    identity: Identity | None
    encounters: list[Encounter] = field(default_factory=list)
    clinical: bool = False
    staff_names: bool = False
    exported_at: dt.datetime = field(default_factory=timezone.now)

    def staff(self, user: Any) -> str:
        if self.staff_names:
            return str(user.get_full_name() or user.username)
        return ROLE_LABELS.get(user.role, "Staff member")
