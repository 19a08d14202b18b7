"""The referral letter prints every script: names, notes and the recipient in Arabic,
Thai, Chinese, Cyrillic and Vietnamese, and Latin text with characters beyond Latin-1.
Checked from outside the project: poppler extracts the text of the encrypted PDF with
the passphrase and qpdf checks its structure and AES-256 encryption. AS9-TRF-3,
AS9-TRF-6."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import unicodedata
from collections import Counter

import pytest
from django.utils import timezone

from access.services import grant_assign
from cases import letter
from cases.models import Consent
from cases.services import consent_record, organisation_add, referral_export
from tests.factories import add_encounter, open_case

pytestmark = pytest.mark.django_db

SCRIPTS = {
    "arabic": ("فاطمة", "الزهراء", "تحتاج إلى متابعة طبية بعد الخروج من المستشفى"),
    "thai": ("สมชาย", "ใจดี", "ต้องการล่ามภาษาไทยในการนัดครั้งต่อไป"),
    "chinese": ("小明", "王", "需要安排下周的医疗复诊和住房支持"),
    "cyrillic": ("Александра", "Петрова", "Нужна помощь с жильём и переводчиком"),
    "vietnamese": ("Thị Minh", "Nguyễn", "Cần hỗ trợ pháp lý và chỗ ở an toàn"),
    "latin": ("Łucja", "Ødegård–Šimić", "Met at the “Łódź” shelter – fee €40, naïve café"),
}
RECIPIENTS = {
    "arabic": "مستشفى الأمل",
    "thai": "คลินิกรุ่งอรุณ",
    "chinese": "黎明诊所",
    "cyrillic": "Клиника «Рассвет»",
    "vietnamese": "Phòng khám Bình Minh",
    "latin": "Clínica São João – Łódź",
}
_INVISIBLE = {
    0x200E,
    0x200F,
    0x202A,
    0x202B,
    0x202C,
    0x202D,
    0x202E,
    0x2066,
    0x2067,
    0x2068,
    0x2069,
}


def _canonical(text: str) -> str:
    """What text comparison can rely on after extraction: NFKC (Arabic presentation
    forms back to letters), no whitespace, no bidi marks."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if not ch.isspace() and ord(ch) not in _INVISIBLE)


def _bases(text: str) -> str:
    """The text without combining marks. poppler orders a stacked mark by its position
    on the page, so Thai "ครั้ง" (tone mark over the second letter) can come out as
    "ครัง้": every letter is there, in order, and the mark is there too, one place on."""
    return "".join(ch for ch in _canonical(text) if unicodedata.category(ch) != "Mn")


def _marks(text: str) -> Counter[str]:
    return Counter(ch for ch in _canonical(text) if unicodedata.category(ch) == "Mn")


def _contains(found: str, expected: str) -> bool:
    return _bases(expected) in _bases(found) and not _marks(expected) - _marks(found)


def _tools() -> tuple[str, str]:
    pdftotext, qpdf = shutil.which("pdftotext"), shutil.which("qpdf")
    if pdftotext is None or qpdf is None:
        if os.environ.get("HAVEN_REQUIRE_PDF_TOOLS"):
            pytest.fail("qpdf and poppler-utils are needed (apt-get install qpdf poppler-utils)")
        pytest.skip("qpdf or poppler-utils not installed")
    return pdftotext, qpdf


def _letter(caseworker, clinician, supervisor, script: str, settings) -> tuple[bytes, str]:
    settings.HAVEN_ORGANISATION_NAME = "Safe Harbour NGO"
    settings.HAVEN_ORGANISATION_CONTACT = "12 Quay Street, Bristol\n+44 117 496 0000"
    given, family, text = SCRIPTS[script]
    organisation_add(actor=supervisor, name=RECIPIENTS[script], slug=f"clinic-{script}")
    case = open_case(
        caseworker,
        identity={"given_name": given, "family_name": family, "phone": "+44 7700 900123"},
        summary=f"{text}. " + "Averyveryverylongwordwithoutanyspaceatall" * 4,
    )
    grant_assign(case=case, user=clinician, granted_by=caseworker)
    add_encounter(
        clinician, case, kind="medical", notes=text, clinical={"conditions": [{"display": text}]}
    )
    consent_record(
        actor=caseworker,
        case=case,
        scope="referral",
        recipient_slug=f"clinic-{script}",
        purpose=text,
        identity=True,
        method="written",
        given_at=timezone.now() - dt.timedelta(hours=1),
    )
    referral, passphrase = referral_export(
        actor=clinician,
        case=case,
        recipient_slug=f"clinic-{script}",
        purpose=text,
        sections=["summary", "encounters", "clinical"],
        include_identity=True,
        fmt="pdf",
    )
    assert passphrase is not None
    return bytes(referral.package.content), passphrase


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_every_script_comes_back_out_of_the_encrypted_pdf(
    caseworker, clinician, supervisor, settings, tmp_path, script
):
    pdftotext, qpdf = _tools()
    package, passphrase = _letter(caseworker, clinician, supervisor, script, settings)
    path = tmp_path / "letter.pdf"
    path.write_bytes(package)
    check = subprocess.run(
        [qpdf, "--check", f"--password={passphrase}", str(path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    encryption = subprocess.run(
        [qpdf, "--show-encryption", f"--password={passphrase}", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "AESv3" in encryption  # AES-256 (PDF 2.0 / ISO 32000-2)
    locked = subprocess.run([pdftotext, str(path), "-"], capture_output=True, text=True)
    assert locked.returncode != 0  # nothing to read without the passphrase
    extracted = subprocess.run(
        [pdftotext, "-enc", "UTF-8", "-upw", passphrase, str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = _canonical(extracted)
    given, family, text = SCRIPTS[script]
    for expected in (given, family, text, RECIPIENTS[script]):
        assert _contains(extracted, expected), (script, expected, extracted[:800])
    assert "?" not in extracted.replace("?", "", text.count("?"))  # nothing replaced by "?"
    assert _canonical("Averyveryverylongwordwithoutanyspaceatall" * 4) in found  # wrapped
    assert "SafeHarbourNGO" in found and _canonical("+44 117 496 0000") in found  # letterhead


def test_every_page_is_marked_with_the_recipient_and_the_export(
    caseworker, clinician, supervisor, settings, tmp_path
):
    pdftotext, _ = _tools()
    package, passphrase = _letter(caseworker, clinician, supervisor, "arabic", settings)
    case = Consent.objects.get().case
    for n in range(30):  # enough encounters for several pages
        add_encounter(clinician, case, notes=f"Visit {n}: " + SCRIPTS["arabic"][2] * 3)
    referral, passphrase = referral_export(
        actor=clinician,
        case=case,
        recipient_slug="clinic-arabic",
        purpose=SCRIPTS["arabic"][2],
        sections=["encounters"],
        include_identity=False,
        fmt="pdf",
    )
    path = tmp_path / "long.pdf"
    path.write_bytes(bytes(referral.package.content))
    pages = subprocess.run(
        [pdftotext, "-enc", "UTF-8", "-upw", passphrase, str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\f")
    pages = [page for page in pages if page.strip()]
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        text = _canonical(page)
        assert _contains(page, RECIPIENTS["arabic"]), number
        assert str(referral.id).replace("-", "") in text.replace("-", ""), number
        assert f"page{number}of{len(pages)}" in text, number


@pytest.mark.parametrize(
    "paragraph",
    [
        # Arabic: many words, right to left, over several lines
        " ".join([SCRIPTS["arabic"][0], SCRIPTS["arabic"][1]] + [SCRIPTS["arabic"][2]] * 7),
        # Thai: written without spaces, so one "word" longer than a line
        SCRIPTS["thai"][2] * 8,
        # mixed scripts in one paragraph
        " ".join(
            f"{SCRIPTS['arabic'][0]} {SCRIPTS['thai'][0]} Мария 玛丽亚 {n}" for n in range(12)
        ),
    ],
    ids=["arabic", "thai", "mixed"],
)
def test_long_shaped_paragraphs_wrap_inside_the_margins_in_reading_order(tmp_path, paragraph):
    """Haven breaks shaped lines itself (fpdf2's breaking is quadratic with shaping):
    every character comes back out, in order, and no word crosses the margins."""
    pdftotext, _ = _tools()
    document = letter.pdf_letter(
        [letter.Block("title", "Copy"), letter.Block("text", paragraph)],
        mark="HV-TEST",
        title="test",
        passphrase="words for the test",
    )
    path = tmp_path / "wrapped.pdf"
    path.write_bytes(document)
    extracted = subprocess.run(
        [pdftotext, "-enc", "UTF-8", "-upw", "words for the test", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    body = extracted.split(_canonical("Copy"), 1)[-1]
    lines = [line for line in body.splitlines() if line.strip() and "HV-TEST" not in line]
    assert len(lines) >= 3  # it did wrap
    if not letter.is_rtl(paragraph):  # poppler gives RTL lines in its own order
        assert _contains("".join(lines), paragraph)
    else:
        assert all(_contains(extracted, line) for line in paragraph.split(" ") if line)
    boxes = subprocess.run(
        [pdftotext, "-bbox", "-upw", "words for the test", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    page_width = 595.28
    margin = 20 / 25.4 * 72
    for left, right in re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"', boxes):
        assert float(left) >= margin - 2 and float(right) <= page_width - margin + 2
