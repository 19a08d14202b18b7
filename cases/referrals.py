"""Referral packages: exactly the sections the purpose needs, identity only when chosen
and consented (AS9-TRF-2), staff as role labels unless named on purpose (AS9-TRF-5).

Two formats: an HL7 FHIR bundle built and validated with ``fhir.resources`` (its R4B
models: FHIR 4.3, the technical correction of R4, identical for the resources used
here), and a readable letter as a PDF encrypted with AES-256 (pypdf), every page marked
with the recipient and the export id.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from cases.models import Case, Consent, Encounter, Identity, Organisation

ROLE_LABELS = {
    "caseworker": "Caseworker",
    "clinician": "Clinician",
    "supervisor": "Supervisor",
}
PASSPHRASE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # noqa: S105  (an alphabet)


def new_passphrase() -> str:
    """Six groups of four: about 118 bits, easy to read out over the phone."""
    chars = "".join(secrets.choice(PASSPHRASE_ALPHABET) for _ in range(24))
    return "-".join(chars[i : i + 4] for i in range(0, 24, 4))


@dataclass
class Content:
    """What goes into a package, gathered once for both formats."""

    export_id: str
    case: Case
    recipient: Organisation
    consent: Consent
    sections: list[str]
    identity: Identity | None
    encounters: list[Encounter] = field(default_factory=list)
    clinical: bool = False
    staff_names: bool = False
    exported_at: dt.datetime = field(default_factory=timezone.now)

    def staff(self, user: Any) -> str:
        if self.staff_names:
            return str(user.get_full_name() or user.username)
        return ROLE_LABELS.get(user.role, "Staff member")


def _div(text: str) -> str:
    return f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{html.escape(text)}</p></div>'


def fhir_bundle(c: Content) -> bytes:
    """A FHIR R4 collection Bundle; validated by fhir.resources before release."""
    patient_id = "patient"
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [{"system": "urn:haven:reference", "value": c.case.reference}],
    }
    if c.identity is not None:
        person = c.identity
        name = {
            k: v
            for k, v in (
                ("family", person.family_name),
                ("given", [person.given_name] if person.given_name else None),
            )
            if v
        }
        if name:
            patient["name"] = [name]
        if person.date_of_birth:
            patient["birthDate"] = person.date_of_birth.isoformat()
        if person.sex in ("female", "male", "other"):
            patient["gender"] = person.sex
        if person.phone:
            patient["telecom"] = [{"system": "phone", "value": person.phone}]
    subject = {"reference": f"Patient/{patient_id}"}
    org_ref = {"reference": "Organization/recipient", "display": c.recipient.name}
    entries: list[dict[str, Any]] = [
        patient,
        {"resourceType": "Organization", "id": "recipient", "name": c.recipient.name},
    ]
    sections: list[dict[str, Any]] = []
    if "summary" in c.sections and c.case.summary:
        sections.append(
            {"title": "Care summary", "text": {"status": "generated", "div": _div(c.case.summary)}}
        )
    for n, encounter in enumerate(c.encounters if "encounters" in c.sections else []):
        encounter_id = f"encounter-{n}"
        entries.append(
            {
                "resourceType": "Encounter",
                "id": encounter_id,
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "type": [{"text": encounter.get_kind_display()}],
                "subject": subject,
                "period": {"start": encounter.occurred_at.isoformat()},
                "participant": [{"individual": {"display": c.staff(encounter.author)}}],
            }
        )
        if encounter.notes:
            sections.append(
                {
                    "title": f"Encounter {encounter.occurred_at:%Y-%m-%d}",
                    "text": {"status": "generated", "div": _div(encounter.notes)},
                    "entry": [{"reference": f"Encounter/{encounter_id}"}],
                }
            )
        block = (encounter.clinical or {}) if c.clinical else {}
        for m, item in enumerate(block.get("conditions", [])):
            code: dict[str, Any] = {"text": item["display"]}
            if item.get("code"):
                code["coding"] = [
                    {"system": item.get("system", ""), "code": item["code"]}
                    if item.get("system")
                    else {"code": item["code"]}
                ]
            entries.append(
                {
                    "resourceType": "Condition",
                    "id": f"condition-{n}-{m}",
                    "subject": subject,
                    "code": code,
                    "encounter": {"reference": f"Encounter/{encounter_id}"},
                }
            )
        for m, item in enumerate(block.get("medications", [])):
            entries.append(
                {
                    "resourceType": "MedicationStatement",
                    "id": f"medication-{n}-{m}",
                    "status": "active",
                    "medicationCodeableConcept": {"text": item["display"]},
                    "subject": subject,
                }
            )
        for m, item in enumerate(block.get("allergies", [])):
            entries.append(
                {
                    "resourceType": "AllergyIntolerance",
                    "id": f"allergy-{n}-{m}",
                    "patient": subject,
                    "code": {"text": item["display"]},
                }
            )
        for m, item in enumerate(block.get("observations", [])):
            entries.append(
                {
                    "resourceType": "Observation",
                    "id": f"observation-{n}-{m}",
                    "status": "final",
                    "code": {"text": item["display"]},
                    "subject": subject,
                }
            )
    if sections:
        entries.append(
            {
                "resourceType": "Composition",
                "id": "referral",
                "status": "final",
                "type": {"text": "Referral"},
                "subject": subject,
                "date": c.exported_at.isoformat(),
                "author": [{"display": "Haven"}],
                "title": f"Referral to {c.recipient.name}",
                "section": sections,
            }
        )
    entries.append(
        {
            "resourceType": "Consent",
            "id": "consent",
            "status": "active",
            "scope": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                        "code": "patient-privacy",
                    }
                ],
                "text": c.consent.scope,
            },
            "category": [{"text": c.consent.get_scope_display()}],
            "patient": subject,
            "dateTime": c.consent.given_at.isoformat(),
            "provision": {
                "type": "permit",
                "actor": [{"role": {"text": "recipient"}, "reference": org_ref}],
            },
            "policyRule": {"text": c.consent.get_method_display()},
        }
    )
    entries.append(
        {
            "resourceType": "Provenance",
            "id": "provenance",
            "target": [{"reference": f"Patient/{patient_id}"}],
            "recorded": c.exported_at.isoformat(),
            "agent": [{"who": {"display": "Haven referral export " + c.export_id}}],
        }
    )
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": c.export_id,
            "type": "collection",
            "timestamp": c.exported_at.isoformat(),
            "entry": [
                {"fullUrl": f"urn:uuid:{c.export_id}-{i}", "resource": r}
                for i, r in enumerate(entries)
            ],
        }
    )
    return bundle.model_dump_json(exclude_none=True).encode("utf-8")


# --- PDF ----------------------------------------------------------------------------

_PAGE_W, _PAGE_H, _MARGIN, _LEADING = 595, 842, 50, 14
_LINES_PER_PAGE = (_PAGE_H - 2 * _MARGIN - 40) // _LEADING


def _latin(text: str) -> str:
    """The standard PDF fonts cover Latin-1 only; other characters become '?'.
    (Names in other scripts belong in the FHIR bundle, which keeps them intact.)"""
    return text.encode("latin-1", "replace").decode("latin-1")


def _escape(text: str) -> str:
    return _latin(text).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _wrap(text: str, width: int = 90) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        words, line = paragraph.split(), ""
        for word in words:
            if len(line) + len(word) + 1 > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
    return lines


def letter_lines(c: Content) -> list[str]:
    lines = [
        f"Referral to {c.recipient.name}",
        f"Reference {c.case.reference}    Exported {c.exported_at:%Y-%m-%d %H:%M} UTC",
        f"Consent: {c.consent.get_scope_display()}, {c.consent.get_method_display().lower()}, "
        f"given {c.consent.given_at:%Y-%m-%d}",
        "",
    ]
    if c.identity is not None:
        person = c.identity
        lines += ["IDENTITY"]
        for label, value in (
            ("Name", " ".join(v for v in (person.given_name, person.family_name) if v)),
            ("Date of birth", person.date_of_birth.isoformat() if person.date_of_birth else ""),
            ("Phone", person.phone or ""),
            ("Languages", ", ".join(person.languages or [])),
        ):
            if value:
                lines.append(f"{label}: {value}")
        lines.append("")
    if "summary" in c.sections:
        lines += ["CARE SUMMARY", *_wrap(c.case.summary or "Not recorded"), ""]
    if "encounters" in c.sections:
        lines.append("ENCOUNTERS")
        for encounter in c.encounters:
            lines.append(
                f"{encounter.occurred_at:%Y-%m-%d} {encounter.get_kind_display()} - "
                f"{c.staff(encounter.author)}"
            )
            lines += [f"  {line}" for line in _wrap(encounter.notes or "", 86)]
            block = (encounter.clinical or {}) if c.clinical else {}
            for section, items in block.items():
                lines.append(f"  {section.capitalize()}: " + "; ".join(i["display"] for i in items))
        lines.append("")
    return lines


def _page_stream(lines: list[str], mark: str, number: int, total: int) -> bytes:
    ops = ["BT", "/F1 9 Tf", f"{_MARGIN} {_PAGE_H - 30} Td", f"({_escape(mark)}) Tj", "ET"]
    y = _PAGE_H - _MARGIN - 20
    ops += ["BT", "/F1 10 Tf", f"{_MARGIN} {y} Td", f"{_LEADING} TL"]
    for line in lines:
        ops += [f"({_escape(line)}) Tj", "T*"]
    ops += [
        "ET",
        "BT",
        "/F1 9 Tf",
        f"{_MARGIN} 25 Td",
        f"({_escape(f'{mark} - page {number} of {total}')}) Tj",
        "ET",
    ]
    return "\n".join(ops).encode("latin-1")


def pdf_letter(c: Content, passphrase: str) -> bytes:
    """A readable referral letter, AES-256 encrypted; the passphrase is handed over by
    another channel and never stored."""
    lines = letter_lines(c)
    pages = [lines[i : i + _LINES_PER_PAGE] for i in range(0, len(lines), _LINES_PER_PAGE)] or [[]]
    mark = f"CONFIDENTIAL - for {c.recipient.name} only - export {c.export_id}"
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    font_ref = writer._add_object(font)
    for number, chunk in enumerate(pages, start=1):
        page = writer.add_blank_page(width=_PAGE_W, height=_PAGE_H)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
        stream = DecodedStreamObject()
        stream.set_data(_page_stream(chunk, mark, number, len(pages)))
        page[NameObject("/Contents")] = writer._add_object(stream)
    writer.add_metadata({"/Title": f"Referral {c.export_id}", "/Producer": "Haven"})
    writer.encrypt(
        user_password=passphrase, owner_password=secrets.token_urlsafe(32), algorithm="AES-256"
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
