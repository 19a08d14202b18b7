"""Services on the survivor's records: intake (with the duplicate check), search,
identity corrections, encounters, and crypto-shredding. Each checks the policy,
validates in full, writes its own access event in the same transaction, and keeps
history of what it replaces."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from access import keystore, policy
from access.crypto import blind
from access.crypto.datakeys import WrappedDataKey, forget_data_key
from access.models import User
from access.roles import Capability
from access.services import grant_assign
from audit.models import Outcome
from audit.services import event_record
from cases import selectors
from cases.errors import NoTeam
from cases.models import (
    IDENTITY_FIELDS,
    BlindIndexEntry,
    Case,
    Encounter,
    Identity,
    Revision,
    RiskLevel,
    Survivor,
)
from cases.services.common import (
    check_version,
    keep_revision,
    locked_case,
    require,
    require_recording,
    save_next_version,
)
from cases.services.disclosure import consent_record
from haven.references import new_reference

ENCOUNTER_EDITABLE = (
    "occurred_at",
    "kind",
    "location",
    "interpreter_used",
    "notes",
    "services_provided",
    "follow_up_date",
    "care_critical",
)


def identity_index(identity: Identity) -> None:
    """(Re)write the blind-index rows of one identity under every index key in the
    keyring (during an index-key rebuild there are two)."""
    identities_index([identity], key_ids=None)


def identities_index(identities: list[Identity], *, key_ids: list[str] | None) -> None:
    """(Re)write blind-index rows for many identities at once, under ``key_ids`` only
    (an index-key rebuild) or every key in the keyring (None). Callers hold the
    identities' row locks, so a concurrent correction cannot be overwritten."""
    keys = [k for k in keystore.index_keys() if key_ids is None or k.key_id in key_ids]
    survivor_ids = [identity.survivor_id for identity in identities]
    stale = BlindIndexEntry.objects.filter(survivor_id__in=survivor_ids)
    if key_ids is not None:
        stale = stale.filter(key_id__in=key_ids)
    stale.delete()
    rows = []
    for identity in identities:
        for key in keys:
            for field, digest in _digests(identity, key):
                rows.append(
                    BlindIndexEntry(
                        survivor_id=identity.survivor_id,
                        field=field,
                        key_id=key.key_id,
                        digest=digest,
                    )
                )
    BlindIndexEntry.objects.bulk_create(rows, batch_size=2000)


def _digests(identity: Identity, key: keystore.IndexKey) -> set[tuple[str, int]]:
    """The exact digests of the indexed fields, and one folded digest per distinct word
    of the person's names (``name_token``)."""
    out: set[tuple[str, int]] = set()
    for field in blind.INDEXED_FIELDS:
        normalised = blind.normalise(field, getattr(identity, field))
        if normalised is not None:
            out.add((field, key.digest(field, normalised)))
    words = blind.name_tokens([getattr(identity, name) for name in blind.NAME_SOURCES])
    out.update((blind.NAME_TOKEN, key.digest(blind.NAME_TOKEN, word)) for word in words)
    return out


def _survivor_create() -> Survivor:
    for _ in range(10):
        survivor = Survivor.with_new_key(new_reference())
        try:
            with transaction.atomic():
                survivor.save(force_insert=True)
        except IntegrityError:
            continue  # reference collision (about 1 in 34 billion): draw again
        return survivor
    raise RuntimeError("could not allocate a unique reference")


@transaction.atomic
def case_open(
    *,
    actor: User,
    identity: Mapping[str, Any],
    declined: list[str],
    risk_level: str,
    trafficking_types: list[str],
    summary: str | None = None,
    referral_source: str | None = None,
    storage_consent: Mapping[str, Any] | None = None,
) -> Case:
    """Intake: a new survivor with a pseudonymous reference, their identity (every field
    optional), and a case in the actor's team with the actor assigned. The consent to
    store the information, how it was given and whether an interpreter was used, is
    recorded with it (AS9-COL-2)."""
    require(actor, Capability.CASE_CREATE)
    if actor.team_id is None:
        raise NoTeam("You must belong to a team to open a case.")
    unknown = set(identity) - set(IDENTITY_FIELDS)
    if unknown:
        raise ValueError(f"unknown identity fields: {sorted(unknown)}")
    survivor = _survivor_create()
    record = Identity(survivor=survivor, declined=sorted(set(declined)) or None, **identity)
    record.full_clean()
    record.save(force_insert=True)
    identity_index(record)
    case = Case(
        survivor=survivor,
        team_id=actor.team_id,
        risk_level=risk_level,
        trafficking_types=sorted(set(trafficking_types)),
        summary=summary,
        referral_source=referral_source,
        created_by=actor,
    )
    case.full_clean()
    case.save(force_insert=True)
    grant_assign(case=case, user=actor, granted_by=actor, reason="intake")
    event_record(actor=actor, action="case.create", case_reference=survivor.reference)
    if storage_consent is not None:
        consent_record(
            actor=actor,
            case=case,
            scope="storage",
            method=storage_consent["method"],
            interpreter_used=bool(storage_consent.get("interpreter_used", False)),
            given_at=timezone.now(),
        )
    return case


@dataclass
class Intake:
    """What an intake produced: the case (None when it stopped at possible duplicates)
    and the duplicates found (references the actor may open, and whether others exist)."""

    case: Case | None
    duplicates: selectors.DuplicateReport


def case_intake(
    *,
    actor: User,
    identity: Mapping[str, Any],
    declined: list[str],
    risk_level: str = RiskLevel.MEDIUM,
    trafficking_types: list[str] | None = None,
    summary: str | None = None,
    referral_source: str | None = None,
    storage_consent: Mapping[str, Any] | None = None,
    duplicates: Literal["report", "stop", "skip"] = "report",
) -> Intake:
    """Intake, whatever the interface: check for possible duplicates of the person
    (recorded; matches in cases the actor may not open are recorded against those
    cases), then open the case. ``duplicates``: "report" opens it anyway and reports
    the matches (the API), "stop" opens nothing when there are matches (the page asks
    first), "skip" opens it without checking (the person was confirmed as new)."""
    require(actor, Capability.CASE_CREATE)
    Identity.check_declined(identity, declined)
    found = selectors.DuplicateReport()
    if duplicates != "skip":
        found = selectors.possible_duplicates(user=actor, identity=identity)
        policy.record_duplicate_check(
            actor,
            readable=[c.reference for c in found.readable],
            elsewhere=[c.reference for c in found.elsewhere],
        )
        if found and duplicates == "stop":
            return Intake(case=None, duplicates=found)
    case = case_open(
        actor=actor,
        identity=identity,
        declined=declined,
        risk_level=risk_level,
        trafficking_types=trafficking_types or [],
        summary=summary,
        referral_source=referral_source,
        storage_consent=storage_consent,
    )
    return Intake(case=case, duplicates=found)


def case_search(*, actor: User, criteria: Mapping[str, object]) -> list[Case]:
    """Exact identity search among the cases ``actor`` may read, for roles that see
    identity. The event records which fields were searched and how many results came
    back, never the values."""
    policy.require_capability(actor, Capability.IDENTITY_READ, action="case.search")
    found = selectors.case_search_for(user=actor, criteria=criteria)
    policy.record_list(actor, action="case.search", count=len(found), fields=list(criteria))
    return found


@transaction.atomic
def identity_rectify(
    *,
    actor: User,
    case: Case,
    changes: Mapping[str, Any],
    declined: list[str] | None = None,
    expected_version: int | None = None,
) -> Identity:
    """Correct identity fields; the replaced values are kept, encrypted (AS9-END-4)."""
    require(actor, Capability.IDENTITY_WRITE)
    record = (
        Identity.objects.select_for_update(of=("self",))
        .select_related("survivor")
        .get(survivor_id=case.survivor_id)
    )
    check_version(record, expected_version, "identity")
    fields = set(changes) | ({"declined"} if declined is not None else set())
    keep_revision(
        case=case, subject=Revision.Subject.IDENTITY, record=record, fields=fields, actor=actor
    )
    for name, value in changes.items():
        setattr(record, name, value)
    if declined is not None:
        record.declined = sorted(set(declined)) or None
    save_next_version(record)
    identity_index(record)
    event_record(
        actor=actor,
        action="identity.update",
        case_reference=case.reference,
        detail={"fields": sorted(fields)},
    )
    return record


def _clinical_allowed(actor: User, case: Case) -> None:
    """A clinical block is written only by clinicians (AS9-STO-4; the caller has checked
    their relation to the case). The attempt is recorded either way, before the write's
    own transaction, so that a refusal stays in the trail."""
    if not policy.can(actor, Capability.CLINICAL):
        event_record(
            actor=actor,
            action="clinical.update",
            outcome=Outcome.DENIED,
            case_reference=case.reference,
            reason="capability",
        )
        raise PermissionDenied
    event_record(actor=actor, action="clinical.update", case_reference=case.reference)


def _refresh_follow_up(case: Case) -> None:
    """The case's follow-up date is its latest encounter's (the caller holds the case's
    row lock, so concurrent encounters cannot leave it stale)."""
    latest = (
        Encounter.objects.filter(case_id=case.pk)
        .order_by("-occurred_at", "-created_at")
        .values_list("follow_up_date", flat=True)
        .first()
    )
    if case.follow_up_on != latest:
        case.follow_up_on = latest
        case.save(update_fields=["follow_up_on"])


def encounter_record(
    *,
    actor: User,
    case: Case,
    occurred_at: dt.datetime,
    kind: str,
    notes: str | None = None,
    location: str | None = None,
    interpreter_used: bool = False,
    services_provided: list[str] | None = None,
    follow_up_date: dt.date | None = None,
    care_critical: bool = False,
    clinical: dict[str, Any] | None = None,
) -> Encounter:
    require(actor, Capability.ENCOUNTER_WRITE)
    require_recording(case, care_critical=care_critical)
    if clinical is not None:
        _clinical_allowed(actor, case)  # outside the write, so that a refusal stays
    with transaction.atomic():
        current = locked_case(case)
        require_recording(current, care_critical=care_critical)
        encounter = Encounter(
            case=current,
            occurred_at=occurred_at,
            kind=kind,
            notes=notes,
            location=location,
            interpreter_used=interpreter_used,
            services_provided=sorted(set(services_provided or [])) or None,
            follow_up_date=follow_up_date,
            care_critical=care_critical,
            clinical=clinical,
            author=actor,
        )
        encounter.full_clean()
        encounter.save(force_insert=True)
        _refresh_follow_up(current)
        event_record(
            actor=actor,
            action="encounter.create",
            case_reference=case.reference,
            detail={"clinical": clinical is not None, "care_critical": care_critical},
        )
    return encounter


def encounter_update(
    *,
    actor: User,
    case: Case,
    encounter_id: Any,
    expected_version: int,
    changes: Mapping[str, Any],
    clinical: dict[str, Any] | None = None,
    clinical_given: bool = False,
) -> Encounter:
    """Apply ``changes`` if nobody saved since ``expected_version``; otherwise refuse
    with ``StaleVersion`` and change nothing (no edit is ever silently lost)."""
    require(actor, Capability.ENCOUNTER_WRITE)
    unknown = set(changes) - set(ENCOUNTER_EDITABLE)
    if unknown:
        raise ValueError(f"fields not editable: {sorted(unknown)}")
    existing = selectors.encounter_for(case=case, encounter_id=encounter_id)  # 404 if not
    care_critical = bool(changes.get("care_critical", existing.care_critical))
    require_recording(case, care_critical=care_critical)
    if clinical_given:
        _clinical_allowed(actor, case)  # outside the write, so that a refusal stays
    with transaction.atomic():
        current = locked_case(case)
        require_recording(current, care_critical=care_critical)
        encounter = (
            Encounter.objects.select_for_update(of=("self",))
            .select_related("case__survivor")
            .get(pk=encounter_id, case=case)
        )
        check_version(encounter, expected_version, "encounter")
        keep_revision(
            case=case,
            subject=Revision.Subject.ENCOUNTER,
            record=encounter,
            fields=changes,
            actor=actor,
            previous_clinical=encounter.clinical if clinical_given else None,
        )
        for name, value in changes.items():
            if name == "services_provided":
                value = sorted(set(value or [])) or None
            setattr(encounter, name, value)
        if clinical_given:
            encounter.clinical = clinical
        save_next_version(encounter)
        _refresh_follow_up(current)
        event_record(
            actor=actor,
            action="encounter.update",
            case_reference=case.reference,
            detail={"fields": sorted(changes), "clinical": clinical_given},
        )
    return encounter


@transaction.atomic
def survivor_shred(*, case: Case, actor: User | None = None) -> None:
    """Crypto-shredding: destroy the survivor's data key and blind indexes.

    The ciphertext stays where it is, in the database and in every backup, and can no
    longer be read by anyone; no other survivor's key is touched (AS9-END-3). Who may
    ask for this and who approves it is the erasure workflow's business, not this one's.
    """
    survivor = Survivor.objects.select_for_update().get(pk=case.survivor_id)
    if survivor.wrapped_dek is not None:
        forget_data_key(
            WrappedDataKey(
                dek_id=survivor.dek_id, kek_id=survivor.kek_id, blob=bytes(survivor.wrapped_dek)
            )
        )
    survivor.wrapped_dek = None
    survivor.kek_id = ""
    survivor.shredded_at = survivor.shredded_at or timezone.now()
    survivor.save(update_fields=["wrapped_dek", "kek_id", "shredded_at"])
    BlindIndexEntry.objects.filter(survivor=survivor).delete()
    event_record(actor=actor, action="survivor.shred", case_reference=survivor.reference)
