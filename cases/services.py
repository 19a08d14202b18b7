"""Writes on the case domain. Each service checks the policy, validates in full, writes
its own access event in the same transaction, and keeps history of what it replaces."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from access import policy
from access.crypto import blind
from access.crypto.datakeys import WrappedDataKey, forget_data_key, new_data_key
from access.models import User
from access.roles import Capability
from access.services import grant_assign
from audit.services import event_record
from cases.errors import NoTeam, StaleVersion
from cases.models import (
    IDENTITY_FIELDS,
    BlindIndexEntry,
    Case,
    Encounter,
    Identity,
    Revision,
    Survivor,
)
from cases.references import new_reference

ENCOUNTER_EDITABLE = (
    "occurred_at",
    "kind",
    "location",
    "interpreter_used",
    "notes",
    "services_provided",
    "follow_up_date",
)


def _require(actor: User, capability: Capability) -> None:
    # Views check (and log) first; this guards services called from anywhere else.
    if not policy.can(actor, capability):
        raise PermissionDenied


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def _save_next_version(record: Identity | Encounter) -> None:
    """Save an edited record as its next version (the caller holds its row lock and has
    already kept the replaced values as a Revision)."""
    record.version += 1
    record.updated_at = timezone.now()
    record.full_clean()
    record.save()


def identity_index(identity: Identity) -> None:
    """(Re)write the blind-index rows of one identity under every index key in the
    keyring (during an index-key rebuild there are two)."""
    identities_index([identity], key_ids=None)


def identities_index(identities: list[Identity], *, key_ids: list[str] | None) -> None:
    """(Re)write blind-index rows for many identities at once, under ``key_ids`` only
    (an index-key rebuild) or every key in the keyring (None). Callers hold the
    identities' row locks, so a concurrent correction cannot be overwritten."""
    survivor_ids = [identity.survivor_id for identity in identities]
    stale = BlindIndexEntry.objects.filter(survivor_id__in=survivor_ids)
    if key_ids is not None:
        stale = stale.filter(key_id__in=key_ids)
    stale.delete()
    rows = []
    for identity in identities:
        for field in blind.INDEXED_FIELDS:
            for key_id, digest in blind.digests_for(field, getattr(identity, field)).items():
                if key_ids is None or key_id in key_ids:
                    rows.append(
                        BlindIndexEntry(
                            survivor_id=identity.survivor_id,
                            field=field,
                            key_id=key_id,
                            digest=digest,
                        )
                    )
    BlindIndexEntry.objects.bulk_create(rows, batch_size=2000)


def _survivor_create() -> Survivor:
    for _ in range(10):
        survivor = Survivor(reference=new_reference())
        wrapped, key = new_data_key(survivor.id)
        survivor.kek_id, survivor.dek_id, survivor.wrapped_dek = (
            wrapped.kek_id,
            wrapped.dek_id,
            wrapped.blob,
        )
        survivor._data_key = key
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
) -> Case:
    """Intake: a new survivor with a pseudonymous reference, their identity (every field
    optional), and a case in the actor's team with the actor assigned."""
    _require(actor, Capability.CASE_CREATE)
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
    return case


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
    _require(actor, Capability.IDENTITY_WRITE)
    record = (
        Identity.objects.select_for_update(of=("self",))
        .select_related("survivor")
        .get(survivor_id=case.survivor_id)
    )
    if expected_version is not None and record.version != expected_version:
        raise StaleVersion(
            "The identity was changed by someone else since you read it.",
            current_version=record.version,
        )
    fields = set(changes) | ({"declined"} if declined is not None else set())
    previous = {name: _jsonable(getattr(record, name)) for name in sorted(fields)}
    for name, value in changes.items():
        setattr(record, name, value)
    if declined is not None:
        record.declined = sorted(set(declined)) or None
    Revision.objects.create(
        survivor_id=case.survivor_id,
        subject=Revision.Subject.IDENTITY,
        object_id=record.pk,
        version=record.version,
        changed_by=actor,
        previous=previous,
    )
    _save_next_version(record)
    identity_index(record)
    event_record(
        actor=actor,
        action="identity.update",
        case_reference=case.reference,
        detail={"fields": sorted(fields)},
    )
    return record


@transaction.atomic
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
    clinical: dict[str, Any] | None = None,
) -> Encounter:
    _require(actor, Capability.ENCOUNTER_WRITE)
    if clinical is not None:
        _require(actor, Capability.CLINICAL)
    encounter = Encounter(
        case=case,
        occurred_at=occurred_at,
        kind=kind,
        notes=notes,
        location=location,
        interpreter_used=interpreter_used,
        services_provided=sorted(set(services_provided or [])) or None,
        follow_up_date=follow_up_date,
        clinical=clinical,
        author=actor,
    )
    encounter.full_clean()
    encounter.save(force_insert=True)
    event_record(
        actor=actor,
        action="encounter.create",
        case_reference=case.reference,
        detail={"clinical": clinical is not None},
    )
    return encounter


@transaction.atomic
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
    _require(actor, Capability.ENCOUNTER_WRITE)
    if clinical_given:
        _require(actor, Capability.CLINICAL)
    unknown = set(changes) - set(ENCOUNTER_EDITABLE)
    if unknown:
        raise ValueError(f"fields not editable: {sorted(unknown)}")
    encounter = (
        Encounter.objects.select_for_update(of=("self",))
        .select_related("case__survivor")
        .get(pk=encounter_id, case=case)
    )
    if encounter.version != expected_version:
        raise StaleVersion(
            "This encounter was changed by someone else since you opened it.",
            current_version=encounter.version,
        )
    Revision.objects.create(
        survivor_id=case.survivor_id,
        subject=Revision.Subject.ENCOUNTER,
        object_id=encounter.pk,
        version=encounter.version,
        changed_by=actor,
        previous={name: _jsonable(getattr(encounter, name)) for name in sorted(changes)},
        previous_clinical=encounter.clinical if clinical_given else None,
    )
    for name, value in changes.items():
        if name == "services_provided":
            value = sorted(set(value or [])) or None
        setattr(encounter, name, value)
    if clinical_given:
        encounter.clinical = clinical
    _save_next_version(encounter)
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
