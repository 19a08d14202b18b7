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

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

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
    language: str  # the language these texts are in


def _wording(row: SelfCheckWording | None, language: str | None) -> Wording:
    wanted = language or translation.get_language() or settings.LANGUAGE_CODE
    if row is None:  # version 0: Haven's default labels, in Haven's catalogue
        with translation.override(wanted):
            items = {item: str(text) for item, text in scale.DEFAULT_WORDING.items()}
        return Wording(0, items, "", "", wanted)
    texts = (row.translations or {}).get(wanted)
    if texts:
        return Wording(
            row.version, dict(texts["items"]), str(texts.get("support", "")), row.source, wanted
        )
    return Wording(row.version, dict(row.items), row.support, row.source, row.language)


def wording_current(language: str | None = None) -> Wording:
    """The wording in use, in ``language`` (the reader's) when the organisation has
    published it in that language, else in its default language."""
    return _wording(SelfCheckWording.objects.order_by("-version").first(), language)


def wording_of(version: int, language: str | None = None) -> Wording:
    return _wording(SelfCheckWording.objects.filter(version=version).first(), language)


@transaction.atomic
def wording_load(
    *,
    actor: User,
    items: Mapping[str, str],
    support: str,
    source: str,
    language: str | None = None,
) -> Wording:
    """A new version of the item wording and support contacts in one language
    (administrators); the other languages' texts carry over from the version before.
    Earlier self-checks keep the version, and the language, they were answered in."""
    language = language or settings.LANGUAGE_CODE
    if language not in settings.HAVEN_LANGUAGES:
        raise GrantError(
            _("Choose one of the interface languages this organisation offers."),
            code="invalid",
            field="language",
        )
    if actor.role != Role.ADMIN:
        raise GrantError(
            _("Only an administrator loads the wording."), code="permission_denied", status=403
        )
    clean = {}
    for item in scale.ITEMS:
        text = str(items.get(item, "")).strip()
        if not text or len(text) > 300 or "\x00" in text:
            raise GrantError(
                _("Each of the 13 items needs a wording of at most 300 characters."),
                code="invalid",
                field=f"item_{item}",
            )
        clean[item] = text
    if len(support) > 2000 or len(source) > 300 or "\x00" in support + source:
        raise GrantError(_("The support contacts or the source are too long."), code="invalid")
    latest = SelfCheckWording.objects.select_for_update().order_by("-version").first()
    translations = dict(latest.translations or {}) if latest else {}
    default = settings.LANGUAGE_CODE
    if language == default:
        base_items, base_support = clean, support.strip()
    else:
        translations[language] = {"items": clean, "support": support.strip()}
        if latest is not None:
            base_items, base_support = dict(latest.items), latest.support
        else:  # the first version, loaded in another language: Haven's labels as default
            with translation.override(default):
                base_items = {item: str(text) for item, text in scale.DEFAULT_WORDING.items()}
            base_support = ""
    row = SelfCheckWording.objects.create(
        version=(latest.version if latest else 0) + 1,
        items=base_items,
        support=base_support,
        source=source.strip(),
        language=default,
        translations=translations,
        loaded_by=actor,
    )
    event_record(
        actor=actor,
        action="wellbeing.wording_load",
        detail={"version": row.version, "language": language},
    )
    return _wording(row, language)


# --- self-checks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: Any
    taken_at: dt.datetime
    answers: dict[str, int]
    wording_version: int
    wording_language: str = ""

    @property
    def scores(self) -> dict[str, int]:
        return scale.scores(self.answers)


def clean_answers(answers: Any) -> dict[str, int]:
    """Exactly the 13 items, each a whole number from 1 to 10, or refuse."""
    if not isinstance(answers, Mapping) or set(answers) != set(scale.ITEMS):
        raise GrantError(
            _("Answer each of the 13 items (a to m), from 1 to 10."),
            code="invalid",
            field="answers",
        )
    clean = {}
    for item in scale.ITEMS:
        value = answers[item]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise GrantError(_("Each answer is a number from 1 to 10."), code="invalid", field=item)
        if not scale.LOWEST <= value <= scale.HIGHEST:
            raise GrantError(_("Each answer is a number from 1 to 10."), code="invalid", field=item)
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
        wording_language=str(content.get("language", "")),
    )


@transaction.atomic
def selfcheck_record(*, actor: User, answers: Any) -> Entry:
    """One self-check, with the wording version and the language it was shown in. The
    language is sealed with the answers: in a small team, a language in clear could say
    whose rows these are."""
    clean = clean_answers(answers)
    key = staff_key(actor)
    now = timezone.now()
    shown = wording_current(actor.language)
    row = SelfCheck(owner_tag=_tag(key), wording_version=shown.version)
    row._owner_key = key
    row.content = {"taken_at": now.isoformat(), "answers": clean, "language": shown.language}
    row.save(force_insert=True)
    event_record_unlinked("wellbeing.selfcheck")
    return Entry(
        id=row.pk,
        taken_at=now,
        answers=clean,
        wording_version=row.wording_version,
        wording_language=shown.language,
    )


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
            _("You are not in a team, so there is no supervisor to tell."), code="no_team"
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
