"""The private self-check (AS8-4) and "I would like to talk".

Every function here acts for one staff member, ``actor``, on what is theirs. The
answers are sealed with the actor's own staff key; the rows are found by a tag made
with that key, so no query by account id exists, for anyone. The trail records only
that a self-check happened, on which day, with no actor (``event_record_unlinked``);
so does "I would like to talk", which only the staff member's own supervisor sees.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from access.crypto.datakeys import DataKey
from access.errors import GrantError
from access.models import StaffKey, User
from access.roles import Role
from audit.services import event_record, event_record_unlinked
from carers import scale
from carers.models import SelfCheck, SelfCheckWording, TalkRequest
from haven.errors import NotFound

_TAG_LABEL = b"haven-selfcheck-owner-v1"


# --- the staff member's own key ------------------------------------------------------


def staff_key(user: User) -> DataKey:
    """``user``'s own data key, made on first use (normally at the first sign-in)."""
    row = StaffKey.objects.filter(user=user).first()
    if row is None:
        try:
            with transaction.atomic():
                row = StaffKey.with_new_key(user=user)
                row.save(force_insert=True)
        except IntegrityError:  # made at the same moment by another request
            row = StaffKey.objects.get(user=user)
    return row.data_key()


def _tag(key: DataKey) -> str:
    return hmac.new(key.secret, _TAG_LABEL, hashlib.sha256).hexdigest()


# --- the wording ---------------------------------------------------------------------


@dataclass(frozen=True)
class Wording:
    version: int
    items: dict[str, str]
    support: str
    source: str


def _wording(row: SelfCheckWording | None) -> Wording:
    if row is None:  # version 0: Haven's default labels
        return Wording(0, dict(scale.DEFAULT_WORDING), "", "")
    return Wording(row.version, dict(row.items), row.support, row.source)


def wording_current() -> Wording:
    return _wording(SelfCheckWording.objects.order_by("-version").first())


def wording_of(version: int) -> Wording:
    return _wording(SelfCheckWording.objects.filter(version=version).first())


@transaction.atomic
def wording_load(*, actor: User, items: Mapping[str, str], support: str, source: str) -> Wording:
    """A new version of the item wording and support contacts (administrators). Earlier
    self-checks keep the wording they were answered in."""
    if actor.role != Role.ADMIN:
        raise GrantError(
            "Only an administrator loads the wording.", code="permission_denied", status=403
        )
    clean = {}
    for item in scale.ITEMS:
        text = str(items.get(item, "")).strip()
        if not text or len(text) > 300 or "\x00" in text:
            raise GrantError(
                "Each of the 13 items needs a wording of at most 300 characters.",
                code="invalid",
                field=f"item_{item}",
            )
        clean[item] = text
    if len(support) > 2000 or len(source) > 300 or "\x00" in support + source:
        raise GrantError("The support contacts or the source are too long.", code="invalid")
    latest = SelfCheckWording.objects.select_for_update().order_by("-version").first()
    row = SelfCheckWording.objects.create(
        version=(latest.version if latest else 0) + 1,
        items=clean,
        support=support.strip(),
        source=source.strip(),
        loaded_by=actor,
    )
    event_record(actor=actor, action="wellbeing.wording_load", detail={"version": row.version})
    return Wording(row.version, clean, row.support, row.source)


# --- self-checks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: Any
    taken_at: dt.datetime
    answers: dict[str, int]
    wording_version: int

    @property
    def scores(self) -> dict[str, int]:
        return scale.scores(self.answers)


def clean_answers(answers: Any) -> dict[str, int]:
    """Exactly the 13 items, each a whole number from 1 to 10, or refuse."""
    if not isinstance(answers, Mapping) or set(answers) != set(scale.ITEMS):
        raise GrantError(
            "Answer each of the 13 items (a to m), from 1 to 10.", code="invalid", field="answers"
        )
    clean = {}
    for item in scale.ITEMS:
        value = answers[item]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise GrantError("Each answer is a number from 1 to 10.", code="invalid", field=item)
        if not scale.LOWEST <= value <= scale.HIGHEST:
            raise GrantError("Each answer is a number from 1 to 10.", code="invalid", field=item)
        clean[item] = value
    return clean


def _entry(row: SelfCheck) -> Entry:
    content = row.content or {}
    taken_at = parse_datetime(str(content.get("taken_at", "")))
    if taken_at is None:
        raise NotFound()
    return Entry(
        id=row.pk,
        taken_at=taken_at,
        answers={k: int(v) for k, v in dict(content.get("answers", {})).items()},
        wording_version=row.wording_version,
    )


@transaction.atomic
def selfcheck_record(*, actor: User, answers: Any) -> Entry:
    clean = clean_answers(answers)
    key = staff_key(actor)
    now = timezone.now()
    row = SelfCheck(owner_tag=_tag(key), wording_version=wording_current().version)
    row._owner_key = key
    row.content = {"taken_at": now.isoformat(), "answers": clean}
    row.save(force_insert=True)
    event_record_unlinked("wellbeing.selfcheck")
    return Entry(id=row.pk, taken_at=now, answers=clean, wording_version=row.wording_version)


def selfchecks_of(*, actor: User) -> list[Entry]:
    """The actor's own self-checks, newest first. There is no other reader."""
    key = staff_key(actor)
    entries = []
    for row in SelfCheck.objects.filter(owner_tag=_tag(key)):
        row._owner_key = key
        entries.append(_entry(row))
    return sorted(entries, key=lambda e: e.taken_at, reverse=True)


@transaction.atomic
def selfcheck_delete(*, actor: User, entry_id: Any) -> None:
    """Delete one of the actor's own self-checks. Anyone else's, or none, is 404 alike."""
    key = staff_key(actor)
    deleted, _ = SelfCheck.objects.filter(pk=entry_id, owner_tag=_tag(key)).delete()
    if not deleted:
        raise NotFound()
    event_record_unlinked("wellbeing.selfcheck_delete")


# --- "I would like to talk" ------------------------------------------------------------


def talk_open(*, actor: User) -> TalkRequest | None:
    return TalkRequest.objects.filter(user=actor, closed_at__isnull=True).first()


@transaction.atomic
def talk_request(*, actor: User) -> TalkRequest:
    """Tell the supervisor "I would like to talk"; nothing else goes with it."""
    if actor.team_id is None:
        raise GrantError(
            "You are not in a team, so there is no supervisor to tell.", code="no_team"
        )
    current = talk_open(actor=actor)
    if current is not None:
        return current
    made = TalkRequest.objects.create(user=actor)
    event_record_unlinked("wellbeing.talk_request")
    return made


@transaction.atomic
def talk_withdraw(*, actor: User) -> None:
    TalkRequest.objects.filter(user=actor, closed_at__isnull=True).update(closed_at=timezone.now())
    event_record_unlinked("wellbeing.talk_withdraw")


def talk_requests_for(*, supervisor: User) -> list[TalkRequest]:
    """Open requests of the supervisor's team members (none for anyone else)."""
    if supervisor.role != Role.SUPERVISOR or supervisor.team_id is None:
        return []
    return list(
        TalkRequest.objects.filter(
            closed_at__isnull=True, user__team_id=supervisor.team_id, user__is_active=True
        )
        .exclude(user=supervisor)
        .select_related("user")
    )


@transaction.atomic
def talk_close(*, supervisor: User, request_id: Any) -> None:
    """The supervisor and the staff member have talked."""
    if str(request_id) not in {str(r.pk) for r in talk_requests_for(supervisor=supervisor)}:
        raise NotFound()
    TalkRequest.objects.filter(pk=request_id).update(closed_at=timezone.now())
    event_record_unlinked("wellbeing.talk_close")
