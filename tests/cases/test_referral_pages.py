"""Consent and referral on the web. AS9-COL-2, AS9-TRF-1, AS9-TRF-2, AS9-TRF-3."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from access.roles import Role
from access.services import grant_assign
from cases.models import Consent, Referral
from cases.services import consent_record, organisation_add
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(caseworker, clinician, supervisor):
    organisation_add(actor=supervisor, name="Riverside Clinic", slug="riverside")
    case = open_case(caseworker)
    grant_assign(case=case, user=clinician, granted_by=caseworker)
    add_encounter(caseworker, case)
    return case


def _when() -> str:
    return timezone.localtime(timezone.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")


def test_the_case_page_records_and_withdraws_consent(caseworker, setup):
    client = web_client(caseworker)
    page = client.get(f"/cases/{setup.reference}/").content.decode()
    assert "Record consent" in page and "No consent recorded" in page
    response = client.post(
        f"/cases/{setup.reference}/consents/",
        {
            "scope": "referral",
            "recipient": "riverside",
            "purpose": "Continuing care",
            "method": "written",
            "given_at": _when(),
        },
    )
    assert response.status_code == 302
    consent = Consent.objects.get()
    assert (consent.scope, consent.recipient.slug, consent.recorded_by) == (
        "referral",
        "riverside",
        caseworker,
    )
    page = client.get(f"/cases/{setup.reference}/").content.decode()
    assert "Riverside Clinic" in page and "Withdraw" in page
    client.post(f"/cases/{setup.reference}/consents/{consent.pk}/withdraw/", {"reason": "asked"})
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None


def test_the_wizard_refuses_without_consent_then_previews_and_generates(
    clinician, caseworker, setup, last_event
):
    client = web_client(clinician)
    start = client.get(f"/cases/{setup.reference}/referral/")
    assert start.status_code == 200 and "Check consent" in start.content.decode()
    base = {
        "recipient": "riverside",
        "scope": "referral",
        "purpose": "Continuing care",
        "format": "pdf",
    }
    refused = client.post(f"/cases/{setup.reference}/referral/", {**base, "step": "details"})
    assert refused.status_code == 403
    assert "No valid consent covers" in refused.content.decode()
    assert last_event(action="referral.export").reason == "consent_required"
    consent_record(
        actor=caseworker,
        case=setup,
        scope="referral",
        recipient_slug="riverside",
        purpose="continuing CARE",
        method="verbal",
        given_at=timezone.now() - dt.timedelta(hours=1),
    )
    details = client.post(f"/cases/{setup.reference}/referral/", {**base, "step": "details"})
    assert "Consent found" in details.content.decode()
    assert "Include identity" not in details.content.decode()  # the consent does not allow it
    preview = client.post(
        f"/cases/{setup.reference}/referral/", {**base, "step": "preview", "sections": ["summary"]}
    )
    text = preview.content.decode()
    assert "Exactly what will be sent" in text and MARKERS["summary"] in text
    assert MARKERS["notes"] not in text and MARKERS["given_name"] not in text
    assert Referral.objects.count() == 0
    done = client.post(
        f"/cases/{setup.reference}/referral/", {**base, "step": "generate", "sections": ["summary"]}
    )
    page = done.content.decode()
    referral = Referral.objects.get()
    assert "Passphrase (shown only now)" in page and referral.sha256 in page
    assert client.get(f"/api/v1/referrals/{referral.id}/download/").status_code == 200
    assert client.get(f"/api/v1/referrals/{referral.id}/download/").status_code == 410


def test_the_directory_page(supervisor, caseworker, setup):
    page = web_client(caseworker).get("/organisations/").content.decode()
    assert "Riverside Clinic" in page and "Add an organisation" not in page
    response = web_client(supervisor).post(
        "/organisations/", {"name": "Legal Aid", "slug": "legal-aid"}
    )
    assert response.status_code == 302
    assert "Legal Aid" in web_client(caseworker).get("/organisations/").content.decode()


def test_api_intake_records_the_storage_consent(api, caseworker):
    """AS9-COL-2."""
    response = api(caseworker).post(
        "/api/v1/cases/",
        {"storage_consent": {"method": "verbal", "interpreter_used": True}},
        format="json",
    )
    assert response.status_code == 201
    consent = Consent.objects.get()
    assert (consent.scope, consent.method, consent.interpreter_used, consent.recorded_by) == (
        "storage",
        "verbal",
        True,
        caseworker,
    )


def test_a_scanned_consent_form_is_stored_encrypted_and_read_back_by_case_readers(
    caseworker, make_staff, setup
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    scan = b"%PDF-1.7\n" + MARKERS["given_name"].encode() + b" signature"
    client = web_client(caseworker)
    response = client.post(
        f"/cases/{setup.reference}/consents/",
        {
            "scope": "storage",
            "method": "written",
            "given_at": _when(),
            "form": SimpleUploadedFile("scan.pdf", scan, content_type="application/pdf"),
        },
    )
    assert response.status_code == 302
    consent = Consent.objects.get()
    assert consent.form_type == "application/pdf"
    with connection.cursor() as cursor:
        cursor.execute("SELECT form FROM cases_consent")
        assert MARKERS["given_name"].encode() not in bytes(cursor.fetchone()[0])
    page = client.get(f"/cases/{setup.reference}/").content.decode()
    assert "signed form" in page
    download = client.get(f"/cases/{setup.reference}/consents/{consent.pk}/form/")
    assert download.status_code == 200 and download.content == scan
    outsider = make_staff(Role.CASEWORKER, username="nosy")
    assert (
        web_client(outsider)
        .get(f"/cases/{setup.reference}/consents/{consent.pk}/form/")
        .status_code
        == 404
    )


def test_a_scanned_form_that_is_not_a_pdf_or_image_is_refused(api, caseworker, setup):
    import base64

    response = api(caseworker).post(
        f"/api/v1/cases/{setup.reference}/consents/",
        {
            "scope": "storage",
            "method": "written",
            "given_at": timezone.now().isoformat(),
            "form_base64": base64.b64encode(b"MZ executable").decode(),
        },
        format="json",
    )
    assert response.status_code == 400
    assert Consent.objects.count() == 0
