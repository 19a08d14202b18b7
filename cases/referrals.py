"""Referral packages: exactly the sections the purpose needs, identity only when chosen
and consented (AS9-TRF-2), staff as role labels unless named on purpose (AS9-TRF-5).

Two formats: an HL7 FHIR R4 bundle (``cases.fhir``), and a readable letter as a PDF
encrypted with AES-256 (pypdf), every page marked with the recipient and the export id.
"""

from __future__ import annotations

import json
import logging
import secrets

from pydantic import ValidationError as PydanticValidationError

from cases import fhir, letter
from cases.errors import ExportInvalid
from cases.package import Content

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
            "The package could not be built as valid FHIR, so nothing was exported. "
            "The error was logged without its content."
        ) from None
    return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- the letter -----------------------------------------------------------------


def letter_blocks(c: Content) -> list[letter.Block]:
    """The referral letter, block by block: the preview shows these, the PDF prints them."""
    B = letter.Block
    blocks = [B("meta", line) for line in letter.sender_lines()]
    blocks += [
        B("title", f"Referral to {c.recipient.name}"),
        B("meta", f"Reference {c.case.reference} · exported {c.exported_at:%Y-%m-%d %H:%M} UTC"),
        B("meta", f"Export {c.export_id}"),
        B("heading", "Purpose"),
        B("text", c.consent.purpose or ""),
        B(
            "meta",
            f"Consent: {c.consent.get_scope_display()}, "
            f"{c.consent.get_method_display().lower()}, given {c.consent.given_at:%Y-%m-%d}"
            + (f", until {c.consent.expires_at:%Y-%m-%d}" if c.consent.expires_at else ""),
        ),
    ]
    if c.identity is not None:
        person = c.identity
        blocks.append(B("heading", "Identity"))
        for label, value in (
            ("Name", " ".join(v for v in (person.given_name, person.family_name) if v)),
            ("Other names", ", ".join(person.aliases or [])),
            ("Date of birth", person.date_of_birth.isoformat() if person.date_of_birth else ""),
            ("Phone", person.phone or ""),
            ("Languages", ", ".join(person.languages or [])),
        ):
            if value:
                blocks.append(B("item", f"{label}: {value}"))
    if "summary" in c.sections:
        blocks += [B("heading", "Care summary"), B("text", c.case.summary or "Not recorded")]
    if "encounters" in c.sections:
        blocks.append(B("heading", "Encounters"))
        for encounter in c.encounters:
            blocks.append(
                B(
                    "text",
                    f"{encounter.occurred_at:%Y-%m-%d} · {encounter.get_kind_display()} · "
                    f"{c.staff(encounter.author)}",
                )
            )
            if encounter.notes:
                blocks.append(B("item", encounter.notes))
            block = (encounter.clinical or {}) if c.clinical else {}
            for section, items in block.items():
                blocks.append(
                    B("item", f"{section.capitalize()}: " + "; ".join(i["display"] for i in items))
                )
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
    return letter.pdf_letter(
        letter_blocks(c),
        mark=f"CONFIDENTIAL – for {c.recipient.name} only – export {c.export_id}",
        title=f"Referral {c.export_id}",
        passphrase=passphrase,
    )
