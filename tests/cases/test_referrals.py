"""Consent and referral export: nothing leaves without a consent valid now for that
recipient and purpose; only the chosen sections; identity only when chosen and
consented; encrypted PDF; download once. AS9-TRF-1 to AS9-TRF-6, AS9-USE-3."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader

from access.models import CaseGrant
from access.roles import Role
from access.services import grant_assign
from audit.models import AccessEvent
from cases.models import Consent, Referral, ReferralPackage
from cases.services import organisation_add
from tests.factories import MARKERS, add_encounter, open_case

pytestmark = pytest.mark.django_db

CLINICAL = {
    "conditions": [
        {"display": MARKERS["condition"], "code": "193462001", "system": "http://snomed.info/sct"}
    ],
    "allergies": [{"display": "Penicillin"}],
}


@pytest.fixture
def clinic(supervisor):
    return organisation_add(actor=supervisor, name="Riverside Clinic", slug="riverside")


@pytest.fixture
def case(caseworker, clinician):
    case = open_case(caseworker)
    grant_assign(case=case, user=clinician, granted_by=caseworker)
    add_encounter(caseworker, case, occurred_at=timezone.now() - dt.timedelta(days=3))
    add_encounter(clinician, case, kind="medical", notes="Seen in clinic", clinical=CLINICAL)
    return case


def _consent(api, user, case, **overrides):
    body = {
        "scope": "referral",
        "recipient": "riverside",
        "purpose": "Continuing care",
        "method": "written",
        "given_at": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
    }
    body.update(overrides)
    response = api(user).post(f"/api/v1/cases/{case.reference}/consents/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _export(api, user, case, **overrides):
    body = {
        "recipient": "riverside",
        "purpose": "Continuing care",
        "sections": ["summary"],
        "include_identity": False,
        "format": "fhir",
    }
    body.update(overrides)
    return api(user).post(f"/api/v1/cases/{case.reference}/referrals/", body, format="json")


def _download(api, user, created):
    return api(user).get(created["download_url"])


def test_export_without_consent_is_refused_with_consent_required(
    api, clinician, case, clinic, last_event
):
    """AS9-TRF-1."""
    response = _export(api, clinician, case)
    assert response.status_code == 403
    assert response.json()["code"] == "consent_required"
    assert Referral.objects.count() == 0
    event = last_event(action="referral.export")
    assert (event.actor_id, event.case_reference, event.outcome, event.reason) == (
        clinician.pk,
        case.reference,
        "denied",
        "consent_required",
    )


def test_a_consent_for_another_recipient_or_purpose_does_not_cover(
    api, caseworker, supervisor, clinician, case, clinic
):
    organisation_add(actor=supervisor, name="Other NGO", slug="other")
    _consent(api, caseworker, case, recipient="other")
    _consent(api, caseworker, case, scope="legal")
    assert _export(api, clinician, case).status_code == 403
    assert (
        _export(api, clinician, case, scope="legal").status_code == 201
    )  # legal consent for riverside
    assert _export(api, clinician, case, recipient="other", scope="legal").status_code == 403


def test_fhir_export_validates_holds_only_the_chosen_sections_and_downloads_once(
    api, caseworker, clinician, case, clinic, last_event
):
    """AS9-TRF-2, AS9-TRF-3, AS9-TRF-4, AS9-TRF-5, AS9-TRF-6."""
    _consent(api, caseworker, case)
    created = _export(api, clinician, case, sections=["encounters"]).json()
    assert set(created) == {"id", "download_url", "sha256", "available_until"}
    package = _download(api, clinician, created)
    assert package.status_code == 200 and package["Content-Type"] == "application/fhir+json"
    assert hashlib.sha256(package.content).hexdigest() == created["sha256"]
    bundle = Bundle.model_validate_json(package.content)
    kinds = {entry.resource.__resource_type__ for entry in bundle.entry}
    assert {"Patient", "Encounter", "Consent", "Provenance"} <= kinds
    assert not kinds & {"Condition", "AllergyIntolerance"}  # clinical not chosen
    text = package.content.decode()
    assert MARKERS["notes"] in text and MARKERS["summary"] not in text
    assert MARKERS["given_name"] not in text and MARKERS["condition"] not in text
    assert caseworker.username not in text and "Caseworker" in text  # role labels
    again = _download(api, clinician, created)
    assert again.status_code == 410 and again.json()["code"] == "gone"
    assert ReferralPackage.objects.count() == 0
    record = Referral.objects.get()
    assert (record.sections, record.include_identity, record.sha256) == (
        ["encounters"],
        False,
        created["sha256"],
    )
    assert last_event(action="referral.download", outcome="denied").reason == "gone"


def test_clinical_and_identity_only_when_chosen_and_consented(
    api, caseworker, clinician, case, clinic
):
    _consent(api, caseworker, case)
    refused = _export(api, clinician, case, include_identity=True)
    assert refused.status_code == 403 and refused.json()["code"] == "consent_required"
    _consent(api, caseworker, case, identity=True)
    created = _export(api, clinician, case, sections=["clinical"], include_identity=True).json()
    text = _download(api, clinician, created).content.decode()
    bundle = json.loads(text)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Condition", "AllergyIntolerance"} <= kinds
    assert MARKERS["condition"] in text and MARKERS["family_name"] in text


def test_a_supervisor_cannot_export_clinical_detail(api, caseworker, supervisor, case, clinic):
    _consent(api, caseworker, case)
    assert _export(api, supervisor, case, sections=["clinical"]).status_code == 403


def test_pdf_is_aes256_encrypted_marked_on_every_page_and_passphrase_never_stored(
    api, caseworker, clinician, case, clinic
):
    _consent(api, caseworker, case)
    for _ in range(40):  # enough for several pages
        add_encounter(caseworker, case, notes="Follow-up visit " * 10)
    created = _export(api, clinician, case, format="pdf", sections=["summary", "encounters"]).json()
    passphrase = created["passphrase"]
    package = _download(api, clinician, created).content
    reader = PdfReader(io.BytesIO(package))
    assert reader.is_encrypted
    assert reader.decrypt("wrong") == 0
    assert reader.decrypt(passphrase) != 0
    encrypt = reader.trailer["/Encrypt"]
    assert (encrypt["/V"], encrypt["/R"]) == (5, 6)  # AES-256 (PDF 2.0 security handler)
    assert len(reader.pages) > 1
    for page in reader.pages:
        text = page.extract_text()
        assert "Riverside Clinic" in text and created["id"] in text
    full = "\n".join(p.extract_text() for p in reader.pages)
    assert MARKERS["summary"] in full and MARKERS["given_name"] not in full
    stored = str(list(Referral.objects.values())) + str(list(AccessEvent.objects.values()))
    assert passphrase not in stored


def test_withdrawal_stops_further_exports_at_once(
    api, caseworker, clinician, case, clinic, last_event
):
    consent = _consent(api, caseworker, case)
    assert _export(api, clinician, case).status_code == 201
    withdrawn = api(caseworker).post(
        f"/api/v1/cases/{case.reference}/consents/{consent['id']}/withdraw/",
        {"reason": "Changed her mind"},
        format="json",
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["active"] is False
    assert _export(api, clinician, case).status_code == 403
    assert last_event(action="consent.withdraw").case_reference == case.reference


def test_an_expired_consent_does_not_cover(api, caseworker, clinician, case, clinic):
    consent = _consent(
        api, caseworker, case, expires_at=(timezone.now() + dt.timedelta(hours=1)).isoformat()
    )
    assert _export(api, clinician, case).status_code == 201
    from django.db.models import QuerySet  # time passes: the end is now (test-only write)

    QuerySet.update(Consent.objects.filter(pk=consent["id"]), expires_at=timezone.now())
    assert _export(api, clinician, case).status_code == 403


def test_only_the_exporter_downloads(api, caseworker, clinician, case, clinic, make_staff):
    _consent(api, caseworker, case)
    created = _export(api, clinician, case).json()
    other = make_staff(Role.CLINICIAN, username="other-doc")
    assert api(other).get(created["download_url"]).status_code == 404
    assert _download(api, clinician, created).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {
            "scope": "referral",
            "method": "written",
            "given_at": "2026-01-01T00:00:00Z",
        },  # no recipient
        {
            "scope": "referral",
            "recipient": "nowhere",
            "method": "written",
            "given_at": "2026-01-01T00:00:00Z",
        },
        {"scope": "marketing", "method": "written", "given_at": "2026-01-01T00:00:00Z"},
        {"scope": "storage", "method": "written", "given_at": "2999-01-01T00:00:00Z"},
    ],
)
def test_bad_consents_are_refused(api, caseworker, case, clinic, body):
    before = Consent.objects.count()
    response = api(caseworker).post(
        f"/api/v1/cases/{case.reference}/consents/", body, format="json"
    )
    assert response.status_code == 400
    assert Consent.objects.count() == before


def test_organisations_directory(api, supervisor, caseworker, admin_user):
    created = api(admin_user).post(
        "/api/v1/organisations/", {"name": "Legal Aid", "slug": "legal-aid"}, format="json"
    )
    assert created.status_code == 201
    duplicate = api(supervisor).post(
        "/api/v1/organisations/", {"name": "X", "slug": "legal-aid"}, format="json"
    )
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "conflict"
    assert (
        api(caseworker)
        .post("/api/v1/organisations/", {"name": "Y", "slug": "y"}, format="json")
        .status_code
        == 403
    )
    assert [o["slug"] for o in api(caseworker).get("/api/v1/organisations/").json()["results"]] == [
        "legal-aid"
    ]


def test_expired_packages_are_purged_and_the_record_stays(api, caseworker, clinician, case, clinic):
    """AS9-TRF-3: the server holds a package only until it is collected or expires."""
    from io import StringIO

    from django.core.management import call_command
    from django.db.models import QuerySet

    _consent(api, caseworker, case)
    created = _export(api, clinician, case, format="pdf", sections=["summary"]).json()
    QuerySet.update(Referral.objects.filter(pk=created["id"]), available_until=timezone.now())
    out = StringIO()
    call_command("purge_referral_packages", stdout=out, stderr=StringIO())
    assert "purged 1" in out.getvalue()
    assert ReferralPackage.objects.count() == 0
    assert Referral.objects.filter(pk=created["id"], sha256=created["sha256"]).exists()
    assert _download(api, clinician, created).status_code == 410


def test_a_pdf_holds_no_section_that_was_not_chosen(api, caseworker, clinician, case, clinic):
    _consent(api, caseworker, case)
    created = _export(api, clinician, case, format="pdf", sections=["summary"]).json()
    reader = PdfReader(io.BytesIO(_download(api, clinician, created).content))
    reader.decrypt(created["passphrase"])
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert MARKERS["summary"] in text
    assert MARKERS["notes"] not in text and MARKERS["condition"] not in text


def _prepared(api, caseworker, clinician, case):
    _consent(api, caseworker, case)
    created = _export(api, clinician, case).json()
    referral = Referral.objects.get(pk=created["id"])
    assert ReferralPackage.objects.filter(referral=referral).exists()
    return created, referral


def test_a_package_is_not_released_after_the_exporter_lost_access(
    api, caseworker, clinician, case, clinic, last_event
):
    """AS9-TRF-1, AS9-STO-3: the download is the disclosure; access revoked between
    export and download stops it, and the package is destroyed."""
    created, referral = _prepared(api, caseworker, clinician, case)
    grant = CaseGrant.objects.get(user=clinician, content_object=case)
    grant.revoked_at = timezone.now()
    grant.save(update_fields=["revoked_at"])
    response = _download(api, clinician, created)
    assert response.status_code == 404
    assert not ReferralPackage.objects.filter(referral=referral).exists()
    referral.refresh_from_db()
    assert referral.downloaded_at is None
    event = last_event(action="referral.download")
    assert (event.actor_id, event.case_reference, event.outcome, event.reason) == (
        clinician.pk,
        case.reference,
        "denied",
        "no_relation",
    )


def test_a_package_is_not_released_after_break_glass_ended(
    api, caseworker, clinic, case, make_staff, last_event
):
    doctor = make_staff("clinician", username="night-doctor")
    response = api(doctor).post(
        f"/api/v1/cases/{case.reference}/break-glass/",
        {"reason": "Emergency admission, allergies needed"},
        format="json",
    )
    assert response.status_code == 201
    _consent(api, caseworker, case)
    created = _export(api, doctor, case).json()
    CaseGrant.objects.filter(user=doctor, kind="break_glass").update(expires_at=timezone.now())
    assert _download(api, doctor, created).status_code == 404
    assert not ReferralPackage.objects.exists()
    assert last_event(action="referral.download").outcome == "denied"


def test_a_package_is_not_released_after_the_consent_was_withdrawn(
    api, caseworker, clinician, case, clinic, last_event
):
    """AS9-TRF-1: withdrawal stops further disclosures, a prepared one included."""
    created, referral = _prepared(api, caseworker, clinician, case)
    api(caseworker).post(
        f"/api/v1/cases/{case.reference}/consents/{referral.consent_id}/withdraw/",
        {"reason": "Changed her mind"},
        format="json",
    )
    response = _download(api, clinician, created)
    assert response.status_code == 403 and response.json()["code"] == "consent_required"
    assert not ReferralPackage.objects.filter(referral=referral).exists()
    event = last_event(action="referral.download")
    assert (event.outcome, event.reason, event.case_reference) == (
        "denied",
        "consent_withdrawn",
        case.reference,
    )
    assert _download(api, clinician, created).status_code == 410  # and it stays gone


def test_purpose_is_free_text_matching_the_consents_own_words(
    api, caseworker, clinician, case, clinic
):
    """Item 12 of the outside review: a contract client sends the purpose its consent
    carries; the match is trimmed and case-insensitive, and the kind of disclosure is
    ``scope`` (referral by default)."""
    _consent(api, caseworker, case, purpose="Medical follow-up after discharge")
    other = _export(api, clinician, case, purpose="Housing support")
    assert other.status_code == 403 and other.json()["code"] == "consent_required"
    legal = _export(
        api, clinician, case, purpose="Medical follow-up after discharge", scope="legal"
    )
    assert legal.status_code == 403
    created = _export(api, clinician, case, purpose="  medical FOLLOW-UP after   discharge ")
    assert created.status_code == 201, created.content
    referral = Referral.objects.select_related("case__survivor").get(pk=created.json()["id"])
    assert (referral.scope, referral.purpose) == ("referral", "Medical follow-up after discharge")
    event = AccessEvent.objects.filter(action="referral.export", outcome="allowed").latest("id")
    assert event.detail["scope"] == "referral" and "Medical" not in str(event.detail)
    for bad in ({"purpose": 7}, {"purpose": ""}, {"scope": "research"}, {"recipient": 12}):
        response = _export(api, clinician, case, **bad)
        assert response.status_code == 400, bad


def test_a_disclosure_consent_must_say_what_it_is_for(api, caseworker, case, clinic):
    body = {
        "scope": "referral",
        "recipient": "riverside",
        "method": "written",
        "given_at": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
    }
    response = api(caseworker).post(
        f"/api/v1/cases/{case.reference}/consents/", body, format="json"
    )
    assert response.status_code == 400
    assert "purpose" in response.json()["errors"]
    assert not Consent.objects.filter(scope="referral").exists()


def test_a_package_can_be_asked_for_as_plain_bytes(api, caseworker, clinician, case, clinic):
    """``Accept: application/octet-stream`` gets the same bytes under that type (what
    generated clients read); refusals stay JSON whatever was asked for."""
    _consent(api, caseworker, case)
    created = _export(api, clinician, case).json()
    client = api(clinician)
    package = client.get(created["download_url"], HTTP_ACCEPT="application/octet-stream")
    assert package.status_code == 200, package.content[:200]
    assert package["Content-Type"] == "application/octet-stream"
    assert hashlib.sha256(package.content).hexdigest() == created["sha256"]
    again = client.get(created["download_url"], HTTP_ACCEPT="application/octet-stream")
    assert again.status_code == 410
    assert again["Content-Type"].startswith("application/json") and again.json()["code"] == "gone"
