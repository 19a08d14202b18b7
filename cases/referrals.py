"""Referral packages: exactly the sections the purpose needs, identity only when chosen
and consented (AS9-TRF-2), staff as role labels unless named on purpose (AS9-TRF-5).

Two formats: an HL7 FHIR R4 bundle (``cases.fhir``), and a readable letter as a PDF
encrypted with AES-256 (pypdf), every page marked with the recipient and the export id.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pydantic import ValidationError as PydanticValidationError

from cases import fhir, letter
from cases.errors import ExportInvalid
from cases.package import Content
from haven.i18n import first_offered

CLINICAL_SECTIONS = {
    "conditions": gettext_lazy("Conditions"),
    "medications": gettext_lazy("Medications"),
    "allergies": gettext_lazy("Allergies"),
    "observations": gettext_lazy("Observations"),
}

logger = logging.getLogger("haven.referrals")

PASSPHRASE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # noqa: S105  (an alphabet)


def new_passphrase() -> str:
    """Six groups of four: about 118 bits, easy to read out over the phone."""
    chars = "".join(secrets.choice(PASSPHRASE_ALPHABET) for _ in range(24))
    return "-".join(chars[i : i + 4] for i in range(0, 24, 4))


def fhir_bundle(c: Content, *, bundle_type: str = "transaction") -> bytes:
    """The FHIR R4 Bundle (``cases.fhir``), as JSON. A bundle that fails validation is
    refused with a stable code, never a 500, and the log says where, never what."""
    try:
        bundle = fhir.build(c, bundle_type=bundle_type)
    except PydanticValidationError as exc:
        places = [".".join(map(str, error["loc"])) for error in exc.errors(include_input=False)]
        logger.error("FHIR bundle refused by validation at %s", places[:10])
        raise ExportInvalid(
            _(
                "The package could not be built as valid FHIR, so nothing was exported. "
                "The error was logged without its content."
            )
        ) from None
    return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- the letter -----------------------------------------------------------------


def letter_language(c: Content) -> str:
    """The recipient's language when the organisation offers it (the directory lists the
    languages each recipient works in), else the organisation's default language."""
    return first_offered(c.recipient.languages or [])


def _day(value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        return date_format(timezone.localtime(value), "DATE_FORMAT")
    return date_format(value, "DATE_FORMAT")


def letter_blocks(c: Content) -> list[letter.Block]:
    """The referral letter, block by block, in the recipient's language: the preview
    shows these, the PDF prints them. Times are in the organisation's time zone."""
    with translation.override(letter_language(c)):
        return _letter_blocks(c)


def _letter_blocks(c: Content) -> list[letter.Block]:
    B = letter.Block
    blocks = [B("meta", line) for line in letter.sender_lines()]
    exported = timezone.localtime(c.exported_at)
    consent = _("Consent: %(scope)s, %(method)s, given %(day)s") % {
        "scope": c.consent.get_scope_display(),
        "method": c.consent.get_method_display().lower(),
        "day": _day(c.consent.given_at),
    }
    if c.consent.expires_at:
        consent += ", " + _("until %(day)s") % {"day": _day(c.consent.expires_at)}
    blocks += [
        B("title", _("Referral to %(name)s") % {"name": c.recipient.name}),
        B(
            "meta",
            _("Reference %(reference)s · exported %(when)s (%(zone)s)")
            % {
                "reference": c.case.reference,
                "when": date_format(exported, "DATETIME_FORMAT"),
                "zone": settings.TIME_ZONE,
            },
        ),
        B("meta", _("Export %(id)s") % {"id": c.export_id}),
        B("heading", _("Purpose")),
        B("text", c.consent.purpose or ""),
        B("meta", consent),
    ]
    if c.identity is not None:
        person = c.identity
        blocks.append(B("heading", _("Identity")))
        for label, value in (
            (_("Name"), " ".join(v for v in (person.given_name, person.family_name) if v)),
            (_("Other names"), ", ".join(person.aliases or [])),
            (_("Date of birth"), _day(person.date_of_birth) if person.date_of_birth else ""),
            (_("Phone"), person.phone or ""),
            (_("Languages"), ", ".join(person.languages or [])),
        ):
            if value:
                blocks.append(B("item", f"{label}: {value}"))
    if "summary" in c.sections:
        blocks += [B("heading", _("Care summary")), B("text", c.case.summary or _("Not recorded"))]
    if "encounters" in c.sections:
        blocks.append(B("heading", _("Encounters")))
        for encounter in c.encounters:
            blocks.append(
                B(
                    "text",
                    f"{_day(encounter.occurred_at)} · {encounter.get_kind_display()} · "
                    f"{c.staff(encounter.author)}",
                )
            )
            if encounter.notes:
                blocks.append(B("item", encounter.notes))
            block = (encounter.clinical or {}) if c.clinical else {}
            for section, items in block.items():
                title = str(CLINICAL_SECTIONS.get(section, section.capitalize()))
                blocks.append(B("item", f"{title}: " + "; ".join(i["display"] for i in items)))
    return blocks


def letter_lines(c: Content) -> list[str]:
    """The preview: the same blocks, as text."""
    lines: list[str] = []
    for block in letter_blocks(c):
        if block.kind == "heading":
            lines += ["", block.text.upper()]
        else:
            lines += block.text.splitlines() or [""]
    return lines


def pdf_letter(c: Content, passphrase: str) -> bytes:
    """The letter as a PDF, every page marked with the recipient and the export id,
    AES-256 encrypted; the passphrase is handed over by another channel."""
    with translation.override(letter_language(c)):
        return letter.pdf_letter(
            _letter_blocks(c),
            mark=_("CONFIDENTIAL – for %(name)s only – export %(id)s")
            % {"name": c.recipient.name, "id": c.export_id},
            title=_("Referral %(id)s") % {"id": c.export_id},
            passphrase=passphrase,
        )
