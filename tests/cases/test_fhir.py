"""The FHIR referral bundle a receiving clinic can import, checked by two validators
from outside the project and by our own reference resolution; codes checked as FHIR
tokens at input; an export that never 500s and never logs a value. AS9-TRF-6,
AS9-TRF-2, AS9-TRF-5, AS9-STO-1."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import uuid

import pytest
from django.utils import timezone

from access.services import grant_assign
from cases import fhir, validators
from cases.models import Consent
from cases.services import consent_record, organisation_add, referral_export
from tests.factories import add_encounter, open_case
from tests.helpers import fhir_validation

pytestmark = pytest.mark.django_db

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CLINICAL = {
    "conditions": [{"display": "Asthma", "code": "195967001", "system": SNOMED}],
    "medications": [
        {"display": "Salbutamol inhaler", "code": "745679", "system": RXNORM, "status": "active"},
        {"display": "Paracetamol"},
    ],
    "allergies": [{"display": "Penicillin allergy", "code": "91936005", "system": SNOMED}],
    "observations": [{"display": "Peak flow reduced"}],
}


@pytest.fixture
def world(caseworker, clinician, supervisor):
    organisation_add(actor=supervisor, name="Riverside Clinic", slug="riverside")
    case = open_case(
        caseworker,
        identity={
            "given_name": "Amira",
            "family_name": "Haddad",
            "date_of_birth": dt.date(1994, 3, 2),
            "phone": "+44 7700 900123",
            "languages": ["ar", "English"],
        },
    )
    grant_assign(case=case, user=clinician, granted_by=caseworker)
    add_encounter(caseworker, case, kind="phone", notes="Called about the appointment")
    add_encounter(clinician, case, kind="medical", notes="Seen in clinic", clinical=CLINICAL)
    consent_record(
        actor=caseworker,
        case=case,
        scope="referral",
        recipient_slug="riverside",
        purpose="Continuing asthma care",
        method="written",
        interpreter_used=True,
        given_at=timezone.now() - dt.timedelta(hours=1),
        expires_at=timezone.now() + dt.timedelta(days=30),
    )
    return case


def _bundle(clinician, case, **kwargs) -> dict:
    arguments = {
        "actor": clinician,
        "case": case,
        "recipient_slug": "riverside",
        "purpose": "Continuing asthma care",
        "sections": ["summary", "encounters", "clinical"],
        "include_identity": False,
        "fmt": "fhir",
    }
    arguments.update(kwargs)
    referral, _ = referral_export(**arguments)
    return json.loads(referral.package.content)


def _consent_allows_identity(case) -> None:
    for consent in Consent.objects.select_related("case__survivor").filter(case=case):
        consent.identity = True
        consent.save()


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_bundle_is_a_transaction_whose_references_all_resolve(world, clinician):
    bundle = _bundle(clinician, world)
    assert bundle["type"] == "transaction"
    for entry in bundle["entry"]:
        assert entry["fullUrl"].startswith("urn:uuid:")
        uuid.UUID(entry["fullUrl"].removeprefix("urn:uuid:"))  # a real UUID, not "<uuid>-0"
        assert entry["request"] == {"method": "POST", "url": entry["resource"]["resourceType"]}
        assert entry["resource"]["meta"]["security"][0]["code"] == "R"
    assert fhir.unresolved_references(bundle) == []
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])
    assert bundle["meta"]["security"] == fhir.SECURITY


def test_a_collection_bundle_can_be_asked_for(world, clinician):
    bundle = _bundle(clinician, world, bundle_type="collection")
    assert bundle["type"] == "collection"
    assert all("request" not in entry for entry in bundle["entry"])
    assert fhir.unresolved_references(bundle) == []


def test_codes_travel_with_their_systems_and_nothing_is_invented(world, clinician):
    bundle = _bundle(clinician, world)
    medications = _resources(bundle, "MedicationStatement")
    coded = next(
        m for m in medications if m["medicationCodeableConcept"]["text"] == "Salbutamol inhaler"
    )
    assert coded["medicationCodeableConcept"]["coding"] == [
        {"system": RXNORM, "code": "745679", "display": "Salbutamol inhaler"}
    ]
    assert coded["status"] == "active"
    plain = next(m for m in medications if m["medicationCodeableConcept"]["text"] == "Paracetamol")
    assert "coding" not in plain["medicationCodeableConcept"] and plain["status"] == "unknown"
    allergy = _resources(bundle, "AllergyIntolerance")[0]
    assert allergy["code"]["coding"][0] == {
        "system": SNOMED,
        "code": "91936005",
        "display": "Penicillin allergy",
    }
    classes = {e["type"][0]["text"]: e["class"]["code"] for e in _resources(bundle, "Encounter")}
    assert classes == {"Phone": "VR", "Medical": "AMB"}


def test_the_consent_says_for_what_until_when_to_whom_and_whether_identity_may_go(world, clinician):
    bundle = _bundle(clinician, world)
    consent = _resources(bundle, "Consent")[0]
    assert "Continuing asthma care" in consent["text"]["div"]
    assert "interpreter" in consent["text"]["div"]
    provision = consent["provision"]
    assert provision["period"]["end"] and provision["purpose"][0]["code"] == "TREAT"
    recipient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Organization")
    assert provision["actor"][0]["reference"]["reference"] == recipient["fullUrl"]
    assert provision["provision"][0]["type"] == "deny"  # identity not consented


def test_identity_goes_only_when_chosen_and_then_with_languages(world, clinician, caseworker):
    without = _bundle(clinician, world)
    patient = _resources(without, "Patient")[0]
    assert set(patient) == {"resourceType", "identifier", "meta"}
    _consent_allows_identity(world)
    with_identity = _bundle(clinician, world, include_identity=True)
    patient = _resources(with_identity, "Patient")[0]
    assert patient["name"] == [{"family": "Haddad", "given": ["Amira"]}]
    assert patient["communication"][0]["language"]["coding"][0] == {
        "system": "urn:ietf:bcp:47",
        "code": "ar",
    }
    assert patient["communication"][1]["language"] == {"text": "English"}


@pytest.mark.parametrize("bundle_type", ["transaction", "collection"])
def test_two_outside_validators_find_nothing_wrong(world, clinician, bundle_type):
    """The official FHIR R4 JSON schema and @medplum/core's validator (structure and
    FHIRPath invariants such as bdl-3), on the whole bundle and on each resource."""
    _consent_allows_identity(world)
    bundle = _bundle(clinician, world, include_identity=True, bundle_type=bundle_type)
    report = fhir_validation([bundle, *[e["resource"] for e in bundle["entry"]]])
    problems = [r for r in report if r["schema"] or r["medplum"]]
    assert problems == [], problems
    assert len(report) == len(bundle["entry"]) + 1


def test_the_validators_do_catch_a_broken_bundle(world, clinician):
    """The check above can fail: a bundle without request entries is refused."""
    bundle = _bundle(clinician, world)
    for entry in bundle["entry"]:
        entry.pop("request")
    report = fhir_validation([bundle])
    assert report[0]["medplum"], report


@pytest.mark.parametrize(
    "item",
    [
        {"display": "Asthma", "code": "195967001  x", "system": SNOMED},  # double space
        {"display": "Asthma", "code": "195967001\tx", "system": SNOMED},  # a tab
        {"display": "Asthma", "code": "195967001"},  # a code without its system
        {"display": "Asthma", "system": SNOMED},
        {"display": "Asthma", "code": "1", "system": "not a uri"},
    ],
)
def test_codes_are_checked_as_fhir_tokens_at_input(api, world, clinician, item):
    """Item 7 of the outside review: a code with a double space used to crash the
    export with a 500 and copy the value into the server log."""
    response = api(clinician).post(
        f"/api/v1/cases/{world.reference}/encounters/",
        {
            "occurred_at": timezone.now().isoformat(),
            "kind": "medical",
            "clinical": {"conditions": [item]},
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "195967001" not in response.content.decode()


def test_a_stored_code_that_is_not_a_fhir_token_is_sent_as_text(world, clinician, monkeypatch):
    """Data recorded before codes were checked still exports, as text only."""
    monkeypatch.setattr(validators, "validate_clinical", lambda block: None)
    add_encounter(
        clinician,
        world,
        kind="medical",
        clinical={"conditions": [{"display": "Old entry", "code": "a  b", "system": SNOMED}]},
    )
    bundle = _bundle(clinician, world)
    old = next(c for c in _resources(bundle, "Condition") if c["code"]["text"] == "Old entry")
    assert "coding" not in old["code"]


def _root_log_output() -> tuple[io.StringIO, list]:
    """Point the configured root handlers at a buffer (the real handlers, with their
    real filters)."""
    buffer = io.StringIO()
    restore = []
    handlers = {*logging.getLogger().handlers, *logging.getLogger("django.request").handlers}
    for handler in handlers:
        if type(handler) is logging.StreamHandler:
            restore.append((handler, handler.setStream(buffer)))
    assert restore, "the configured console handler"
    return buffer, restore


def test_an_export_that_fails_validation_is_a_4xx_and_the_log_holds_no_value(
    api, world, clinician, monkeypatch
):
    marker = "MARKER-CODE-8812  twice"

    def broken(item):
        return {"text": item["display"], "coding": [{"system": SNOMED, "code": marker}]}

    monkeypatch.setattr(fhir, "_concept", broken)
    buffer, restore = _root_log_output()
    try:
        client = api(clinician)
        client.raise_request_exception = False
        response = client.post(
            f"/api/v1/cases/{world.reference}/referrals/",
            {
                "recipient": "riverside",
                "purpose": "Continuing asthma care",
                "sections": ["clinical"],
                "format": "fhir",
            },
            format="json",
        )
    finally:
        for handler, stream in restore:
            handler.setStream(stream)
    assert response.status_code == 422 and response.json()["code"] == "export_invalid"
    assert "MARKER-CODE" not in response.content.decode()
    logged = buffer.getvalue()
    assert "FHIR bundle refused" in logged
    assert "MARKER-CODE" not in logged


def test_the_log_filter_removes_inputs_that_exceptions_carry():
    """Whatever raises them: pydantic's ``input_value=...`` never reaches a handler."""
    from pydantic import BaseModel, ValidationError

    class Strict(BaseModel):
        code: int

    typed_by_someone = "MARKER-SECRET-NAME " + "Fatima"
    buffer, restore = _root_log_output()
    try:
        try:
            Strict(code=typed_by_someone)
        except ValidationError:
            logging.getLogger("haven.test").exception("validation failed")
    finally:
        for handler, stream in restore:
            handler.setStream(stream)
    logged = buffer.getvalue()
    assert "validation failed" in logged and "input_value=[hidden]" in logged
    assert "MARKER-SECRET" not in logged and "Fatima" not in logged
