"""The referral as an HL7 FHIR R4 Bundle that a receiving server can import (AS9-TRF-6).

- A ``transaction`` Bundle by default (every entry a POST), or a ``collection``. Every
  entry's ``fullUrl`` is a ``urn:uuid:``, and every reference between entries uses those
  fullUrls, so they resolve under the Bundle rules and the server links what it creates.
- Codes travel with their systems (conditions, medications, allergies, observations);
  a value without a system is sent as text only, never as a bare code.
- Every resource is labelled restricted (``meta.security``, v3 Confidentiality ``R``).
- The Consent carries the purpose, its period, the recipient and whether identifying
  details may go; staff appear as role labels unless named on purpose (AS9-TRF-5).

Validated with ``fhir.resources`` before release (its R4B models: FHIR 4.3, the
technical correction of R4, identical for these resources), and in the test suite with
the official R4 JSON schema and ``@medplum/core``.
"""

from __future__ import annotations

import html
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from cases import validators
from cases.package import Content

BUNDLE_TYPES = ("transaction", "collection")
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
SECURITY = [{"system": CONFIDENTIALITY, "code": "R", "display": "restricted"}]
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ENCOUNTER_CLASS = {  # kind of encounter -> v3 ActCode
    "phone": ("VR", "virtual"),
    "shelter": ("HH", "home health"),
}
DEFAULT_CLASS = ("AMB", "ambulatory")
CONSENT_SCOPE = {"referral": "treatment", "legal": "patient-privacy"}
PURPOSE_OF_USE = {"referral": ("TREAT", "treatment"), "legal": ("HLEGAL", "legal")}
IDENTIFIER_SYSTEM = "urn:haven:reference"


class _Builder:
    def __init__(self, content: Content, bundle_type: str) -> None:
        self.c = content
        self.bundle_type = bundle_type
        self.namespace = uuid.UUID(content.export_id)
        self.entries: list[dict[str, Any]] = []

    def url(self, local_name: str) -> str:
        """A stable urn:uuid for one resource of this export."""
        return f"urn:uuid:{uuid.uuid5(self.namespace, local_name)}"

    def ref(self, local_name: str, display: str | None = None) -> dict[str, str]:
        reference = {"reference": self.url(local_name)}
        if display:
            reference["display"] = display
        return reference

    def add(self, local_name: str, resource: dict[str, Any]) -> None:
        resource = {**resource, "meta": {"security": SECURITY}}
        entry: dict[str, Any] = {"fullUrl": self.url(local_name), "resource": resource}
        if self.bundle_type == "transaction":
            entry["request"] = {"method": "POST", "url": resource["resourceType"]}
        self.entries.append(entry)


def _text(text: str) -> dict[str, str]:
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() or [""])
    return {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{paragraphs}</div>',
    }


def _concept(item: dict[str, str]) -> dict[str, Any]:
    """A CodeableConcept: the display as text, and a coding only when the code and its
    system are both valid FHIR (data recorded before codes were checked keeps its text)."""
    concept: dict[str, Any] = {"text": item["display"]}
    code, system = item.get("code"), item.get("system")
    if code and system:
        try:
            validators.validate_code(code)
            validators.validate_system(system)
        except Exception:  # noqa: BLE001  (an invalid stored code: sent as text only)
            return concept
        concept["coding"] = [{"system": system, "code": code, "display": item["display"]}]
    return concept


def _language(text: str) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    tag = text.strip()
    if 2 <= len(tag) <= 12 and tag.replace("-", "").isalpha() and tag.lower() == tag.casefold():
        if tag[:2].islower() and (len(tag) == 2 or tag[2] == "-"):
            concept["coding"] = [{"system": "urn:ietf:bcp:47", "code": tag}]
    return concept


def _patient(b: _Builder) -> None:
    c = b.c
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": c.case.reference}],
    }
    person = c.identity
    if person is not None:
        name = {
            key: value
            for key, value in (
                ("family", person.family_name),
                ("given", [person.given_name] if person.given_name else None),
            )
            if value
        }
        if name:
            patient["name"] = [name]
        if person.date_of_birth:
            patient["birthDate"] = person.date_of_birth.isoformat()
        if person.sex in ("female", "male", "other"):
            patient["gender"] = person.sex
        telecom = [
            {"system": system, "value": value}
            for system, value in (("phone", person.phone), ("email", person.email))
            if value
        ]
        if telecom:
            patient["telecom"] = telecom
        if person.address:
            patient["address"] = [{"text": person.address}]
        if person.languages:
            patient["communication"] = [{"language": _language(lang)} for lang in person.languages]
    b.add("patient", patient)


def _encounters(b: _Builder, sections: list[dict[str, Any]]) -> None:
    c = b.c
    subject = b.ref("patient")
    for n, encounter in enumerate(c.encounters if "encounters" in c.sections else []):
        name = f"encounter-{n}"
        when = encounter.occurred_at.isoformat()
        code, display = ENCOUNTER_CLASS.get(encounter.kind, DEFAULT_CLASS)
        b.add(
            name,
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {"system": ACT_CODE, "code": code, "display": display},
                "type": [{"text": encounter.get_kind_display()}],
                "subject": subject,
                "period": {"start": when},
                "participant": [{"individual": {"display": c.staff(encounter.author)}}],
            },
        )
        if encounter.notes:
            sections.append(
                {
                    "title": f"Encounter {encounter.occurred_at:%Y-%m-%d}",
                    "text": _text(encounter.notes),
                    "entry": [b.ref(name)],
                }
            )
        block = (encounter.clinical or {}) if c.clinical else {}
        context = b.ref(name)
        for m, item in enumerate(block.get("conditions", [])):
            b.add(
                f"condition-{n}-{m}",
                {
                    "resourceType": "Condition",
                    "subject": subject,
                    "code": _concept(item),
                    "encounter": context,
                    "recordedDate": when,
                },
            )
        for m, item in enumerate(block.get("medications", [])):
            b.add(
                f"medication-{n}-{m}",
                {
                    "resourceType": "MedicationStatement",
                    "status": item.get("status", "unknown"),
                    "medicationCodeableConcept": _concept(item),
                    "subject": subject,
                    "context": context,
                    "dateAsserted": when,
                },
            )
        for m, item in enumerate(block.get("allergies", [])):
            b.add(
                f"allergy-{n}-{m}",
                {
                    "resourceType": "AllergyIntolerance",
                    "clinicalStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/"
                                "allergyintolerance-clinical",
                                "code": "active",
                            }
                        ]
                    },
                    "patient": subject,
                    "code": _concept(item),
                    "encounter": context,
                    "recordedDate": when,
                },
            )
        for m, item in enumerate(block.get("observations", [])):
            b.add(
                f"observation-{n}-{m}",
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": _concept(item),
                    "subject": subject,
                    "encounter": context,
                    "effectiveDateTime": when,
                },
            )


def _consent(b: _Builder) -> None:
    c = b.c
    consent = c.consent
    scope = consent.scope
    purpose_code, purpose_display = PURPOSE_OF_USE.get(scope, PURPOSE_OF_USE["referral"])
    period = {"start": consent.given_at.isoformat()}
    if consent.expires_at is not None:
        period["end"] = consent.expires_at.isoformat()
    how = consent.get_method_display().lower()
    interpreter = ", with an interpreter" if consent.interpreter_used else ""
    identity = "may" if consent.identity else "may not"
    b.add(
        "consent",
        {
            "resourceType": "Consent",
            "text": _text(
                f"Purpose: {consent.purpose or ''}\n"
                f"Given {how}{interpreter}. Identifying details {identity} be shared."
            ),
            "status": "active",
            "scope": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                        "code": CONSENT_SCOPE.get(scope, "treatment"),
                    }
                ],
                "text": consent.get_scope_display(),
            },
            "category": [
                {"coding": [{"system": "http://loinc.org", "code": "59284-0"}], "text": "Consent"}
            ],
            "patient": b.ref("patient"),
            "dateTime": consent.given_at.isoformat(),
            "policyRule": {
                "coding": [{"system": ACT_CODE, "code": "OPTIN", "display": "opt-in"}],
                "text": f"Given {how}{interpreter}",
            },
            "provision": {
                "type": "permit",
                "period": period,
                "actor": [
                    {
                        "role": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "v3-ParticipationType",
                                    "code": "IRCP",
                                    "display": "information recipient",
                                }
                            ]
                        },
                        "reference": b.ref("recipient", c.recipient.name),
                    }
                ],
                "purpose": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "code": purpose_code,
                        "display": purpose_display,
                    }
                ],
                "provision": [
                    {
                        # Identifying details (the Patient's name, birth date, contact).
                        "type": "permit" if consent.identity else "deny",
                        "class": [
                            {"system": "http://hl7.org/fhir/resource-types", "code": "Patient"}
                        ],
                    }
                ],
            },
        },
    )


def build(content: Content, *, bundle_type: str = "transaction") -> dict[str, Any]:
    """The Bundle as a dict, validated."""
    if bundle_type not in BUNDLE_TYPES:
        raise ValueError(f"bundle_type is one of {BUNDLE_TYPES}")
    c = content
    b = _Builder(c, bundle_type)
    _patient(b)
    b.add(
        "recipient",
        {
            "resourceType": "Organization",
            "identifier": [{"system": "urn:haven:organisation", "value": c.recipient.slug}],
            "name": c.recipient.name,
        },
    )
    sections: list[dict[str, Any]] = []
    if "summary" in c.sections and c.case.summary:
        sections.insert(0, {"title": "Care summary", "text": _text(c.case.summary)})
    _encounters(b, sections)
    if sections:
        b.add(
            "referral",
            {
                "resourceType": "Composition",
                "status": "final",
                "type": {
                    "coding": [
                        {
                            "system": "http://loinc.org",
                            "code": "57133-1",
                            "display": "Referral note",
                        }
                    ],
                    "text": "Referral",
                },
                "subject": b.ref("patient"),
                "date": c.exported_at.isoformat(),
                "author": [{"display": "Haven"}],
                "title": f"Referral to {c.recipient.name}",
                "confidentiality": "R",
                "section": sections,
            },
        )
    _consent(b)
    b.add(
        "provenance",
        {
            "resourceType": "Provenance",
            "target": [b.ref("referral" if sections else "patient")],
            "recorded": c.exported_at.isoformat(),
            "agent": [{"who": {"display": f"Haven referral export {c.export_id}"}}],
        },
    )
    bundle = {
        "resourceType": "Bundle",
        "meta": {"security": SECURITY},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{c.export_id}"},
        "type": bundle_type,
        "timestamp": c.exported_at.isoformat(),
        "entry": b.entries,
    }
    Bundle.model_validate(bundle)
    return bundle


def unresolved_references(bundle: dict[str, Any]) -> list[str]:
    """Every ``reference`` in the Bundle that does not name one of its entries'
    fullUrls (what a receiving server could not link)."""
    full_urls = {entry["fullUrl"] for entry in bundle.get("entry", [])}
    missing: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            reference = node.get("reference")
            if isinstance(reference, str) and reference not in full_urls:
                missing.append(reference)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for entry in bundle.get("entry", []):
        walk(entry["resource"])
    return missing
