"""Issue 6's figure: exporting a case with 200 encounters. Imported after django.setup()."""

from __future__ import annotations

import datetime as dt
import statistics
import time

from django.utils import timezone

from access.roles import Role
from access.services import grant_assign, staff_add
from cases.services import (
    case_open,
    consent_record,
    encounter_record,
    organisation_add,
    referral_export,
)

CLINICAL = {
    "conditions": [
        {
            "display": "Post-traumatic stress disorder",
            "code": "47505003",
            "system": "http://snomed.info/sct",
        }
    ],
    "medications": [{"display": "Sertraline 50 mg"}],
    "allergies": [{"display": "Penicillin"}],
}


def _line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<58} {value:>18}  {target}")


def measure(encounters: int = 200, runs: int = 5) -> None:
    worker = staff_add(username="bench-ref-worker", role=Role.CASEWORKER, team_slug="ref")[0]
    doctor = staff_add(username="bench-ref-doctor", role=Role.CLINICIAN, team_slug="ref")[0]
    boss = staff_add(username="bench-ref-boss", role=Role.SUPERVISOR, team_slug="ref")[0]
    organisation_add(actor=boss, name="Receiving Clinic", slug="receiving")
    case = case_open(
        actor=worker,
        identity={
            "given_name": "Bench",
            "family_name": "Person",
            "date_of_birth": dt.date(1990, 1, 1),
        },
        declined=[],
        risk_level="medium",
        trafficking_types=["labour"],
        summary="Synthetic case for the export benchmark. " * 5,
    )
    grant_assign(case=case, user=doctor, granted_by=boss)
    now = timezone.now()
    for n in range(encounters):
        encounter_record(
            actor=doctor if n % 4 == 0 else worker,
            case=case,
            occurred_at=now - dt.timedelta(days=encounters - n),
            kind="medical" if n % 4 == 0 else "follow_up",
            notes="Follow-up: discussed housing, health and next appointments. " * 4,
            clinical=CLINICAL if n % 4 == 0 else None,
        )
    consent_record(
        actor=worker,
        case=case,
        scope="referral",
        recipient_slug="receiving",
        purpose="Continuing medical care",
        method="written",
        identity=True,
        given_at=now - dt.timedelta(hours=1),
    )
    for fmt in ("fhir", "pdf"):
        timings, size = [], 0
        for _ in range(runs):
            start = time.perf_counter()
            referral, _ = referral_export(
                actor=doctor,
                case=case,
                recipient_slug="receiving",
                purpose="Continuing medical care",
                sections=["summary", "encounters", "clinical"],
                include_identity=True,
                fmt=fmt,
            )
            timings.append(time.perf_counter() - start)
            size = len(referral.package.content)
        _line(
            f"export of a {encounters}-encounter case as {fmt}, all sections, median",
            f"{statistics.median(timings) * 1e3:,.0f} ms",
            "target < 2 s",
        )
        _line(f"  package size ({fmt})", f"{size / 1024:,.0f} KiB")
