"""Haven in Arabic and in French, in a real browser with axe-core: a caseworker signs in,
chooses the language with the control every page carries, walks an intake and the case
page, and reveals the identity. Arabic pages run right to left; references and dates
stay readable. The screenshots land in test-artifacts/ (the Arabic case page is
``60-case-page-ar.png``)."""

from __future__ import annotations

import re

import pytest

from access.models import User
from access.roles import Role
from tests.browser.conftest import login, shot
from tests.browser.test_case_life_journey import Axe, axe_page  # noqa: F401  (fixture)
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

REFERENCE = re.compile(r"HV-[0-9A-Z]{4}-[0-9A-Z]{4}")

# What the caseworker reads and clicks, in each language (from the catalogues).
WORDS = {
    "ar": {
        "change": "تغيير",
        "new_intake": "استقبال جديد",
        "written": "كتابي",
        "risk": "مستوى الخطورة",
        "given_name": "الاسم الأول",
        "summary": "ملخص الرعاية",
        "open": "فتح الملف",
        "opened": "وأُسند إليك",
        "reveal": "كشف الهوية",
        "revealed": "سُجّل هذا الكشف",
        "name": "ليلى حداد",
        "text": "تحتاج إلى سكن آمن ومترجم في المواعيد الطبية.",
    },
    "fr": {
        "change": "Modifier",
        "new_intake": "Nouvel accueil",
        "written": "Écrit",
        "risk": "Niveau de risque",
        "given_name": "Prénom",
        "summary": "Résumé de l'accompagnement",
        "open": "Ouvrir le dossier",
        "opened": "Il vous est attribué",
        "reveal": "Révéler l'identité",
        "revealed": "Cette révélation a été enregistrée",
        "name": "Éloïse Nguyễn",
        "text": "Besoin d'un hébergement sûr et d'une interprète aux rendez-vous médicaux.",
    },
}


def _choose_language(page, code: str, change: str = "Change") -> None:
    """The control in the header: a labelled list and a button, no script needed."""
    page.locator("#language-choice").select_option(code)
    page.get_by_role("button", name=change, exact=True).first.click()
    page.wait_for_function(f"document.documentElement.lang === '{code}'")


@pytest.mark.parametrize("code", ["ar", "fr"])
def test_intake_and_case_page_in_the_staff_members_language(axe_page, code):  # noqa: F811
    words = WORDS[code]
    team = TeamFactory(slug="north")
    worker = UserFactory(username="samira", role=Role.CASEWORKER, team=team)
    page = axe_page("desktop")
    axe = Axe(page)
    login(page, worker)

    _choose_language(page, code)
    assert User.objects.get(pk=worker.pk).language == code  # kept for the next sign-in
    direction = "rtl" if code == "ar" else "ltr"
    assert page.evaluate("document.documentElement.dir") == direction
    assert page.evaluate("getComputedStyle(document.body).direction") == direction

    page.get_by_role("link", name=words["new_intake"]).click()
    page.get_by_label(words["written"], exact=True).check()
    page.get_by_label(words["risk"]).select_option("high")
    page.get_by_role("textbox", name=words["given_name"]).fill(words["name"])
    page.get_by_label(words["summary"]).fill(words["text"])
    axe.check(f"intake ({code})")
    shot(page, f"60-intake-{code}")
    page.get_by_role("button", name=words["open"]).click()

    page.get_by_text(words["opened"]).wait_for()
    heading = page.get_by_role("heading", level=1)
    reference = REFERENCE.search(heading.inner_text())
    assert reference is not None
    # The reference keeps its left-to-right order inside right-to-left text.
    assert page.locator("h1 .ref").evaluate("e => getComputedStyle(e).direction") == "ltr"
    assert words["text"] in page.content()
    axe.check(f"case page ({code})")
    shot(page, f"60-case-page-{code}")

    page.get_by_role("button", name=words["reveal"]).click()
    page.get_by_text(words["revealed"]).wait_for()
    assert words["name"] in page.content()
    axe.check(f"identity ({code})")
    assert axe.found == [], "\n".join(axe.found)


def test_before_sign_in_the_browser_language_decides(browser, live_server):
    """AS9-STO-5 pages are read before sign-in too: the sign-in page follows the
    browser's Accept-Language, and the control there changes it without signing in."""
    context = browser.new_context(base_url=live_server.url, locale="ar")
    page = context.new_page()
    page.goto("/login/")
    assert page.evaluate("document.documentElement.lang") == "ar"
    page.get_by_role("heading", name="تسجيل الدخول").wait_for()
    _choose_language(page, "ru", change="تغيير")
    page.get_by_role("heading", name="Войти").wait_for()
    assert page.evaluate("document.documentElement.dir") == "ltr"
    context.close()
