"""Documents and photos on a case: type judged by content, image metadata (EXIF, GPS)
removed, sealed with the survivor's key on disk, a photo only with photo consent, every
upload, list and download an event. AS9-COL-2, AS9-STO-1, AS9-STO-2, AS9-USE-1."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from audit.models import AccessEvent
from cases.models import Attachment
from cases.services import consent_record
from cases.services.attachments import storage
from tests.factories import open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db

SECRET_PLACE = "SHELTER-ROAD-12"


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x010E] = SECRET_PLACE  # ImageDescription
    exif[0x8825] = {1: "N", 2: (51.0, 27.0, 0.0), 3: "W", 4: (2.0, 35.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=SECRET_PLACE.encode())
    return out.getvalue()


def _photo_consent(actor, case) -> None:
    consent_record(
        actor=actor,
        case=case,
        scope="photo",
        method="verbal",
        given_at=timezone.now() - dt.timedelta(minutes=5),
    )


def _upload(client, case, data: bytes, *, kind="photo", name="p.jpg", title="Injury, left arm"):
    return client.post(
        f"/api/v1/cases/{case.reference}/attachments/",
        {"file": SimpleUploadedFile(name, data), "kind": kind, "title": title},
        format="multipart",
    )


def test_a_photo_needs_the_survivors_photo_consent(api, caseworker, last_event):
    case = open_case(caseworker)
    refused = _upload(api(caseworker), case, _jpeg_with_gps())
    assert refused.status_code == 403 and refused.json()["code"] == "consent_required"
    assert not Attachment.objects.exists()
    assert last_event(action="attachment.add").outcome == "denied"


def test_image_metadata_is_removed_and_the_file_is_sealed(api, caseworker):
    case = open_case(caseworker)
    _photo_consent(caseworker, case)
    original = _jpeg_with_gps()
    assert SECRET_PLACE.encode() in original
    made = _upload(api(caseworker), case, original)
    assert made.status_code == 201, made.content
    record = Attachment.objects.get()
    with storage().open(record.stored_as, "rb") as handle:
        on_disk = handle.read()
    assert not on_disk.startswith(b"\xff\xd8") and SECRET_PLACE.encode() not in on_disk
    assert "Injury" not in record.stored_as  # the stored name says nothing
    url = f"/api/v1/cases/{case.reference}/attachments/{made.json()['id']}/"
    download = api(caseworker).get(url)
    assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"
    served = download.content
    assert SECRET_PLACE.encode() not in served and b"PhoneMaker" not in served
    with Image.open(io.BytesIO(served)) as image:
        assert image.size == (40, 30)
        assert not image.getexif()
    assert "Injury" not in download["Content-Disposition"]
    # one event per download, naming the attachment
    (event,) = AccessEvent.objects.filter(action="attachment.view", outcome="allowed")
    assert event.detail["id"] == made.json()["id"]


@pytest.mark.parametrize(
    ("data", "kind", "name"),
    [
        (b"<html><script>alert(1)</script></html>", "document", "letter.pdf"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "photo", "p.jpg"),
        (b"%PDF-1.7 fake", "photo", "p.jpg"),  # a PDF is not a photo
        (b"\xff\xd8\xff\xe0 broken jpeg", "photo", "p.jpg"),
    ],
)
def test_types_are_judged_by_content(api, caseworker, data, kind, name):
    case = open_case(caseworker)
    _photo_consent(caseworker, case)
    response = _upload(api(caseworker), case, data, kind=kind, name=name)
    assert response.status_code == 400
    assert not Attachment.objects.exists()


def test_a_file_over_the_limit_is_refused(api, caseworker, settings):
    settings.HAVEN_ATTACHMENT_MAX_BYTES = 1000
    case = open_case(caseworker)
    response = _upload(api(caseworker), case, b"%PDF-" + b"x" * 2000, kind="document")
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_a_document_round_trips_and_outsiders_see_nothing(api, caseworker, make_staff):
    case = open_case(caseworker)
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    made = _upload(api(caseworker), case, pdf, kind="document", name="id.pdf", title="Passport")
    assert made.status_code == 201, made.content
    url = f"/api/v1/cases/{case.reference}/attachments/{made.json()['id']}/"
    assert api(caseworker).get(url).content == pdf
    listed = api(caseworker).get(f"/api/v1/cases/{case.reference}/attachments/").json()
    assert [a["title"] for a in listed["results"]] == ["Passport"]
    outsider = make_staff(username="outsider")
    assert api(outsider).get(url).status_code == 404
    assert api(outsider).get(f"/api/v1/cases/{case.reference}/attachments/").status_code == 404


def test_the_web_page_uploads_and_downloads(caseworker):
    case = open_case(caseworker)
    client = web_client(caseworker)
    page = client.get(f"/cases/{case.reference}/attachments/")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.content.decode()
    response = client.post(
        f"/cases/{case.reference}/attachments/",
        {
            "file": SimpleUploadedFile("a.pdf", b"%PDF-1.4 ok"),
            "kind": "document",
            "title": "Tenancy",
        },
    )
    assert response.status_code == 302
    record = Attachment.objects.get()
    download = client.get(f"/cases/{case.reference}/attachments/{record.pk}/")
    assert download.status_code == 200 and download.content == b"%PDF-1.4 ok"
