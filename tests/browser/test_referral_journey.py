"""A clinician's referral in a real browser: refused without consent, the caseworker
records consent, the wizard previews and generates an encrypted PDF that opens with the
passphrase and holds the chosen content and no identity. AS9-TRF-1, AS9-TRF-2,
AS9-TRF-3."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from access.roles import Role
from access.services import grant_assign
from cases.services import organisation_add
from tests.browser.conftest import login, shot
from tests.factories import MARKERS, TeamFactory, UserFactory, add_encounter, open_case

pytestmark = pytest.mark.django_db(transaction=True)


def test_referral_needs_consent_then_sends_an_encrypted_pdf(new_page):
    team = TeamFactory(slug="north")
    worker = UserFactory(username="worker", role=Role.CASEWORKER, team=team)
    boss = UserFactory(username="boss", role=Role.SUPERVISOR, team=team)
    doctor = UserFactory(username="doctor", role=Role.CLINICIAN, team=team)
    organisation_add(actor=boss, name="Riverside Clinic", slug="riverside")
    case = open_case(worker)
    grant_assign(case=case, user=doctor, granted_by=boss)
    add_encounter(worker, case)

    clinician = new_page()
    login(clinician, doctor)
    clinician.goto(f"/cases/{case.reference}/referral/")
    clinician.get_by_label("Recipient").select_option("riverside")
    clinician.get_by_label("Purpose").fill("Continuing care")
    clinician.get_by_role("button", name="Check consent").click()
    clinician.get_by_text("No valid consent covers this recipient").wait_for()

    caseworker = new_page()
    login(caseworker, worker)
    caseworker.goto(f"/cases/{case.reference}/")
    caseworker.get_by_role("link", name="Record consent").click()
    form = caseworker.locator("form[data-draft]")
    form.get_by_label("What the person agreed to").select_option("referral")
    form.get_by_label("Recipient (for referral or legal)").select_option("riverside")
    form.get_by_label("Purpose").fill("Continuing care")
    form.get_by_label("Verbal").check()
    form.get_by_label("Given at").fill("2026-01-10T10:00")
    form.get_by_role("button", name="Record consent").click()
    caseworker.get_by_text("Consent recorded.").wait_for()

    clinician.goto(f"/cases/{case.reference}/referral/")
    clinician.get_by_label("Recipient").select_option("riverside")
    clinician.get_by_label("Purpose").fill("continuing care")
    clinician.get_by_role("button", name="Check consent").click()
    clinician.get_by_text("Consent found").wait_for()
    clinician.get_by_label("Care summary").check()
    clinician.get_by_label("Encounters", exact=True).check()
    clinician.get_by_role("button", name="Preview").click()
    clinician.get_by_role("heading", name="Exactly what will be sent").wait_for()
    preview = clinician.locator("pre.preview").inner_text()
    assert MARKERS["summary"] in preview and MARKERS["given_name"] not in preview
    shot(clinician, "30-referral-preview")
    clinician.get_by_role("button", name="Generate package").click()
    passphrase = clinician.locator("#passphrase").inner_text()
    assert re.fullmatch(r"([2-9A-Z]{4}-){5}[2-9A-Z]{4}", passphrase)
    shot(clinician, "31-referral-done")
    with clinician.expect_download() as download_info:
        clinician.get_by_role("link", name="Download the package").click()
    pdf = open(download_info.value.path(), "rb").read()  # noqa: PTH123
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.is_encrypted and reader.decrypt(passphrase) != 0
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert MARKERS["summary"] in text and MARKERS["notes"] in text
    assert MARKERS["given_name"] not in text and MARKERS["family_name"] not in text
    assert "Riverside Clinic" in text and "worker" not in text.replace("Caseworker", "")
