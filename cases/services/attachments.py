"""Documents and photos on a case. Their bytes are checked by content (not by name),
images are re-encoded from their pixels so that no metadata survives (EXIF with GPS,
XMP, comments), and everything is sealed with the survivor's key before it reaches
the attachment storage (``STORAGES["attachments"]``). A photo needs the survivor's
consent to photographs, in force at that moment: the trafficking guidance's rule is
never to photograph without permission. Every upload, list and download is an event."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from access.crypto.fields import seal_file
from access.models import User
from access.roles import Capability
from audit.models import Outcome
from audit.services import event_record
from cases import selectors
from cases.errors import ConsentRequired, DomainError
from cases.models import ATTACHMENT_LABEL, Attachment, AttachmentKind, Case, ConsentScope
from cases.services.common import locked_case, require, require_recording

MAX_PIXELS = 40_000_000
IMAGE_TYPES = {"image/jpeg": (b"\xff\xd8\xff", "JPEG"), "image/png": (b"\x89PNG\r\n\x1a\n", "PNG")}
DOCUMENT_TYPES = {"application/pdf": b"%PDF-"}


def storage() -> Storage:
    return storages["attachments"]


def _media_type(data: bytes, kind: str) -> str:
    for media_type, (magic, _kind) in IMAGE_TYPES.items():
        if data.startswith(magic):
            return media_type
    if kind == AttachmentKind.DOCUMENT:
        for media_type, magic in DOCUMENT_TYPES.items():
            if data.startswith(magic):
                return media_type
    detail = (
        _("The file must be a JPEG or PNG photo.")
        if kind == AttachmentKind.PHOTO
        else _("The file must be a PDF, JPEG or PNG.")
    )
    raise DomainError(detail, field="file", code="unsupported_type")


def without_metadata(data: bytes, media_type: str) -> bytes:
    """The image drawn again from its pixels alone (turned upright first, as its EXIF
    said), so that nothing but the picture is kept: no location, camera, time or
    comments. Refuses what is not a whole, readable image of a sane size."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise DomainError(_("The image is too large."), field="file", code="too_large")
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise DomainError(_("The image could not be read."), field="file") from exc
    if upright.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        upright = upright.convert("RGB")
    if IMAGE_TYPES[media_type][1] == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    clean = Image.new(upright.mode, upright.size)
    if upright.mode == "P":
        clean.putpalette(upright.getpalette() or [])
    clean.paste(upright)
    out = io.BytesIO()
    if IMAGE_TYPES[media_type][1] == "JPEG":
        clean.save(out, format="JPEG", quality=90, optimize=True)
    else:
        clean.save(out, format="PNG", optimize=True)
    return out.getvalue()


def attachment_add(*, actor: User, case: Case, kind: str, title: str, data: bytes) -> Attachment:
    """Keep a document or photo on the case. A photo without the survivor's consent to
    photographs is refused, and the refusal recorded (after the attempt's transaction,
    so that it stays)."""
    require(actor, Capability.CASE_WRITE)
    if kind not in AttachmentKind.values:
        raise DomainError(_("Choose photo or document."), field="kind")
    if not (title or "").strip():
        raise DomainError(_("Give the file a short title."), field="title")
    if not data:
        raise DomainError(_("Choose a file."), field="file")
    if len(data) > settings.HAVEN_ATTACHMENT_MAX_BYTES:
        raise DomainError(_("The file is too large."), field="file", code="too_large", status=413)
    try:
        return _attachment_add(actor=actor, case=case, kind=kind, title=title.strip(), data=data)
    except ConsentRequired:
        event_record(
            actor=actor,
            action="attachment.add",
            outcome=Outcome.DENIED,
            case_reference=case.reference,
            reason="consent_required",
        )
        raise


@transaction.atomic
def _attachment_add(*, actor: User, case: Case, kind: str, title: str, data: bytes) -> Attachment:
    current = locked_case(case)
    require_recording(current)
    consent = None
    if kind == AttachmentKind.PHOTO:
        consent = selectors.consent_in_force(case=current, scope=ConsentScope.PHOTO)
        if consent is None:
            raise ConsentRequired(
                "The person has not agreed to photographs. Record their consent first; "
                "never photograph without permission.",
                field="kind",
            )
    media_type = _media_type(data, kind)
    if media_type in IMAGE_TYPES:
        data = without_metadata(data, media_type)
    record = Attachment(
        case=current,
        kind=kind,
        title=title,
        media_type=media_type,
        size=len(data),
        stored_as=f"{timezone.now():%Y/%m}/{secrets.token_hex(16)}",
        consent=consent,
        created_by=actor,
    )
    record.full_clean()
    sealed = seal_file(current.survivor.data_key(), ATTACHMENT_LABEL, record.pk, data)
    # A file whose row is never committed is ciphertext nobody can name or open; the
    # row is written right after it, and a failure here removes it at once.
    record.stored_as = storage().save(record.stored_as, ContentFile(sealed))
    try:
        record.save(force_insert=True)
        event_record(
            actor=actor,
            action="attachment.add",
            case_reference=current.reference,
            detail={"id": str(record.pk), "kind": kind, "bytes": len(data)},
        )
    except Exception:
        storage().delete(record.stored_as)
        raise
    return record


@dataclass
class AttachmentFile:
    attachment: Attachment
    content: bytes


def attachment_open(*, actor: User, case: Case, attachment_id: Any) -> AttachmentFile:
    """The attachment's bytes for a reader of the case (the caller has checked and
    recorded access to the case); the download itself is recorded here."""
    record = selectors.attachments_for(case=case).filter(pk=attachment_id).first()
    if record is None:
        raise DomainError(_("No such attachment on this case."), status=404)
    content = record.content()
    event_record(
        actor=actor,
        action="attachment.view",
        case_reference=case.reference,
        detail={"id": str(record.pk)},
    )
    return AttachmentFile(attachment=record, content=content)
