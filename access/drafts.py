"""Unsaved forms kept across a session timeout (AS9-STO-5 ends idle sessions; nothing a
user typed may be lost to it). Just before the session ends, the page sends what was
typed in its form; it is sealed here with a key of its own and kept until the same
person signs in again and takes it back (once), or discards it. Never in the browser's
storage, never readable from the database alone. Taking one back is an event."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.translation import gettext as _

from access.errors import GrantError
from access.models import FormDraft, User
from audit.services import event_record

MAX_FIELDS = 200
MAX_BYTES = 200_000


def _clean_path(path: str) -> tuple[str, str]:
    """A page of this site (path and query only) and the case it belongs to ("" for
    none), or refuse."""
    parts = urlsplit(path or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or "\\" in path:
        raise GrantError(_("Not a page of this site."), code="invalid", field="path")
    try:
        match = resolve(parts.path)
    except Resolver404 as exc:
        raise GrantError(_("Not a page of this site."), code="invalid", field="path") from exc
    return parts.path, str(match.kwargs.get("reference", ""))[:20]


def _clean_fields(fields: Any) -> list[list[str]]:
    if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
        raise GrantError(_("The form's fields could not be read."), code="invalid", field="fields")
    clean = []
    for item in fields:
        if not (
            isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item)
        ):
            raise GrantError(
                _("The form's fields could not be read."), code="invalid", field="fields"
            )
        name, value = item
        if name in ("csrfmiddlewaretoken", "password", "password1", "password2"):
            continue
        if "\x00" in name or "\x00" in value:
            raise GrantError(
                _("The form's fields could not be read."), code="invalid", field="fields"
            )
        clean.append([name, value])
    if len(json.dumps(clean).encode()) > MAX_BYTES:
        raise GrantError(_("The form is too large to keep."), code="too_large", field="fields")
    return clean


@transaction.atomic
def draft_save(*, user: User, path: str, fields: Any) -> FormDraft:
    """Keep what ``user`` typed on ``path``; one draft per page (a newer one replaces
    it). Older drafts of anyone past their time are deleted on the way."""
    drafts_purge()
    clean_path, reference = _clean_path(path)
    FormDraft.objects.filter(user=user, path=clean_path).delete()
    draft = FormDraft.with_new_key(
        user=user, path=clean_path, case_reference=reference, fields=_clean_fields(fields)
    )
    draft.save(force_insert=True)
    event_record(actor=user, action="draft.save", detail={"fields": len(draft.fields or [])})
    return draft


def drafts_of(user: User) -> list[FormDraft]:
    """The user's drafts waiting to be taken back (their fields stay sealed)."""
    limit = timezone.now() - dt.timedelta(days=settings.HAVEN_DRAFT_DAYS)
    return list(FormDraft.objects.filter(user=user, saved_at__gte=limit).defer("fields"))


@transaction.atomic
def draft_take(*, user: User, draft_id: Any, path: str) -> list[list[str]] | None:
    """The fields of the user's draft for this page, once: the draft is deleted as it is
    handed back. None when there is no such draft (another user's, another page's)."""
    try:
        draft = (
            FormDraft.objects.select_for_update().filter(pk=draft_id, user=user, path=path).first()
        )
    except (ValueError, TypeError):
        return None
    if draft is None:
        return None
    fields = list(draft.fields or [])
    draft.delete()
    event_record(actor=user, action="draft.restore", detail={"fields": len(fields)})
    return fields


@transaction.atomic
def draft_discard(*, user: User, draft_id: Any) -> None:
    FormDraft.objects.filter(pk=draft_id, user=user).delete()
    event_record(actor=user, action="draft.discard")


def drafts_purge() -> int:
    limit = timezone.now() - dt.timedelta(days=settings.HAVEN_DRAFT_DAYS)
    deleted, _ = FormDraft.objects.filter(saved_at__lt=limit).delete()
    return int(deleted)
