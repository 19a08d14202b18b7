"""Data-subject requests: the survivor's own copy (AS9-END-2, GDPR Art. 15) and erasure
on request (AS9-END-3, Art. 17), decided by a DPO who is not the requester."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from pypdf import PdfReader

from access.ledger import verify
from access.services import grant_assign, grant_revoke
from cases.models import Case, SubjectPackage, SubjectRequest, Survivor, Tombstone
from cases.services import (
    attachment_add,
    consent_record,
    legal_hold_place,
    organisation_add,
    referral_download,
    referral_export,
    subject_request_decide,
    subject_request_make,
)
from tests.factories import MARKERS, add_encounter, open_case

pytestmark = pytest.mark.django_db

CLINICAL = {"conditions": [{"display": MARKERS["condition"]}]}


@pytest.fixture
def clinician(make_staff):
    """A username that cannot appear by chance: the copy names roles, never staff."""
    return make_staff("clinician", username="staffname-qx7781")


@pytest.fixture
def full_case(clinician, supervisor, caseworker):
    """A case with an encounter and its clinical block, a consent and a disclosure."""
    case = open_case(caseworker)
    grant_assign(case=case, user=clinician, granted_by=supervisor, reason="clinic")
    add_encounter(clinician, case, clinical=CLINICAL)
    organisation_add(actor=supervisor, name="Safe House Trust", slug="safe-house")
    consent_record(
        actor=clinician,
        case=case,
        scope="referral",
        method="written",
        given_at=timezone.now() - dt.timedelta(days=1),
        recipient_slug="safe-house",
        purpose="shelter place",
    )
    referral, _ = referral_export(
        actor=clinician,
        case=case,
        recipient_slug="safe-house",
        purpose="shelter place",
        sections=["summary"],
        include_identity=False,
        fmt="fhir",
    )
    referral_download(actor=clinician, referral_id=referral.id)
    return case


def make(api, user, case, **body):
    body.setdefault("reason", "She asked for a copy at her visit")
    return api(user).post(f"/api/v1/cases/{case.reference}/requests/", body, format="json")


def test_AS9_END_2_an_identity_reader_asks_and_the_dpo_queue_shows_no_content(
    api, full_case, clinician, dpo, caseworker, last_event
):
    made = make(api, clinician, full_case, kind="access", format="json")
    assert made.status_code == 201, made.content
    assert {k: made.json()[k] for k in ("kind", "status")} == {
        "kind": "access",
        "status": "pending",
    }
    assert last_event(action="subject_request.make").case_reference == full_case.reference
    queue = api(dpo).get("/api/v1/requests/", {"status": "pending"}).json()
    assert queue["count"] == 1
    row = queue["results"][0]
    assert row["reference"] == full_case.reference and "reason" not in row
    assert MARKERS["family_name"] not in json.dumps(queue)
    assert "She asked" not in json.dumps(queue)
    assert api(caseworker).get("/api/v1/requests/").json()["count"] == 0  # not theirs
    again = make(api, clinician, full_case, kind="access")
    assert (again.status_code, again.json()["code"]) == (409, "request_pending")


def test_AS9_END_2_roles_without_identity_cannot_ask(api, full_case, dpo):
    assert make(api, dpo, full_case, kind="access").status_code in (403, 404)


def test_AS9_END_2_the_requester_cannot_approve_their_own_request(full_case, clinician, dpo):
    request = subject_request_make(actor=clinician, case=full_case, kind="access", reason="copy")
    request.requested_by = dpo  # a DPO who somehow made the request: four eyes still hold
    request.save()
    with pytest.raises(Exception) as refused:
        subject_request_decide(actor=dpo, request_id=request.pk, decision="approve")
    assert getattr(refused.value, "code", "") == "own_request"
    assert SubjectRequest.objects.get(pk=request.pk).status == "pending"


def test_AS9_END_2_only_a_dpo_decides(api, full_case, clinician, supervisor):
    request = subject_request_make(actor=clinician, case=full_case, kind="access", reason="copy")
    url = f"/api/v1/requests/{request.pk}/decide/"
    assert api(supervisor).post(url, {"decision": "approve"}, format="json").status_code == 403
    assert SubjectRequest.objects.get(pk=request.pk).status == "pending"


DOCUMENT = b"%PDF-1.4 the survivor's own letter"


def _with_document(case, actor):
    attachment_add(actor=actor, case=case, kind="document", title="Паспорт/копия", data=DOCUMENT)


def test_AS9_END_2_the_json_copy_holds_everything_and_downloads_once(
    api, full_case, clinician, dpo, last_event
):
    _with_document(full_case, clinician)
    request_id = make(api, clinician, full_case, kind="access", format="json").json()["id"]
    decided = api(dpo).post(
        f"/api/v1/requests/{request_id}/decide/", {"decision": "approve"}, format="json"
    )
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert last_event(action="subject_request.package").actor_id == dpo.pk
    # The DPO sees the status, not the package.
    dpo_view = api(dpo).get(f"/api/v1/requests/{request_id}/").json()
    assert "download_url" not in dpo_view
    detail = api(clinician).get(f"/api/v1/requests/{request_id}/").json()
    response = api(clinician).get(detail["download_url"])
    assert response.status_code == 200
    package = json.loads(response.content)
    assert package["identity"]["family_name"] == MARKERS["family_name"]
    assert package["case"]["summary"] == MARKERS["summary"]
    (encounter,) = package["encounters"]
    assert encounter["notes"] == MARKERS["notes"]
    assert encounter["clinical"]["conditions"][0]["display"] == MARKERS["condition"]
    assert encounter["recorded_by"] == "Clinician"
    (disclosure,) = package["disclosures"]
    assert disclosure["recipient"] == "Safe House Trust"
    assert disclosure["sent_at"] is not None and disclosure["consent"]["scope"] == "referral"
    assert package["consents"][0]["purpose"] == "shelter place"
    (document,) = package["documents"]  # the file itself, not only its title
    assert (document["title"], document["file"]) == ("Паспорт/копия", "01-Паспорткопия.pdf")
    assert base64.b64decode(document["content_base64"]) == DOCUMENT
    kinds = {row["kind"] for row in package["access"]}
    assert {"case.view", "referral.download"} <= kinds or "referral.download" in kinds
    assert {row["role"] for row in package["access"]} <= {
        "Caseworker",
        "Clinician",
        "Supervisor",
        "Data protection officer",
        "Administrator",
        "System",
    }
    assert clinician.username not in response.content.decode()
    again = api(clinician).get(detail["download_url"])
    assert (again.status_code, again.json()["code"]) == (410, "gone")
    assert SubjectRequest.objects.get(pk=request_id).status == "done"
    assert verify().intact


def test_AS9_END_2_the_pdf_copy_opens_with_the_passphrase_shown_once(
    api, full_case, clinician, dpo
):
    _with_document(full_case, clinician)
    request_id = make(api, clinician, full_case, kind="access", format="pdf").json()["id"]
    api(dpo).post(f"/api/v1/requests/{request_id}/decide/", {"decision": "approve"}, format="json")
    first = api(clinician).get(f"/api/v1/requests/{request_id}/").json()
    passphrase = first["passphrase"]
    assert "passphrase" not in api(clinician).get(f"/api/v1/requests/{request_id}/").json()
    with connection.cursor() as cursor:  # sealed under the survivor's key, not a bare PDF
        cursor.execute(
            "SELECT content FROM cases_subjectpackage WHERE request_id = %s",
            [SubjectRequest._meta.pk.get_db_prep_value(uuid.UUID(request_id), connection)],
        )
        assert b"%PDF" not in bytes(cursor.fetchone()[0])
    response = api(clinician).get(first["download_url"])
    reader = PdfReader(io.BytesIO(response.content))
    assert reader.is_encrypted
    assert reader.decrypt(passphrase)
    text = "".join(page.extract_text() for page in reader.pages)
    assert MARKERS["family_name"] in text
    assert "Who accessed your record" in text
    assert clinician.username not in text
    assert "01-Паспорткопия.pdf" in text  # named in the list, and carried inside
    assert reader.attachments == {"01-Паспорткопия.pdf": [DOCUMENT]}


def test_AS9_END_2_a_requester_who_lost_access_gets_nothing_and_the_package_is_destroyed(
    api, full_case, clinician, dpo, supervisor
):
    request_id = make(api, clinician, full_case, kind="access", format="json").json()["id"]
    api(dpo).post(f"/api/v1/requests/{request_id}/decide/", {"decision": "approve"}, format="json")
    grant = full_case.grants.get(user=clinician)
    grant_revoke(case=full_case, grant_id=grant.pk, revoked_by=supervisor, reason="left")
    response = api(clinician).get(f"/api/v1/requests/{request_id}/download/")
    assert response.status_code == 404
    assert not SubjectPackage.objects.filter(pk=request_id).exists()


def test_AS9_END_2_a_refused_request_has_no_package(api, full_case, clinician, dpo):
    request_id = make(api, clinician, full_case, kind="access").json()["id"]
    refused = api(dpo).post(
        f"/api/v1/requests/{request_id}/decide/",
        {"decision": "refuse", "note": "identity not confirmed"},
        format="json",
    )
    assert refused.json()["status"] == "refused"
    assert not SubjectPackage.objects.filter(pk=request_id).exists()
    assert "download_url" not in api(clinician).get(f"/api/v1/requests/{request_id}/").json()
    again = api(dpo).post(
        f"/api/v1/requests/{request_id}/decide/", {"decision": "approve"}, format="json"
    )
    assert (again.status_code, again.json()["code"]) == (409, "decided")


def test_AS9_END_3_approved_erasure_destroys_the_survivor_at_once(
    api, full_case, clinician, dpo, caseworker, last_event
):
    other = open_case(caseworker, identity={"family_name": "Other"}, summary="other summary")
    request_id = make(api, clinician, full_case, kind="erasure").json()["id"]
    decided = api(dpo).post(
        f"/api/v1/requests/{request_id}/decide/", {"decision": "approve"}, format="json"
    )
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "done"
    assert Survivor.objects.get(pk=full_case.survivor_id).wrapped_dek is None
    assert Tombstone.objects.get(survivor_id=full_case.survivor_id).reason == "erased"
    assert not Case.objects.filter(pk=full_case.pk).exists()
    response = api(clinician).get(f"/api/v1/cases/{full_case.reference}/")
    assert (response.status_code, response.json()["code"]) == (410, "gone")
    assert last_event(action="survivor.erase").case_reference == full_case.reference
    # The request stays, content-free, as the record that it was carried out.
    kept = SubjectRequest.objects.get(pk=request_id)
    assert (kept.status, kept.reason) == ("done", None)
    assert Case.objects.get(pk=other.pk).summary == "other summary"
    assert verify().intact


def test_AS9_END_3_erasure_is_refused_while_the_case_is_on_legal_hold(
    api, full_case, clinician, dpo, supervisor, last_event
):
    legal_hold_place(actor=supervisor, case=full_case, reason="trafficking trial")
    request_id = make(api, clinician, full_case, kind="erasure").json()["id"]
    refused = api(dpo).post(
        f"/api/v1/requests/{request_id}/decide/", {"decision": "approve"}, format="json"
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "legal_hold")
    assert SubjectRequest.objects.get(pk=request_id).status == "pending"
    assert Survivor.objects.get(pk=full_case.survivor_id).wrapped_dek is not None
    event = last_event(action="subject_request.decide")
    assert (event.outcome, event.reason) == ("denied", "legal_hold")


def test_bad_input_is_refused_with_codes(api, full_case, clinician, dpo):
    assert make(api, clinician, full_case, kind="everything").status_code == 400
    assert make(api, clinician, full_case, kind="access", format="docx").status_code == 400
    assert make(api, clinician, full_case, kind="access", reason="").status_code == 400
    request_id = make(api, clinician, full_case, kind="access").json()["id"]
    bad = api(dpo).post(
        f"/api/v1/requests/{request_id}/decide/", {"decision": "maybe"}, format="json"
    )
    assert bad.status_code == 400
    assert api(dpo).get("/api/v1/requests/", {"status": "nonsense"}).status_code == 400
    assert api(dpo).get("/api/v1/requests/not-a-uuid/").status_code == 404
