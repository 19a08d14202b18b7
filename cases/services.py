"""Writes on the case domain. Each service checks the policy, validates in full, writes
its own access event in the same transaction, and keeps history of what it replaces."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from access import policy
from access.crypto import blind
from access.crypto.datakeys import WrappedDataKey, forget_data_key
from access.models import User
from access.roles import Capability
from access.services import grant_assign
from audit.models import Outcome
from audit.services import event_record
from cases.errors import ConsentRequired, DomainError, NoTeam, PackageGone, StaleVersion
from cases.models import (
    FORM_MAX_BYTES,
    IDENTITY_FIELDS,
    BlindIndexEntry,
    Case,
    Consent,
    Encounter,
    Identity,
    Organisation,
    Referral,
    ReferralPackage,
    Revision,
    Survivor,
    scanned_form_type,
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


@transaction.atomic
def organisation_add(
    *,
    actor: User,
    name: str,
    slug: str,
    contact: str = "",
    languages: list[str] | None = None,
    services: list[str] | None = None,
    verified_on: dt.date | None = None,
) -> Organisation:
    _require(actor, Capability.ORGANISATION_MANAGE)
    if Organisation.objects.filter(slug=slug).exists():
        raise DomainError("An organisation with this slug exists already.", field="slug")
    organisation = Organisation(
        name=name,
        slug=slug,
        contact=contact,
        languages=languages or [],
        services=services or [],
        verified_on=verified_on,
    )
    organisation.full_clean()
    organisation.save()
    event_record(
        actor=actor, action="organisation.add", detail={"organisation_id": organisation.pk}
    )
    return organisation


@transaction.atomic
def consent_record(
    *,
    actor: User,
    case: Case,
    scope: str,
    method: str,
    given_at: dt.datetime,
    recipient_slug: str | None = None,
    purpose: str | None = None,
    identity: bool = False,
    interpreter_used: bool = False,
    expires_at: dt.datetime | None = None,
    form: bytes | None = None,
) -> Consent:
    """Record what the survivor agreed to (AS9-COL-2, AS9-TRF-1), with the scanned
    signed form if there is one (encrypted under the survivor's key)."""
    _require(actor, Capability.CASE_WRITE)
    recipient = None
    if recipient_slug:
        recipient = Organisation.objects.filter(slug=recipient_slug).first()
        if recipient is None:
            raise DomainError("No organisation in the directory has that slug.", field="recipient")
    form_type = ""
    if form is not None:
        if len(form) > FORM_MAX_BYTES:
            raise DomainError("The scanned form is larger than 5 MB.", field="form")
        form_type = scanned_form_type(form) or ""
        if not form_type:
            raise DomainError("The scanned form must be a PDF, PNG or JPEG.", field="form")
    consent = Consent(
        case=case,
        scope=scope,
        recipient=recipient,
        form=form,
        form_type=form_type,
        purpose=purpose,
        identity=identity,
        method=method,
        interpreter_used=interpreter_used,
        recorded_by=actor,
        given_at=given_at,
        expires_at=expires_at,
    )
    consent.full_clean()
    consent.save(force_insert=True)
    event_record(
        actor=actor,
        action="consent.record",
        case_reference=case.reference,
        detail={"scope": scope, "identity": identity},
    )
    return consent


@transaction.atomic
def consent_withdraw(*, actor: User, case: Case, consent_id: Any, reason: str | None) -> Consent:
    """Withdrawal stops every further disclosure under this consent, at once."""
    _require(actor, Capability.CASE_WRITE)
    consent = (
        Consent.objects.select_for_update(of=("self",))
        .select_related("case__survivor")
        .filter(pk=consent_id, case=case)
        .first()
    )
    if consent is None:
        raise DomainError("No such consent on this case.", status=404)
    if consent.withdrawn_at is None:
        consent.withdrawn_at = timezone.now()
        consent.withdrawal_reason = reason
        consent.full_clean()
        consent.save()
        event_record(
            actor=actor,
            action="consent.withdraw",
            case_reference=case.reference,
            detail={"scope": consent.scope},
        )
    return consent


REFERRAL_AVAILABLE = dt.timedelta(hours=24)


@transaction.atomic
def referral_export(
    *,
    actor: User,
    case: Case,
    recipient_slug: str,
    purpose: str,
    sections: list[str],
    include_identity: bool,
    fmt: str,
    staff_names: bool = False,
    encounters_from: dt.date | None = None,
    encounters_to: dt.date | None = None,
    preview_only: bool = False,
) -> tuple[Referral, str | None]:
    """Build a referral package, only under a consent valid now for this recipient and
    purpose (AS9-TRF-1, AS9-USE-3), record the disclosure (AS9-TRF-4), and keep the
    package, encrypted, until it is downloaded once. Returns (referral, passphrase)."""
    from cases import referrals, selectors

    _require(actor, Capability.REFERRAL_EXPORT)
    referral_packages_purge()
    recipient = Organisation.objects.filter(slug=recipient_slug).first()
    if recipient is None:
        raise DomainError("No organisation in the directory has that slug.", field="recipient")
    now = timezone.now()
    consent = selectors.consent_covering(case=case, recipient=recipient, scope=purpose, at=now)
    if consent is None:
        raise ConsentRequired(f"No valid {purpose} consent names {recipient.name} at this moment.")
    if include_identity and not consent.identity:
        raise ConsentRequired("The consent does not cover sharing identifying details.")
    clinical = "clinical" in sections
    if clinical and not policy.can(actor, Capability.CLINICAL):
        raise PermissionDenied
    referral = Referral(
        case=case,
        recipient=recipient,
        purpose=purpose,
        sections=sorted(set(sections)),
        include_identity=include_identity,
        staff_names=staff_names,
        consent=consent,
        format=fmt,
        exported_by=actor,
        exported_at=now,
        available_until=now + REFERRAL_AVAILABLE,
    )
    wanted_encounters = "encounters" in sections or clinical
    timeline = selectors.encounters_for(case=case).order_by("occurred_at")
    if encounters_from is not None:
        timeline = timeline.filter(occurred_at__date__gte=encounters_from)
    if encounters_to is not None:
        timeline = timeline.filter(occurred_at__date__lte=encounters_to)
    content = referrals.Content(
        export_id=str(referral.id),
        case=case,
        recipient=recipient,
        consent=consent,
        sections=referral.sections + (["encounters"] if clinical else []),
        identity=selectors.identity_for(case=case) if include_identity else None,
        encounters=list(timeline) if wanted_encounters else [],
        clinical=clinical,
        staff_names=staff_names,
        exported_at=now,
    )
    if preview_only:
        referral.preview_lines = referrals.letter_lines(content)  # type: ignore[attr-defined]
        event_record(
            actor=actor,
            action="referral.preview",
            case_reference=case.reference,
            detail={"sections": referral.sections, "identity": include_identity},
        )
        return referral, None
    passphrase = None
    if fmt == "pdf":
        passphrase = referrals.new_passphrase()
        package = referrals.pdf_letter(content, passphrase)
    else:
        package = referrals.fhir_bundle(content)
    referral.sha256 = hashlib.sha256(package).hexdigest()
    referral.full_clean()
    referral.save(force_insert=True)
    ReferralPackage(referral=referral, content=package).save(force_insert=True)
    event_record(
        actor=actor,
        action="referral.export",
        case_reference=case.reference,
        detail={
            "format": fmt,
            "sections": referral.sections,
            "identity": include_identity,
            "purpose": purpose,
        },
    )
    return referral, passphrase


def referral_download(*, actor: User, referral_id: Any) -> tuple[Referral, bytes]:
    """The package, once, to its exporter, within its time; then it is deleted and only
    the disclosure record remains (AS9-TRF-3). A refusal is recorded after the
    transaction, so that it stays in the trail."""
    try:
        referral, content = _referral_take(actor=actor, referral_id=referral_id)
    except DomainError:
        event_record(
            actor=actor, action="referral.download", outcome=Outcome.DENIED, reason="not_found"
        )
        raise
    if content is None:
        event_record(
            actor=actor,
            action="referral.download",
            outcome=Outcome.DENIED,
            case_reference=referral.case.reference,
            reason="gone",
        )
        raise PackageGone("This package was already downloaded or has expired.")
    return referral, content


@transaction.atomic
def _referral_take(*, actor: User, referral_id: Any) -> tuple[Referral, bytes | None]:
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("case__survivor", "recipient")
        .filter(pk=referral_id, exported_by=actor)
        .first()
    )
    if referral is None:
        raise DomainError("No such export of yours.", status=404)
    package = ReferralPackage.objects.filter(referral=referral).first()
    if referral.downloaded_at is not None or referral.available_until <= timezone.now():
        if package is not None:
            package.delete()  # expired: nothing is kept beyond its time
        return referral, None
    if package is None:
        return referral, None
    package.referral = referral
    content = package.content
    referral.downloaded_at = timezone.now()
    referral.save(update_fields=["downloaded_at"])
    package.delete()
    event_record(
        actor=actor,
        action="referral.download",
        case_reference=referral.case.reference,
        detail={"format": referral.format},
    )
    return referral, content


def referral_packages_purge(*, progress: Any = None) -> int:
    """Delete every package past its time (downloaded ones are already gone). Runs at
    each export and from ``manage.py purge_referral_packages`` (cron)."""
    expired = list(
        ReferralPackage.objects.filter(referral__available_until__lte=timezone.now()).values_list(
            "pk", flat=True
        )
    )
    for start in range(0, len(expired), 500):
        chunk = expired[start : start + 500]
        ReferralPackage.objects.filter(pk__in=chunk).delete()
        if progress is not None:
            progress(len(chunk))
    if expired:
        event_record(actor=None, action="referral.purge", detail={"packages": len(expired)})
    return len(expired)
